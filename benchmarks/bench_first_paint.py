"""First paint after a server start: seconds from ``streamlit run`` to the first real page
element in Chromium, and what the browser showed before it (printed as JSON).

For each repeat a new server starts and Chromium asks for the page as soon as the port answers,
then samples the page every 50 ms: when the first heading of the page appeared ("Analyze
images" for ``/``, "Model card" for ``/model_card``), whether a lower-case file-name page list
("streamlit app", "analyze", ...) was ever visible in the sidebar, and for how long the page was
blank (connected, but no heading yet). ``--root`` serves another tree (e.g. an older commit
unpacked with ``git archive``) with the same Python, to compare before and after.

    .venv/bin/python benchmarks/bench_first_paint.py [--root DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from driver import ARGS, CHROMIUM, free_port  # noqa: E402

FILE_NAMES = ("streamlit app", "model card")  # what the legacy pages/ list shows (lower case)
# Visible sidebar text of Streamlit's own page list, and the main block's first heading.
PROBE = """() => {
  const nav = document.querySelector('[data-testid="stSidebarNav"]');
  const navText = nav && nav.checkVisibility() ? nav.innerText.toLowerCase() : '';
  const h = document.querySelector('[data-testid="stMainBlockContainer"] h1');
  return {nav: navText, heading: h && h.checkVisibility() ? h.innerText.trim() : ''};
}"""


def first_paint(root: Path, path: str, heading: str, pw) -> dict:
    """One server start: seconds to the heading, whether file names showed, blank seconds."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "SYNTHCHECK_HOME": tempfile.mkdtemp()}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    try:
        pg = browser.new_page(viewport={"width": 1280, "height": 720})
        while True:
            try:
                pg.goto(f"http://127.0.0.1:{port}{path}", timeout=2000)
                break
            except Exception:  # not listening yet
                if time.perf_counter() - t0 > 120:
                    raise
                time.sleep(0.05)
        loaded = time.perf_counter() - t0
        names_seen, seen = False, None
        while time.perf_counter() - t0 < 120:
            probe = pg.evaluate(PROBE)
            names_seen = names_seen or any(n in probe["nav"] for n in FILE_NAMES)
            if probe["heading"] == heading:
                seen = time.perf_counter() - t0
                break
            time.sleep(0.05)
        for _ in range(20):  # one more second: does a file-name list show up after the heading?
            names_seen = names_seen or any(n in pg.evaluate(PROBE)["nav"] for n in FILE_NAMES)
            time.sleep(0.05)
        return {"first_paint_s": None if seen is None else round(seen, 2),
                "page_loaded_s": round(loaded, 2),
                "blank_s": None if seen is None else round(seen - loaded, 2),
                "file_name_nav_seen": names_seen}
    finally:
        browser.close()
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(args.root).resolve()
    out: dict[str, object] = {"root": str(root), "cpu_count": os.cpu_count(),
                              "load_avg_start": os.getloadavg()[0]}
    with sync_playwright() as pw:
        for name, path, heading in (("root", "/", "Analyze images"),
                                    ("deep_link", "/model_card", "Model card")):
            runs = [first_paint(root, path, heading, pw) for _ in range(args.repeats)]
            times = [r["first_paint_s"] for r in runs if r["first_paint_s"] is not None]
            out[name] = {"runs": runs, "first_paint_median_s": round(statistics.median(times), 2)
                         if times else None,
                         "file_name_nav_seen": any(r["file_name_nav_seen"] for r in runs)}
    out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
