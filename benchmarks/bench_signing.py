"""Signed reports and the control run: how long they take and that every byte change is caught.

    .venv/bin/python benchmarks/bench_signing.py            # human-readable
    .venv/bin/python benchmarks/bench_signing.py --json     # one JSON object

Builds a case report over N generated images (default 8; 32x32 JPEGs plus one 256x192 PNG
for the tile grid) with the shipped model and Grad-CAM, then times: signing + writing the
JSON/HTML/PDF bundle, verifying the signed file (with and without re-hashing the images),
the control run (48 bundled images), and flips one bit at every byte of a small signed
report to count undetected changes (target: 0). State goes to a temporary SYNTHCHECK_HOME.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Median wall seconds of ``repeat`` calls and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-signing-"))
    os.environ["SYNTHCHECK_HOME"] = str(tmp / "home")

    from synthcheck.evaluation.selfcheck import run_selfcheck
    from synthcheck.inference import Detector
    from synthcheck.reporting.build import build_report
    from synthcheck.reporting.bundle import write_report_bundle
    from synthcheck.reporting.signing import (
        ReportReadError,
        file_bytes,
        sign_report,
        verify_report,
    )

    rng = np.random.default_rng(0)
    folder = tmp / "images"
    folder.mkdir()
    paths = []
    for i in range(args.images - 1):
        p = folder / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(p, quality=90)
        paths.append(p)
    big = folder / "large.png"
    Image.fromarray(rng.integers(0, 256, (192, 256, 3), dtype=np.uint8)).save(big)
    paths.append(big)

    det = Detector.from_checkpoint()
    t_self, result = timed(lambda: run_selfcheck(det), 3)
    t_build, report = timed(lambda: build_report(paths, det, methods=["gradcam"]), 1)
    t_bundle, files = timed(lambda: write_report_bundle(report, tmp / "out"), 3)
    t_verify, check = timed(lambda: verify_report(files["json"]), 5)
    t_verify_img, check_img = timed(lambda: verify_report(files["json"], images_dir=folder), 5)
    assert check.ok and check_img.ok, (check.problems, check_img.problems)

    small = {"images": [{"input": {"path": "a.png", "sha256": "ab" * 32},
                         "verdict": {"verdict": "FAKE", "p_fake": 0.91}}], "summary": {"n_images": 1}}
    signed = sign_report(small)
    good, fp = file_bytes(signed), signed["signature"]["fingerprint"]
    missed = 0
    t0 = time.perf_counter()
    for i in range(len(good)):
        with contextlib.suppress(ReportReadError):  # unparseable counts as detected
            missed += verify_report(good[:i] + bytes([good[i] ^ 1]) + good[i + 1:], trusted_fingerprint=fp).ok
    t_flip = time.perf_counter() - t0

    sizes = {k: Path(v).stat().st_size for k, v in files.items()}
    figures = {
        "cpu_count": os.cpu_count(), "n_images": len(paths),
        "selfcheck_s": round(t_self, 3), "selfcheck_ok": result["ok"],
        "selfcheck_accuracy": result["accuracy"], "selfcheck_pass_mark": result["min_accuracy"],
        "build_report_s": round(t_build, 3), "sign_and_write_bundle_s": round(t_bundle, 3),
        "verify_s": round(t_verify, 4), "verify_with_images_s": round(t_verify_img, 4),
        "bundle_bytes": sizes,
        "bitflip_bytes_tested": len(good), "bitflip_undetected": int(missed),
        "bitflip_ms_per_verify": round(1000 * t_flip / len(good), 3),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:28s} {v}")
    return 0 if missed == 0 and result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
