"""A scan running beside the dashboard: start it, poll its progress.

One :class:`ScanJob` per (folder, model, settings); its results file lives under
``synthcheck_home()/scans/`` and is named after them, so scanning the same folder again resumes
(only new or changed files are scored) and every session sees the same job.

The scan runs as ``python -m synthcheck scan --progress-jsonl`` in a child process: the same
program, speed and workers as the command line. Run in the dashboard's own process, its worker
processes would start from the dashboard's ``__main__``, the Streamlit page script, and
re-import it (multiprocessing prepares each worker from the parent's main module), paying the
dashboard's imports and warnings per worker; the command line's main module is
``synthcheck.__main__``, which workers never re-import. The child also keeps the scan's
writing off the dashboard's interpreter lock. Its inputs are counted here at once, so the
total shows before the child has started.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import DetectorSpec, summary_path

DASHBOARD_CHUNK = 128  # inputs per worker task: progress moves several times a second


def results_path_for(folder: Path, spec: DetectorSpec) -> Path:
    """The results file of ``folder`` scanned with ``spec`` (stable across restarts)."""
    from ..home import synthcheck_home

    ident = json.dumps([str(folder), spec.checkpoint, spec.backend, spec.threshold,
                        sorted(spec.options.items())], default=str)
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return synthcheck_home() / "scans" / f"{folder.name or 'root'}-{digest}.parquet"


def scan_command(folder: Path, spec: DetectorSpec, out: Path, workers: int | None = None,
                 chunk_size: int = DASHBOARD_CHUNK) -> list[str]:
    """The ``synthcheck scan`` command line that scans ``folder`` with ``spec`` into ``out``."""
    cmd = [sys.executable, "-m", "synthcheck", "scan", str(folder), "--out", str(out),
           "--checkpoint", spec.checkpoint, "--backend", spec.backend, "--device", spec.device,
           "--threshold", repr(float(spec.threshold)), "--chunk-size", str(chunk_size),
           "--progress-jsonl"]
    edges = spec.options.get("band_edges")
    if edges is not None:
        cmd += ["--band-edges", *(repr(float(e)) for e in edges)]
    if spec.options.get("tiles"):
        cmd.append("--tiles")
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd


@dataclass
class ScanJob:
    """One background scan; read ``done``/``total``/``summary``/``error`` while it runs."""

    folder: Path
    spec: DetectorSpec
    out: Path
    workers: int | None = None
    chunk_size: int = DASHBOARD_CHUNK
    done: int = 0
    total: int | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> ScanJob:
        """Count the inputs and start the child scan, each in a thread of its own."""
        self.started = time.monotonic()
        threading.Thread(target=self._count, daemon=True, name="synthcheck-scan-count").start()
        self._thread = threading.Thread(target=self._run, daemon=True, name="synthcheck-scan")
        self._thread.start()
        return self

    def _count(self) -> None:
        from .sources import count_items

        try:
            n = count_items([self.folder])
        except Exception:  # the child reports an unusable folder in its own words
            return
        if self.total is None:
            self.total = n

    def _run(self) -> None:
        cmd = scan_command(self.folder, self.spec, self.out, self.workers, self.chunk_size)
        # the child imports this same synthcheck (a checkout may shadow an installed copy)
        here = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
        summary = summary_path(self.out)
        before = summary.stat().st_mtime_ns if summary.is_file() else None
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, env=env)
        except OSError as exc:
            self.error, self.finished = f"the scan could not start: {exc}", time.monotonic()
            return
        err: list[str] = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        drain.start()
        for line in proc.stdout:
            try:
                step = json.loads(line)
            except ValueError:
                continue
            self.done = int(step.get("done") or 0)
            if step.get("total") is not None:
                self.total = int(step["total"])
        rc = proc.wait()
        drain.join(5)
        if summary.is_file() and summary.stat().st_mtime_ns != before:  # this run wrote it
            self.summary = json.loads(summary.read_text())
            self.done = int(self.summary["counts"]["n_images"])
        else:
            last = [ln.strip() for ln in err if ln.strip()]
            self.error = (last[-1] if last else f"the scan stopped (exit status {rc}).").removeprefix(
                "error: ")
        self.finished = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def status(self) -> dict[str, Any]:
        """Progress in numbers: done, total, rate (images/s), seconds so far and seconds left
        (None: unknown)."""
        elapsed = max(1e-6, (self.finished or time.monotonic()) - self.started)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if self.total and rate > 0 else None
        return {"done": self.done, "total": self.total, "rate": rate, "elapsed_s": elapsed,
                "eta_s": left}
