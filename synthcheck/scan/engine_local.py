"""The local engine: worker processes on this machine, each holding its own detector.

Workers start with ``forkserver`` (``spawn`` where there is none), never ``fork``: the parent
may already hold torch or ONNX Runtime threads. Each worker decodes, scores and writes its own
part file (one intra-op thread each: the workers are the parallelism), so the parent only walks
the sources and counts. At most ``2 x workers`` chunks are in flight: memory does not grow with
the number of inputs. A worker whose parent died (``kill -9``) exits on its own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .score import DetectorSpec, analysis_options, limit_threads, load_worker_detector, score_items
from .sources import ScanItem

_WORKER: dict[str, Any] = {}


def _watch_parent(parent: int) -> None:
    """Exit once the scanning process is gone (its pid, not our parent: that is the fork server)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid was reused by another user's process
            os._exit(1)


def _init_worker(spec: DetectorSpec, parent: int) -> None:
    limit_threads(spec.threads)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _WORKER["detector"] = load_worker_detector(spec)
    _WORKER["options"] = analysis_options(spec)


def _run_chunk(items: list[ScanItem], part: str, fmt: str) -> tuple[int, dict[str, int]]:
    from ..analysis import summarize
    from .writer import write_rows

    rows = score_items(items, _WORKER["detector"], _WORKER["options"])
    write_rows(rows, part, fmt)
    return len(rows), summarize(rows)


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _context() -> mp.context.BaseContext:
    """``forkserver`` preloading only this light module, not ``__main__`` (a Streamlit page or a
    test runner must not be re-imported); ``spawn`` where there is no fork server."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


def run_local(chunks: Iterable[tuple[list[ScanItem], Path]], spec: DetectorSpec, fmt: str,
              workers: int, on_done: Callable[[int, dict[str, int]], None]) -> None:
    """Score and write every chunk (its items, its part path) on ``workers`` processes."""
    inflight: deque[Future] = deque()

    def drain(limit: int) -> None:
        while len(inflight) > limit:
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                inflight.remove(fut)
                on_done(*fut.result())

    try:
        with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker,
                                 initargs=(spec, os.getpid())) as pool:
            for items, part in chunks:
                inflight.append(pool.submit(_run_chunk, items, str(part), fmt))
                drain(2 * workers - 1)
            drain(0)
    except BrokenProcessPool as exc:
        raise RuntimeError("a worker process stopped unexpectedly; run the same command again "
                           "to resume where it left off.") from exc
