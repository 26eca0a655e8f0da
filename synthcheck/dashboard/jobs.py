"""The dashboard's background folder scans: one registry shared by every session.

A scan is keyed by its results file (folder, model and settings), so two sessions asking for
the same scan share one job and a finished one is found again. Free of Streamlit: the module
holds the one registry of the process (:data:`REGISTRY`), unit-tested on its own.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..scan import DetectorSpec
from ..scan.background import ScanJob, results_path_for


class JobRegistry:
    """Background scans by results file; thread-safe."""

    def __init__(self) -> None:
        self._jobs: dict[Path, ScanJob] = {}
        self._lock = threading.Lock()

    def get(self, out: Path) -> ScanJob | None:
        """The job that writes ``out`` (running or finished), or None."""
        with self._lock:
            return self._jobs.get(out)

    def start(self, folder: Path, spec: DetectorSpec, *, workers: int | None = None) -> ScanJob:
        """The running scan of ``folder`` with ``spec``, started now unless one already runs."""
        out = results_path_for(folder, spec)
        with self._lock:
            job = self._jobs.get(out)
            if job is None or not job.running:
                job = self._jobs[out] = ScanJob(folder, spec, out, workers=workers).start()
            return job


REGISTRY = JobRegistry()
