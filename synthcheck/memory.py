"""Give freed memory back to the system after a large decode (glibc keeps it otherwise).

glibc's allocator keeps the memory of freed large blocks in its arenas for reuse (it raises its
mmap threshold after the first big free), so a server that decoded a few 40 Mpx uploads stayed
gigabytes large long after. ``malloc_trim(0)`` returns the free pages of every arena; it costs
about a millisecond and is called only after heavy decodes, in the worker that decoded. Elsewhere
(musl, macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


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
