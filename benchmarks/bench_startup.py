#!/usr/bin/env python
"""Cold start of the ``synthcheck`` command: wall seconds in fresh processes.

Three commands, each run ``--runs`` times in a new Python process (``python -m synthcheck``
with the checkout as working directory, so each checkout runs its own code):

    help     synthcheck --help
    predict  synthcheck predict IMAGE
    explain  synthcheck explain IMAGE --methods gradcam,gradient_shap,lime (to completion)

Several checkouts (``--repo``, repeatable) are measured in turns, run by run, so that a baseline
and this checkout see the same machine load. Prints the median and the fastest run per command
and checkout, and a breakdown of explain's cold imports (``python -X importtime``).

    python benchmarks/bench_startup.py                                  # this checkout
    python benchmarks/bench_startup.py --repo /tmp/base --repo .        # baseline, then this one
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "help": ["--help"],
    "predict": ["predict", "{image}"],
    "explain": ["explain", "{image}", "--methods", "gradcam,gradient_shap,lime"],
}
LIBRARIES = ("torch", "captum.attr", "lime.lime_image", "sklearn", "matplotlib.pyplot", "pandas",
             "skimage", "scipy.stats", "streamlit", "fastapi")


def make_image(folder: Path) -> Path:
    """A 32 x 32 noisy PNG (the default model's input size: no resizing in the figure)."""
    import numpy as np
    from PIL import Image

    path = folder / "one.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    return path


def run_once(repo: Path, args: list[str]) -> float:
    """Wall seconds of ``python -m synthcheck ARGS`` in ``repo``; raises if it fails."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "synthcheck", *args], cwd=repo, env=env,
                         capture_output=True, text=True, check=False, timeout=300)
    took = time.perf_counter() - t
    if res.returncode != 0:
        raise RuntimeError(f"{repo}: synthcheck {' '.join(args)} exited {res.returncode}: "
                           f"{res.stderr[-500:]}")
    return took


def import_breakdown(repo: Path, args: list[str]) -> dict[str, float]:
    """Cumulative import seconds of the heavy libraries (first import of each, -X importtime)."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "synthcheck", *args], cwd=repo,
                         capture_output=True, text=True, check=False, timeout=300)
    out: dict[str, float] = {}
    for line in res.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)$", line)
        if m and m.group(3) in LIBRARIES and m.group(3) not in out:
            out[m.group(3)] = int(m.group(1)) / 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", action="append", type=Path, help="checkout(s) to measure (default: this one)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated: help,predict,explain")
    args = ap.parse_args()
    repos = [r.resolve() for r in (args.repo or [REPO])]
    names = [c for c in args.commands.split(",") if c]
    with tempfile.TemporaryDirectory() as tmp:
        image = make_image(Path(tmp))
        argv = {n: [a.format(image=image) for a in COMMANDS[n]] for n in names}
        for repo in repos:  # warm the page cache and .pyc files: "cold" means a fresh process
            for n in names:
                run_once(repo, argv[n])
        times: dict[tuple[str, Path], list[float]] = {}
        for _ in range(args.runs):
            for n in names:
                for repo in repos:
                    times.setdefault((n, repo), []).append(run_once(repo, argv[n]))
        print(f"cold wall seconds, {args.runs} fresh processes each, measured in turns; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"{'command':9s} {'checkout':40s} {'median':>7s} {'fastest':>7s}")
        for n in names:
            for repo in repos:
                t = times[(n, repo)]
                print(f"{n:9s} {str(repo):40s} {statistics.median(t):7.2f} {min(t):7.2f}")
        if "explain" in names:
            print("\nexplain's library imports (cumulative seconds, -X importtime, one run):")
            for repo in repos:
                parts = import_breakdown(repo, argv["explain"])
                print(f"  {repo}: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
