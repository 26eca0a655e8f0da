"""The Ray engine: the same scan on Ray Data, for clusters (``pip install .[ray]``).

Items go into a dataset ``WINDOW`` at a time; ``map_batches`` runs :class:`ScanActor` on an
actor pool (one detector per actor, loaded once) and each output batch is written by this
driver as one part file through :mod:`synthcheck.scan.writer`, so resume, merge and the output
files are exactly those of the local engine. Every node must see the scanned paths (a shared
file system) and have SynthCheck installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Any

from .score import DetectorSpec, score_items, start_worker
from .sources import ScanItem

WINDOW = 100_000  # items handed to Ray at once: bounds the driver's memory


class ScanActor:
    """Ray Data callable class: holds one detector, turns a batch of items into results rows."""

    def __init__(self, spec: DetectorSpec) -> None:
        self.detector, self.options = start_worker(spec)

    def __call__(self, batch: Any) -> Any:
        from .writer import to_table

        items = [ScanItem(**row) for row in batch.to_pylist()]
        return to_table(score_items(items, self.detector, self.options))


def _connect(address: str | None, workers: int) -> None:
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address)
    else:
        ray.init(num_cpus=workers, include_dashboard=False)


def run_ray(items: Iterable[ScanItem], spec: DetectorSpec, workers: int, chunk_size: int,
            next_part: Callable[[], Path], commit: Callable[[list[dict[str, Any]], Path], None],
            address: str | None = None) -> None:
    """Score ``items`` on Ray (``address``: an existing cluster, ``auto``, or None for a local
    Ray with ``workers`` CPUs); ``commit(rows, part)`` writes each output batch as one part."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("the Ray engine needs Ray: pip install 'synthcheck[ray]'.") from exc
    _connect(address, workers)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    it: Iterator[ScanItem] = iter(items)
    while window := list(islice(it, WINDOW)):
        ds = ray.data.from_items([asdict(i) for i in window])
        scored = ds.map_batches(ScanActor, fn_constructor_kwargs={"spec": spec},
                                batch_size=chunk_size, batch_format="pyarrow",
                                concurrency=workers, num_cpus=spec.threads)
        for table in scored.iter_batches(batch_size=chunk_size, batch_format="pyarrow"):
            commit(table.to_pylist(), next_part())
