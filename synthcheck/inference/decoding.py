"""Open many inputs at once, each within a time limit: a small pool of daemon decode threads.

Pillow releases the GIL while it decodes, so two threads decode about twice as fast as one on
two cores, and a reused thread costs nothing per input (a fresh thread per input cost
0.2-0.6 ms, more than decoding a 32x32 JPEG). A decode that runs past its limit is reported as
that input's error and abandoned with its thread (daemon: it cannot block the interpreter's
exit); the pool is then replaced, and inputs not yet started move to the new one.

``load_many(inline=True)`` (scan workers, where the processes are the parallelism) decodes
small files (:data:`INLINE_MAX_BYTES`, :data:`INLINE_MAX_PIXELS`) in the calling thread: for a
32x32 JPEG the hand-off to a thread cost more CPU than the decode. Their work is bounded by
those limits; anything the inline decode refuses goes to the pool, within the time limit.

Memory is bounded by decoded pixels, not by the number of inputs: :func:`load_many` keeps at
most ``LOOKAHEAD`` inputs ahead, and a decode thread starts one of them only while the results
decoded but not yet taken by the caller hold fewer than ``budget_px`` pixels (else the input
waits, and is decoded when the caller reaches it). So at most ``budget_px`` pixels plus one
image per decode thread are alive, whatever the number or size of the inputs. ``reduce`` (e.g.
:func:`analysis_view`) shrinks each image in the decode thread, right after it is decoded, to
what its analysis needs, so the full pixels live only while their thread works on them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from ..domain.inputs import analysis_copy
from ..imageio import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    ImageError,
    ImageSource,
    LoadedImage,
    display_name,
    load_image,
)

DECODE_TIMEOUT_S = float(os.environ.get("SYNTHCHECK_DECODE_TIMEOUT", 30))
DECODE_THREADS = max(1, int(os.environ.get("SYNTHCHECK_DECODE_THREADS", min(2, os.cpu_count() or 1))))
LOOKAHEAD = 32  # inputs submitted ahead of the one being waited for
# decoded pixels that may wait for the caller (one 64 Mpx photo, or thousands of small images)
HELD_PIXELS = int(os.environ.get("SYNTHCHECK_DECODE_HELD_PIXELS", 64_000_000))
# load_many(inline=True) decodes inputs this small in the calling thread: bounded work (a hostile
# progressive JPEG this small still decodes in well under a second), no thread hand-off
INLINE_MAX_BYTES = 64 * 1024
INLINE_MAX_PIXELS = 256 * 256


def held_pixels(obj: Any) -> int:
    """Decoded pixels ``obj`` keeps alive: a LoadedImage's image, an (H, W[, C]) array's H*W,
    summed over a tuple; 0 for anything else."""
    if isinstance(obj, LoadedImage):
        return obj.image.width * obj.image.height
    if isinstance(obj, np.ndarray):
        return int(obj.size // (obj.shape[-1] if obj.ndim == 3 else 1))
    if isinstance(obj, tuple):
        return sum(held_pixels(o) for o in obj)
    return 0


def analysis_view(loaded: LoadedImage, detector: Any) -> tuple[LoadedImage, np.ndarray]:
    """What an analysis without tiles or explanations needs of a decoded image, computed from
    the full pixels: the model's input (``detector.to_array``) and ``loaded`` whose ``image`` is
    only the domain check's copy (:func:`synthcheck.domain.inputs.analysis_copy`; width, height,
    hash, bytes and notes are the original's). Every result is the same as from the full image, for a fraction of the
    memory (a 40 Mpx photo: 120 MB -> 0.2 MB).

    No JPEG draft (DCT-domain) decoding: it changes the pixels of the model's view, and so
    ``p_fake``; memory is bounded by dropping the full image instead.
    """
    view = detector.to_array(loaded)
    return loaded.with_changes(image=analysis_copy(loaded.image)), view


class _Budget:
    """Decoded pixels of one :func:`load_many` call waiting for its caller."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0
        self.lock = threading.Lock()

    def full(self) -> bool:
        return self.held >= self.limit

    def add(self, n: int) -> None:
        with self.lock:
            self.held += n

    def take(self, n: int) -> None:
        with self.lock:
            self.held -= n


@dataclass
class _Job:
    source: Any
    name: str | None
    reduce: Callable[[LoadedImage], Any] | None = None
    budget: _Budget | None = None
    forced: bool = False  # the caller waits for it: decoded whatever the budget holds
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    claimed: bool = False
    deferred: bool = False  # not started: the budget was full
    abandoned: bool = False  # the caller gave up on it (timeout, or it stopped reading)
    result: Any = None
    pixels: int = 0
    error: BaseException | None = None
    fault: BaseException | None = None  # raised by ``reduce``: the caller's bug, passed as is

    def claim(self) -> bool:
        with self.lock:
            if self.claimed:
                return False
            self.claimed = True
            return True

    def abandon(self) -> None:
        """The caller will not take the result: not started -> never started; done -> uncounted."""
        with self.lock:
            self.abandoned = self.claimed = True
            if self.budget is not None and self.pixels:
                self.budget.take(self.pixels)
                self.pixels = 0

    def finish(self, result: Any) -> None:
        """Store the result and count its pixels against the budget (unless abandoned)."""
        with self.lock:
            self.result = result
            if self.budget is not None and not self.abandoned:
                self.pixels = held_pixels(result)
                self.budget.add(self.pixels)


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
            self._work(job)
            del job  # an idle thread must not keep the last result alive

    @staticmethod
    def _work(job: _Job) -> None:
        if not job.claim():
            return
        if job.budget is not None and not job.forced and job.budget.full():
            job.deferred = True  # started later, when the caller has taken what is held
            job.done.set()
            return
        try:
            if isinstance(job.source, LoadedImage):  # already decoded: passed through
                loaded = job.source
            else:
                loaded = load_image(job.source, name=job.name) if job.name is not None else \
                    load_image(job.source)
        except BaseException as exc:  # handed to the waiting thread
            job.error = exc
            job.done.set()
            return
        try:
            job.finish(job.reduce(loaded) if job.reduce is not None else loaded)
        except BaseException as exc:
            job.fault = exc
        finally:
            del loaded  # with ``reduce``, the full pixels go here, in the decode thread
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


def _outcome(job: _Job, timeout_s: float, pending: Iterable[_Job] = (),
             wait_s: float | None = None) -> Any:
    """The job's result once done; past ``wait_s`` more seconds (default ``timeout_s``) it is
    abandoned, the pool replaced, and its :class:`ImageError` raised."""
    if not job.done.wait(timeout_s if wait_s is None else wait_s):
        job.abandon()
        _replace_pool([j for j in pending if j is not job])
        raise ImageError(f"{_shown(job)}: took longer than {timeout_s:g} s to open; skipped.")
    if job.fault is not None:
        raise job.fault
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


_DONE = threading.Event()  # every inline job is finished when made: one set event serves them all
_DONE.set()
_INLINE_LOCK = threading.Lock()  # ... and one lock (their critical sections are tiny)


def _inline(source: Any, name: str | None, reduce: Callable[[LoadedImage], Any] | None,
            budget: _Budget) -> _Job | None:
    """A finished job for a small file or bytes decoded here, in the caller's thread; None when
    the inline limits (or anything else) refuse it: the pool then decodes it as usual."""
    if not isinstance(source, (str, bytes, os.PathLike)):
        return None  # streams cannot be read twice; images and arrays go the usual way
    try:
        loaded = load_image(source, name=name, max_pixels=min(INLINE_MAX_PIXELS, DEFAULT_MAX_PIXELS),
                            max_bytes=min(INLINE_MAX_BYTES, DEFAULT_MAX_BYTES))
    except ImageError:
        return None
    job = _Job(source, name, reduce, budget, claimed=True, done=_DONE, lock=_INLINE_LOCK)
    try:
        job.finish(reduce(loaded) if reduce is not None else loaded)
    except BaseException as exc:
        job.fault = exc
    return job


def load_many(items: Iterable[tuple[ImageSource, str | None]], timeout_s: float = DECODE_TIMEOUT_S,
              *, reduce: Callable[[LoadedImage], Any] | None = None,
              budget_px: int = HELD_PIXELS, inline: bool = False) -> Iterator[Any]:
    """Open (source, name) inputs in order, a few ahead on the decode pool; yields each input's
    :class:`LoadedImage` (or what ``reduce`` made of it in the decode thread), or its
    :class:`ImageError`, never raising for one input.

    At most ``LOOKAHEAD`` inputs are ahead, and their decoding starts only while the results not
    yet taken hold fewer than ``budget_px`` pixels (:func:`held_pixels`); the input the caller
    waits for is always decoded. An exception raised by ``reduce`` is the caller's bug and is
    raised as is. Inputs still ahead when the caller stops reading are never decoded.
    ``inline`` decodes small files in this thread (see the module docstring).
    """
    budget = _Budget(budget_px)
    window: deque[_Job] = deque()
    it = iter(items)
    exhausted = False

    def submit(source: Any, name: str | None, forced: bool = False) -> _Job:
        job = _Job(source, name, reduce, budget, forced)
        _pool().submit(job)
        return job

    def start(source: Any, name: str | None) -> _Job:
        return (inline and _inline(source, name, reduce, budget)) or submit(source, name)

    try:
        while True:
            for i in range(len(window)):  # inputs put off while the budget was full
                if window[i].deferred and not budget.full():
                    window[i] = submit(window[i].source, window[i].name)
            while not exhausted and len(window) < LOOKAHEAD and (not window or not budget.full()):
                try:
                    source, name = next(it)
                except StopIteration:
                    exhausted = True
                    break
                window.append(start(source, name))
            if not window:
                return
            head = window.popleft()
            wait_s = 0.0  # the time limit is spent waiting here, once
            if head.done.wait(timeout_s) and head.deferred:  # never started: decode it now
                head, wait_s = submit(head.source, head.name, forced=True), timeout_s
            try:
                out = _outcome(head, timeout_s, window, wait_s)
            except ImageError as exc:
                out = exc
            budget.take(head.pixels)
            head.pixels, head.result = 0, None
            yield out
            del out
    finally:
        for job in window:
            job.abandon()


def decode_for_analysis(data: bytes, name: str, max_pixels: int, max_bytes: int,
                        input_size: int) -> tuple[LoadedImage, np.ndarray]:
    """:func:`load_image` then :func:`analysis_view` for a model of ``input_size`` (what
    ``BaseDetector.to_array`` does), for a worker *process*: the full pixels never reach the
    caller, and the worker hands their memory back at once. ``raw`` is left out (the caller has
    the bytes)."""
    from ..imageio import to_model_array

    loaded = load_image(data, name=name, max_pixels=max_pixels, max_bytes=max_bytes)
    view = to_model_array(loaded.image, input_size)
    small = loaded.with_changes(image=analysis_copy(loaded.image), raw=None)
    del loaded
    release_memory()
    return small, view


# glibc keeps the memory of freed large blocks in its arenas (it raises its mmap threshold after
# the first big free), so a server that decoded a few 40 Mpx uploads stayed gigabytes large.
# ``malloc_trim(0)`` returns the free pages of every arena (about a millisecond); it is called only
# after heavy decodes, in the worker that decoded. Elsewhere (musl, macOS, Windows) it does nothing.
@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_memory() -> bool:
    """Return the allocator's free pages to the system; True where that is possible (glibc)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
