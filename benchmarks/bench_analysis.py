#!/usr/bin/env python
"""End-to-end speed of the one analysis: what ``synthcheck predict --json`` costs per image.

Measures, on the checkout given by ``--repo`` (default: this one), so that an older checkout can
be measured the same way in the same run as the baseline:

1. ``synthcheck predict --json`` over N CIFAKE test JPEGs in one process (files to records):
   wall seconds and images/s, the cold start included;
2. the same command on one image, cold process (median of ``--runs``);
3. in-process latency of one image's record (load, score, domain check, provenance, record),
   p50/p99 over 300 calls, through the record function that checkout has
   (``synthcheck.analysis.records`` now, ``synthcheck.results.records_for`` before it).

    python benchmarks/bench_analysis.py --data DIR                # this checkout
    python benchmarks/bench_analysis.py --data DIR --repo /tmp/base  # a baseline checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cli(repo: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "synthcheck", "predict", *args], cwd=repo, env=env,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if out.returncode not in (0, 2):
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "predict failed")
    return wall


def _in_process(repo: Path, image: Path) -> dict[str, float]:
    """Per-image record latency inside one process of ``repo``'s code."""
    code = f"""
import json, sys, time
import numpy as np
sys.path.insert(0, {str(repo)!r})
from synthcheck.inference import Detector
det = Detector.from_checkpoint()
path = {str(image)!r}
try:
    from synthcheck.analysis import records
    one = lambda: records([path], det)
except ImportError:
    from synthcheck.results import records_for
    one = lambda: records_for(det, [path])
lat = []
for i in range(330):
    t = time.perf_counter(); one(); dt = time.perf_counter() - t
    if i >= 30:
        lat.append(dt)
print(json.dumps({{"p50_ms": 1000 * float(np.percentile(lat, 50)), "p99_ms": 1000 * float(np.percentile(lat, 99))}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"), help="CIFAKE folder (test/REAL|FAKE)")
    ap.add_argument("--repo", default=str(HERE.parent), help="checkout whose code is measured")
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not args.data:
        raise SystemExit("bench_analysis: give --data DIR (CIFAKE unpacked) or set SYNTHCHECK_DATA.")
    repo = Path(args.repo).resolve()
    test = Path(args.data) / "test"
    half = args.images // 2
    files = sorted((test / "REAL").glob("*.jpg"))[:half] + sorted((test / "FAKE").glob("*.jpg"))[:half]
    wall = _cli(repo, [*map(str, files), "--json"])
    cold = statistics.median(_cli(repo, [str(files[0]), "--json"]) for _ in range(args.runs))
    lat = _in_process(repo, files[0])
    rows = {"repo": str(repo), "n_images": len(files), "predict_json_wall_s": round(wall, 3),
            "predict_json_images_per_s": round(len(files) / wall, 1),
            "predict_one_image_cold_s": round(cold, 3),
            "record_p50_ms": round(lat["p50_ms"], 3), "record_p99_ms": round(lat["p99_ms"], 3)}
    print(f"predict --json over {len(files)} JPEGs : {wall:6.2f} s  ({rows['predict_json_images_per_s']:,.0f} images/s)")
    print(f"predict --json, one image, cold   : {cold:6.2f} s")
    print(f"one record in process, p50 / p99   : {lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} ms")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
