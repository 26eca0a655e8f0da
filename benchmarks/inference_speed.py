#!/usr/bin/env python
"""Inference speed of a checkpoint on this machine: cold CLI latency and batch throughput.

Prints (1) `synthcheck predict IMAGE --json` wall time from a fresh Python process (median of
N runs), next to a bare `python -c "import torch"` measured the same way, (2) in-process
single-image latency p50/p99 (load + preprocess + forward), (3) batch throughput in images/s.
Targets (issue 2): predict <= 1.5 s end to end; batch >= 2,000 images/s on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from synthcheck.inference import Detector


def _wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch-images", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "x.jpg"
        Image.fromarray(arr).save(img, "JPEG", quality=90)
        cli = [sys.executable, "-m", "synthcheck", "predict", str(img), "--json"]
        if args.checkpoint:
            cli += ["--checkpoint", args.checkpoint]
        cold = _wall(cli, args.runs)
        bare = _wall([sys.executable, "-c", "import torch"], args.runs)
        data = img.read_bytes()

    det = Detector.from_checkpoint(args.checkpoint)
    lat = []
    for i in range(200):
        t = time.perf_counter()
        det.predict([io.BytesIO(data)])
        if i >= 10:
            lat.append(time.perf_counter() - t)
    batch = rng.integers(0, 256, (args.batch_images, det.input_size, det.input_size, 3), dtype=np.uint8)

    def throughput(backend) -> float:
        backend.logits_of_arrays(batch[:2048], args.batch_size)
        t = time.perf_counter()
        backend.logits_of_arrays(batch, args.batch_size)
        return args.batch_images / (time.perf_counter() - t)

    ips = throughput(det)
    from synthcheck.inference.onnx_backend import OnnxDetector

    fast = OnnxDetector.for_checkpoint(args.checkpoint)
    ips_onnx = throughput(fast) if fast is not None else float("nan")
    rows = {
        "cli_predict_one_image_s": round(cold, 3), "python_import_torch_s": round(bare, 3),
        "single_image_p50_ms": round(1000 * float(np.percentile(lat, 50)), 2),
        "single_image_p99_ms": round(1000 * float(np.percentile(lat, 99)), 2),
        "batch_images_per_s": round(ips, 1), "batch_images_per_s_onnx": round(ips_onnx, 1),
        "model": det.model_name,
    }
    print(f"synthcheck predict, cold process : {cold:6.2f} s   (target <= 1.5 s; bare 'import torch': {bare:.2f} s)")
    print(f"single image in-process  p50/p99 : {rows['single_image_p50_ms']:.1f} / {rows['single_image_p99_ms']:.1f} ms")
    print(f"batch inference ({args.batch_size}/batch), torch : {ips:8,.0f} images/s   (target >= 2,000)")
    print(f"batch inference ({args.batch_size}/batch), ONNX  : {ips_onnx:8,.0f} images/s")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
