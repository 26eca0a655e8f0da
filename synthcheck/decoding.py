"""Open many inputs at once, each within a time limit: a small pool of daemon decode threads.

Pillow releases the GIL while it decodes, so two threads decode about twice as fast as one on
two cores, and a reused thread costs nothing per input (a fresh thread per input cost
0.2-0.6 ms, more than decoding a 32x32 JPEG). A decode that runs past its limit is reported as
that input's error and abandoned with its thread (daemon: it cannot block the interpreter's
exit); the pool is then replaced, and inputs not yet started move to the new one.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .imageio import ImageError, ImageSource, LoadedImage, display_name, load_image

DECODE_TIMEOUT_S = float(os.environ.get("SYNTHCHECK_DECODE_TIMEOUT", 30))
DECODE_THREADS = max(1, int(os.environ.get("SYNTHCHECK_DECODE_THREADS", min(2, os.cpu_count() or 1))))
LOOKAHEAD = 32  # inputs submitted ahead of the one being waited for


@dataclass
class _Job:
    source: Any
    name: str | None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    claimed: bool = False
    result: LoadedImage | None = None
    error: BaseException | None = None

    def claim(self) -> bool:
        with self.lock:
            if self.claimed:
                return False
            self.claimed = True
            return True


class DecodePool:
    """Daemon threads running :func:`load_image` on submitted inputs."""

    def __init__(self, workers: int = DECODE_THREADS) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.retired = False
        for i in range(workers):
            threading.Thread(target=self._run, daemon=True, name=f"synthcheck-decode-{i}").start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if not job.claim():
                continue
            try:
                if isinstance(job.source, LoadedImage):  # already decoded: passed through
                    job.result = job.source
                else:
                    job.result = load_image(job.source, name=job.name) if job.name is not None else \
                        load_image(job.source)
            except BaseException as exc:  # handed to the waiting thread
                job.error = exc
            finally:
                job.done.set()

    def submit(self, job: _Job) -> None:
        self._queue.put(job)

    def retire(self, workers: int) -> None:
        """Stop taking work: live threads exit once idle (a stuck one stays stuck)."""
        self.retired = True
        for _ in range(workers):
            self._queue.put(None)


_POOL: DecodePool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> DecodePool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.retired:
            _POOL = DecodePool()
        return _POOL


def _replace_pool(pending: Iterable[_Job]) -> None:
    """After a timeout: retire the pool and move the jobs no thread has started to a new one."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.retire(DECODE_THREADS)
        _POOL = DecodePool()
        fresh = _POOL
    for job in pending:
        if not job.claimed:
            fresh.submit(job)


def _shown(job: _Job) -> str:
    if job.name:
        return job.name
    return display_name(job.source) if isinstance(job.source, (str, os.PathLike)) else "<input>"


def _outcome(job: _Job, timeout_s: float, pending: Iterable[_Job] = ()) -> LoadedImage:
    if not job.done.wait(timeout_s):
        _replace_pool([j for j in pending if j is not job])
        raise ImageError(f"{_shown(job)}: took longer than {timeout_s:g} s to open; skipped.")
    err = job.error
    if isinstance(err, (ImageError, KeyboardInterrupt, SystemExit)):
        raise err
    if err is not None:  # a bug in a decoder must not stop the other inputs
        raise ImageError(f"{_shown(job)}: could not be opened ({type(err).__name__}).") from err
    assert job.result is not None
    return job.result


def load_with_timeout(source: ImageSource, timeout_s: float = DECODE_TIMEOUT_S,
                      name: str | None = None) -> LoadedImage:
    """:func:`load_image` on the decode pool, abandoned (and reported) after ``timeout_s``.

    Whatever goes wrong opening the input is raised as its :class:`ImageError`; only
    ``KeyboardInterrupt`` and ``SystemExit`` pass through as themselves.
    """
    job = _Job(source, name)
    _pool().submit(job)
    return _outcome(job, timeout_s)


def load_many(items: Iterable[tuple[ImageSource, str | None]], timeout_s: float = DECODE_TIMEOUT_S
              ) -> Iterator[LoadedImage | ImageError]:
    """Open (source, name) inputs in order, a few ahead on the decode pool; yields each input's
    :class:`LoadedImage`, or its :class:`ImageError`, never raising for one input."""
    window: deque[_Job] = deque()
    it = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(window) < LOOKAHEAD:
            try:
                source, name = next(it)
            except StopIteration:
                exhausted = True
                break
            job = _Job(source, name)
            _pool().submit(job)
            window.append(job)
        if not window:
            return
        job = window.popleft()
        try:
            yield _outcome(job, timeout_s, window)
        except ImageError as exc:
            yield exc
