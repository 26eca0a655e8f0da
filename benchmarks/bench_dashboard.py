"""Dashboard timings in a real browser (Playwright + Debian Chromium), printed as JSON.

Measures: time from ``streamlit run`` to /_stcore/health answering; first page render;
upload of a 32x32 image to verdict + Grad-CAM visible (median of several uploads);
Explain with Grad-CAM + SHAP + LIME (median, each a new image, default settings); and
whether switching pages reloads the model.

    .venv/bin/python benchmarks/bench_dashboard.py [--data /work/data/cifake] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NAV_LINK = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'  # the router's menu
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _images(data: str | None, n: int, out: Path) -> list[Path]:
    """n 32x32 test images: real CIFAKE files when ``data`` is given, else synthetic PNGs."""
    if data:
        files = sorted((Path(data) / "test" / "FAKE").glob("*"))[:n // 2] + \
            sorted((Path(data) / "test" / "REAL").glob("*"))[:n - n // 2]
        if len(files) == n:
            return files
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = out / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def _idle(pg) -> None:
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    imgs = _images(args.data, 2 * args.repeats + 1, tmp)
    port = _port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.data:
        env["SYNTHCHECK_DATA"] = args.data
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, object] = {"cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()[0]}
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - t0 > 120 or proc.poll() is not None:
                raise SystemExit("streamlit did not become ready")
        out["time_to_ready_s"] = round(time.perf_counter() - t0, 3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
            pg = browser.new_page(viewport={"width": 1360, "height": 900})
            pg.set_default_timeout(120_000)
            t = time.perf_counter()
            pg.goto(url)
            pg.get_by_role("heading", name="Analyze images").wait_for()
            _idle(pg)
            out["first_page_s"] = round(time.perf_counter() - t, 3)
            cap = pg.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]',
                             has_text="load #").first.inner_text()
            time.sleep(3)  # let the background warm-up finish, as a user would take to pick a file
            ups = []
            for i, p in enumerate(imgs[:args.repeats]):  # each upload adds one more result
                inp = pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first
                t = time.perf_counter()
                inp.set_input_files(str(p))
                pg.get_by_role("heading", name=Path(p).name).wait_for()
                img = pg.locator('[data-testid="stImage"]', has_text="Grad-CAM").locator("img").nth(i)
                img.wait_for()
                pg.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle())
                ups.append(time.perf_counter() - t)
                _idle(pg)
            out["upload_to_verdict_gradcam_s"] = [round(x, 3) for x in ups]
            out["upload_to_verdict_gradcam_median_s"] = round(statistics.median(ups), 3)
            pg.locator(NAV_LINK, has_text="Explain").first.click()
            pg.get_by_role("heading", name="Explain a verdict").wait_for()
            _idle(pg)
            exps = []
            for p in imgs[args.repeats:2 * args.repeats]:
                t = time.perf_counter()
                pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(p))
                pg.get_by_text(Path(p).name + " · verdict").first.wait_for()
                pg.get_by_role("heading", name="Faithfulness and cost").wait_for()
                _idle(pg)
                exps.append(time.perf_counter() - t)
            out["explain_three_methods_s"] = [round(x, 3) for x in exps]
            out["explain_three_methods_median_s"] = round(statistics.median(exps), 3)
            t = time.perf_counter()
            for title in ("Metrics", "Batch triage", "Model card", "Analyze"):
                pg.locator(NAV_LINK, has_text=title).first.click()
                _idle(pg)
            out["four_page_switches_s"] = round(time.perf_counter() - t, 3)
            cap2 = pg.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]',
                              has_text="load #").first.inner_text()
            out["model_reloaded_on_page_switch"] = cap != cap2
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
