"""Heavy decodes of the API: a few at a time, in worker processes, off the event loop.

A small upload can decode to a huge image (a 150 KB RGBA PNG of 30 Mpx, a 65 KB WebP of
36 Mpx). Parts of such a decode hold the GIL for hundreds of milliseconds (Pillow's WebP decode,
``getextrema``), so in a thread they still stalled every other request; in a process they
cannot, and the memory they take is handed back by that process. ``slots`` bounds the heavy
decodes of all requests together (``Settings.heavy_decodes``); the others wait their turn.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import numpy as np

from ..imageio import ImageError, LoadedImage
from ..inference.decoding import decode_for_analysis


class HeavyDecoder:
    """``slots`` plus ``workers`` decoder processes (started on first use, replaced if one dies)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.slots = asyncio.Semaphore(workers)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # spawn: the server has threads, so no fork
            self._pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"))
        return self._pool

    async def decode(self, data: bytes, name: str, *, max_pixels: int, max_bytes: int,
                     input_size: int) -> tuple[LoadedImage, np.ndarray]:
        """(loaded reduced to what an analysis needs, model input), decoded in a worker process;
        call it holding one of ``slots``. A worker that dies is this upload's error."""
        future = self._executor().submit(decode_for_analysis, data, name, max_pixels, max_bytes,
                                         input_size)
        try:
            loaded, view = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self.close()
            raise ImageError(f"{name}: the decoder stopped while opening this image "
                             "(out of memory?); refused.") from exc
        return replace(loaded, raw=data), view

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
