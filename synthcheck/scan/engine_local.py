"""The local engine: worker processes on this machine, each holding its own detector.

Workers start with ``forkserver`` (``spawn`` where there is none), never ``fork``: the parent
may already hold torch or ONNX Runtime threads. Each worker decodes and scores its chunks (one
intra-op thread each: the workers are the parallelism) and sends the rows back; the parent walks
the sources and writes each chunk's part file (so no worker pays pyarrow's start-up). At most
``2 x workers`` chunks are in flight: memory does not grow with the number of inputs. A worker
whose parent died (``kill -9``) exits on its own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: this module is light, the fork server preloads it
    from .sources import ScanItem
    from .spec import DetectorSpec

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
    from .score import start_worker

    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _WORKER["detector"], _WORKER["options"] = start_worker(spec)


def _run_chunk(items: list[ScanItem]) -> list[dict[str, Any]]:
    from .score import score_items

    return score_items(items, _WORKER["detector"], _WORKER["options"])


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# imported once in the fork server, so each worker starts with them: pure Python on numpy and
# Pillow (no module that starts threads at import: ONNX Runtime loads per worker, pyarrow only
# in the parent)
PRELOAD = ("synthcheck.analysis", "synthcheck.inference.onnx_backend", "synthcheck.scan.writer")


def _context() -> mp.context.BaseContext:
    """``forkserver`` preloading this module and :data:`PRELOAD`, not ``__main__``; ``spawn``
    where there is no fork server. Each worker is still prepared from the caller's main module
    (multiprocessing re-imports a main script by path, never a ``package.__main__``): a caller
    whose main is a script that must not run again, such as a Streamlit page, scans in a child
    process instead (:mod:`synthcheck.scan.background`)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, *PRELOAD])
    return ctx


def start_fork_server() -> None:
    """Start the workers' fork server now (it imports :data:`PRELOAD` while the caller goes on
    loading its own modules); a no-op where there is none or it already runs."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def run_local(chunks: Iterable[tuple[list[ScanItem], Path]], spec: DetectorSpec, workers: int,
              commit: Callable[[list[dict[str, Any]], Path], None]) -> None:
    """Score every chunk (its items, its part path) on ``workers`` processes; ``commit(rows,
    part)`` writes each chunk's rows here, as it comes back."""
    inflight: dict[Future, Path] = {}

    def drain(limit: int) -> None:
        while len(inflight) > limit:
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                commit(fut.result(), inflight.pop(fut))

    try:
        with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker,
                                 initargs=(spec, os.getpid())) as pool:
            for items, part in chunks:
                inflight[pool.submit(_run_chunk, items)] = part
                drain(2 * workers - 1)
            drain(0)
    except BrokenProcessPool as exc:
        raise RuntimeError("a worker process stopped unexpectedly; run the same command again "
                           "to resume where it left off.") from exc
