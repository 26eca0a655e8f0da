"""A scan running in a background thread, for the dashboard: start it, poll its progress.

One :class:`ScanJob` per (folder, model, settings); its results file lives under
``synthcheck_home()/scans/`` and is named after them, so scanning the same folder again resumes
(only new or changed files are scored) and every session sees the same job.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import DetectorSpec, ScanSummary, scan


def results_path_for(folder: Path, spec: DetectorSpec) -> Path:
    """The results file of ``folder`` scanned with ``spec`` (stable across restarts)."""
    from ..home import synthcheck_home

    ident = json.dumps([str(folder), spec.checkpoint, spec.backend, spec.threshold,
                        sorted(spec.options.items())], default=str)
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return synthcheck_home() / "scans" / f"{folder.name or 'root'}-{digest}.parquet"


@dataclass
class ScanJob:
    """One background scan; read ``done``/``total``/``summary``/``error`` while it runs."""

    folder: Path
    spec: DetectorSpec
    out: Path
    workers: int | None = None
    done: int = 0
    total: int | None = None
    summary: ScanSummary | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> ScanJob:
        self._thread = threading.Thread(target=self._run, daemon=True, name="synthcheck-scan")
        self._thread.start()
        return self

    def _progress(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total

    def _run(self) -> None:
        try:
            self.summary = scan([self.folder], self.out, spec=self.spec, workers=self.workers,
                                show_progress=False, progress=self._progress)
            self.done = self.summary.counts["n_images"]
        except Exception as exc:  # shown on the page as one sentence
            self.error = str(exc) or type(exc).__name__

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def status(self) -> dict[str, Any]:
        """Progress in numbers: done, total, rate (images/s) and seconds left (None: unknown)."""
        elapsed = max(1e-6, time.time() - self.started)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if self.total and rate > 0 else None
        return {"done": self.done, "total": self.total, "rate": rate, "eta_s": left}
