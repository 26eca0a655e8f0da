"""Shared pieces of the browser tests: start ``streamlit run`` on a free port, drive its pages,
save screenshots. Fixtures built on these live in ``conftest.py``.

Screenshots go to docs/screenshots/ only when SYNTHCHECK_E2E_DATA (real data, for the README)
or SYNTHCHECK_SCREENSHOTS (an explicit folder) is set; otherwise to a temporary folder, so a
run on the generated mini data set leaves git clean.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(os.environ.get("SYNTHCHECK_SCREENSHOTS") or (
    ROOT / "docs" / "screenshots" if os.environ.get("SYNTHCHECK_E2E_DATA")
    else Path(tempfile.gettempdir()) / "synthcheck-e2e-screenshots"))
TIMINGS: dict[str, float] = {}  # figures printed by the browser tests
NAV_LINK = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'  # the router's menu
LOCAL_PREFIXES = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def photo(seed: int, size: int = 32) -> Image.Image:
    """A blocky noisy picture (4 x 4 px blocks) of ``size`` pixels a side."""
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 220, (size // 4, size // 4, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((4, 4, 1), np.uint8)).astype(int) + rng.integers(-15, 15, (size, size, 3))
    return Image.fromarray(np.clip(big, 0, 255).astype(np.uint8))


def tiny_data(root: Path, n: int = 12) -> Path:
    """root/test/{REAL,FAKE}/*.png with ``n`` generated images each."""
    for label, off in (("REAL", 0), ("FAKE", 50)):
        d = root / "test" / label
        d.mkdir(parents=True)
        for i in range(n):
            photo(off + i).save(d / f"{i}.png")
    return root


def wait_ready(proc: subprocess.Popen, health_url: str, log_path: Path, what: str, *,
               deadline: float | None = None, poll_s: float = 0.05) -> None:
    """Poll ``health_url`` until it answers 200; RuntimeError (with the log's tail) when the
    server process exits first or ``deadline`` (perf_counter; default 60 s from now) passes."""
    deadline = time.perf_counter() + 60 if deadline is None else deadline
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(health_url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what} did not answer {health_url} within 60 s")
        time.sleep(poll_s)


@contextmanager
def streamlit_server(tmp: Path, env_extra: dict[str, str] | None = None,
                     timings: dict[str, float] | None = None, root: Path = ROOT) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` of ``root`` (default this checkout) on a free
    localhost port; yields its URL.

    The Metrics/Explain data folder is SYNTHCHECK_E2E_DATA (real data for README screenshots)
    or a generated mini data set under ``tmp``.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    data = os.environ.get("SYNTHCHECK_E2E_DATA")
    if not data:
        data = str(tiny_data(tmp / "data"))
        env["SYNTHCHECK_CACHE"] = str(tmp / "cache")
    env["SYNTHCHECK_DATA"] = data
    port = free_port()
    log_path = tmp / "streamlit.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, f"{url}/_stcore/health", log_path, "streamlit", deadline=t0 + 60)
        if timings is not None:
            timings["time_to_ready_s"] = time.perf_counter() - t0
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def offsite(urls: list[str]) -> list[str]:
    """The requests that left 127.0.0.1 (fonts, icons or anything else fetched from the web)."""
    return [u for u in urls if not u.startswith(LOCAL_PREFIXES)]


def shot(pg, name: str) -> Path:
    """Save a small palette PNG of the viewport (after images have loaded); returns its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.wait_for_function("() => [...document.images].every((i) => i.complete)", timeout=30_000)
    pg.wait_for_timeout(400)  # let canvas-drawn tables and Plotly finish painting
    img = Image.open(io.BytesIO(pg.screenshot(full_page=False))).convert("RGB")
    img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
    path = SHOTS / f"{name}.png"
    img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def wait_idle(pg) -> None:
    """Wait until Streamlit says the script run is over (no 'Running...' status widget)."""
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                         timeout=60_000)


def goto(pg, title: str) -> None:
    """Click a page in the sidebar navigation."""
    pg.locator(NAV_LINK, has_text=title).first.click()
