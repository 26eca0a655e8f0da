"""Micro-batching: concurrent requests share one model call.

Each request hands its images to :meth:`MicroBatcher.submit` and awaits its verdicts. A single
worker task takes everything queued, waits up to ``max_wait_ms`` for more *only while other
requests are known to be on their way* (``arriving`` > 0, counted by the upload middleware),
and runs one ``predict`` call in a dedicated thread so the event loop keeps accepting
uploads. A lone client therefore pays no batching delay; many clients get large batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PredictFn = Callable[[np.ndarray, Sequence[tuple[int, int]]], list[Any]]


@dataclass
class _Job:
    arrays: np.ndarray  # (k, S, S, 3) uint8
    sizes: list[tuple[int, int]]
    future: asyncio.Future = field(repr=False)


@dataclass
class BatcherStats:
    batches: int = 0
    images: int = 0
    requests: int = 0
    largest_batch: int = 0
    model_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        mean = self.images / self.batches if self.batches else 0.0
        return {"batches": self.batches, "images": self.images, "requests": self.requests,
                "largest_batch": self.largest_batch, "mean_batch": round(mean, 2),
                "model_seconds": round(self.model_seconds, 3)}


class MicroBatcher:
    """Collects :meth:`submit` calls from many coroutines into batched ``predict_fn`` calls."""

    def __init__(self, predict_fn: PredictFn, max_batch: int = 64, max_wait_ms: float = 3.0) -> None:
        self.predict_fn = predict_fn
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.arriving = 0  # requests received but not yet submitted (see UploadGuard)
        self.stats = BatcherStats()
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._wakeup: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._wakeup = asyncio.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="synthcheck-model")
        self._task = asyncio.create_task(self._worker(), name="synthcheck-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._queue is not None:  # fail whoever is still waiting
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if not job.future.done():
                    job.future.set_exception(RuntimeError("server is shutting down"))
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._task = self._queue = self._pool = None

    async def submit(self, arrays: np.ndarray, sizes: Sequence[tuple[int, int]]) -> list[Any]:
        """Verdicts for ``arrays`` (k, S, S, 3 uint8), computed in some shared batch."""
        if self._queue is None:
            raise RuntimeError("batcher is not running")
        if len(arrays) == 0:
            return []
        fut = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(arrays, list(sizes), fut))
        self._wakeup.set()
        return await fut

    async def _collect(self) -> list[_Job]:
        assert self._queue is not None
        jobs = [await self._queue.get()]
        n = len(jobs[0].arrays)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while n < self.max_batch:
            if not self._queue.empty():
                job = self._queue.get_nowait()
            elif self.arriving > 0 and (left := deadline - loop.time()) > 0:
                # more uploads are in flight: wait (bounded) for the next one to be queued
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), left)
                continue
            else:
                break
            jobs.append(job)
            n += len(job.arrays)
        return jobs

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            jobs = [j for j in jobs if not j.future.cancelled()]
            if not jobs:
                continue
            arrays = np.concatenate([j.arrays for j in jobs])
            sizes = [s for j in jobs for s in j.sizes]
            t0 = time.perf_counter()
            try:
                verdicts = await loop.run_in_executor(self._pool, self.predict_fn, arrays, sizes)
            except Exception as exc:  # a model failure fails this batch, not the server
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(exc)
                continue
            st = self.stats
            st.model_seconds += time.perf_counter() - t0
            st.batches += 1
            st.images += len(arrays)
            st.requests += len(jobs)
            st.largest_batch = max(st.largest_batch, len(arrays))
            i = 0
            for j in jobs:
                k = len(j.arrays)
                if not j.future.done():
                    j.future.set_result(verdicts[i:i + k])
                i += k
