"""Progress of long work on stderr: a tqdm bar when stderr is a terminal, else nothing.

Stdout stays what the command prints (JSON with ``--json``), and a pipe or a test sees no bar.
One object serves both callback shapes of the package: ``progress(n_done)`` (analysis, reports)
and ``progress(done, total)`` (cases).
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (False for pipes, files and closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _width(stream: TextIO) -> int:
    """The terminal's width in columns (0 when unknown: a pseudo-terminal nobody sized)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return 0


class Progress:
    """Counts done out of ``total`` on a tqdm bar on ``stream`` (default stderr) when it is a
    terminal. ``final_line`` also prints ``desc: done/total`` once, at the end, when it is not
    (for logs of commands that always said how far they got)."""

    def __init__(self, desc: str, total: int | None = None, *, unit: str = "image",
                 stream: TextIO | None = None, final_line: bool = False) -> None:
        self.desc, self.total, self.done = desc, total, 0
        self.called = False
        self.stream = stream or sys.stderr
        self.final_line = final_line
        self._bar: Any = None
        if is_terminal(self.stream):
            from tqdm import tqdm

            sized = _width(self.stream) >= 20  # else tqdm would draw a bar 0 columns wide
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream,
                             ncols=None if sized else 80, nrows=None if sized else 24)

    def __call__(self, done: int, total: int | None = None) -> None:
        """Set the count (absolute, as the package's callbacks give it) and, if given, the total."""
        self.done, self.called = done, True
        if total is not None:
            self.total = total
        if self._bar is not None:
            if total is not None and self._bar.total != total:
                self._bar.total = total
                self._bar.refresh()
            self._bar.update(done - self._bar.n)

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print a line (stdout by default) without breaking the bar."""
        if self._bar is not None:
            self._bar.write(line, file=file or sys.stdout)
        else:
            print(line, file=file or sys.stdout, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.final_line and self.called:
            count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
            print(f"{self.desc}: {count}", file=self.stream, flush=True)
            self.final_line = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
