"""A folder scan from the Batch page against ``synthcheck scan`` on the same folder, same run.

Makes (or copies from ``--data``) N 32x32 JPEGs in a temporary folder, times the command line
on it, then starts ``streamlit run`` with the folder under ``SYNTHCHECK_SCAN_ROOTS`` and drives
the Batch page in Chromium: seconds to the first count above zero, seconds to the results, and
the counts seen while it ran. Also reports the server log's ScriptRunContext and "streamlit run"
warnings (none expected: the page's scan runs the CLI in a child process). Printed as JSON.

    .venv/bin/python benchmarks/bench_page_scan.py [--n 2000] [--data /tmp/cifake]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from driver import ARGS, CHROMIUM, streamlit_server, wait_idle  # noqa: E402

WARNINGS = ("missing ScriptRunContext", "streamlit run")
STATE_JS = """() => {
  const bar = document.querySelector('[data-testid="stProgress"]');
  const again = [...document.querySelectorAll('button')].some((b) => b.innerText.startsWith('Scan again'));
  return {progress: bar ? bar.innerText : '', done: again};
}"""
COUNT = re.compile(r"(?:Starting the scan|Scanning)… ([\d,]+) of ([\d,]+|…|\?) images "
                   r"\((?:([\d,]+) images/s|\d+ s so far)")


def make_folder(folder: Path, n: int, data: str | None = None) -> Path:
    """``n`` small JPEGs under ``folder`` (REAL/ and FAKE/): CIFAKE test files when ``data`` holds
    enough, else generated blocky pictures saved at quality 75."""
    for label in ("REAL", "FAKE"):
        (folder / label).mkdir(parents=True, exist_ok=True)
    if data:
        files = [sorted((Path(data) / "test" / lab).glob("*.jpg"))[: n - n // 2 if lab == "REAL" else n // 2]
                 for lab in ("REAL", "FAKE")]
        if sum(map(len, files)) == n:
            for lab, group in zip(("REAL", "FAKE"), files, strict=True):
                for f in group:
                    shutil.copyfile(f, folder / lab / f.name)
            return folder
    rng = np.random.default_rng(0)
    for i in range(n):
        base = rng.integers(30, 220, (8, 8, 3), dtype=np.uint8)
        big = np.kron(base, np.ones((4, 4, 1), np.uint8)).astype(int) + rng.integers(-15, 15, (32, 32, 3))
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(
            folder / ("REAL" if i % 2 else "FAKE") / f"{i}.jpg", quality=75)
    return folder


def cli_scan(folder: Path, out: Path) -> float:
    """Wall seconds of ``python -m synthcheck scan FOLDER --out OUT`` (a fresh results file)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "synthcheck", "scan", str(folder), "--out", str(out)],
                   cwd=ROOT, check=False, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - t0


def page_scan(pg, url: str, folder: Path, timeout_s: float = 300) -> dict:
    """Scan ``folder`` from the Batch page: seconds to the first count above zero and to the
    results table, and every progress text seen (sampled every 200 ms)."""
    pg.goto(f"{url}/batch")
    pg.get_by_role("heading", name="Batch triage").wait_for()
    wait_idle(pg)
    pg.get_by_role("radio", name="Folder on the server").first.click()
    box = pg.get_by_label("Folder path")
    box.wait_for()
    box.fill(str(folder))
    box.press("Enter")
    start = pg.get_by_role("button", name="Scan this folder")
    start.wait_for()
    seen: list[tuple[float, int, int | None, int]] = []
    t0 = time.perf_counter()
    start.click()
    first = None
    done_at = None
    while time.perf_counter() - t0 < timeout_s:
        state = pg.evaluate(STATE_JS)  # one look at the page: never waits on an element
        m = COUNT.search(state["progress"])
        now = time.perf_counter() - t0
        if m:
            done = int(m.group(1).replace(",", ""))
            total = None if m.group(2) in ("…", "?") else int(m.group(2).replace(",", ""))
            seen.append((round(now, 2), done, total, int((m.group(3) or "0").replace(",", ""))))
            if first is None and (done > 0 or (total or 0) > 0):
                first = now
        if state["done"]:
            done_at = now
            break
        pg.wait_for_timeout(200)
    last = pg.get_by_text(re.compile(r"^Last scan: .* in [\d.]+ s")).first
    last.wait_for(timeout=10_000)
    job_s = float(re.search(r" in ([\d.]+) s", last.inner_text()).group(1))
    return {"first_count_s": None if first is None else round(first, 2),
            "page_scan_s": None if done_at is None else round(done_at, 2),
            "job_s": job_s, "progress": seen}


def server_warnings(log: Path) -> list[str]:
    """Lines of the server log that show a worker re-running the dashboard script."""
    return [ln for ln in log.read_text(errors="replace").splitlines() if any(w in ln for w in WARNINGS)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_E2E_DATA"))
    ap.add_argument("--root", default=str(ROOT), help="the tree whose dashboard is served (e.g. an "
                                                       "older commit unpacked with git archive)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-page-scan-"))
    folder = make_folder(tmp / "scan" / "images", args.n, args.data)
    out: dict[str, object] = {"n_images": args.n, "cpu_count": os.cpu_count(),
                              "load_avg_start": os.getloadavg()[0]}
    out["cli_scan_s"] = round(cli_scan(folder, tmp / "cli.parquet"), 2)
    root = Path(args.root).resolve()
    env = {"SYNTHCHECK_SCAN_ROOTS": str(tmp / "scan"), "SYNTHCHECK_HOME": str(tmp / "home"),
           "SYNTHCHECK_DASHBOARD_WARMUP": "0", "PYTHONPATH": str(root)}
    out["root"] = str(root)
    with streamlit_server(tmp, env, root=root) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1360, "height": 900})
        pg.set_default_timeout(120_000)
        res = page_scan(pg, url, folder)
        browser.close()
    out.update({k: v for k, v in res.items() if k != "progress"})
    steps = res["progress"]
    out["progress_updates"] = len({(d, t) for _, d, t, _ in steps})
    out["progress_seen"] = [s for i, s in enumerate(steps) if i == 0 or s[1:3] != steps[i - 1][1:3]]
    out["cli_images_per_s"] = round(args.n / out["cli_scan_s"], 1)
    if res["page_scan_s"]:
        out["page_images_per_s"] = round(args.n / res["page_scan_s"], 1)
        out["page_over_cli_throughput"] = round(out["cli_scan_s"] / res["page_scan_s"], 2)
    out["server_log_warnings"] = server_warnings(tmp / "streamlit.log")[:5]
    out["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
