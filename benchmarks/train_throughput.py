#!/usr/bin/env python
"""Training throughput (images/s) of registry models on this machine's CPU or GPU.

Measures full training steps (normalise + augment + forward + backward + AdamW) on random
uint8 batches, after warm-up, so the figure is the model's cost, not the data pipeline's.
Usage: python benchmarks/train_throughput.py [--device cpu|cuda] [--models synthcnn,timm_resnet18]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from synthcheck.data.augment import AugmentCfg, augment_batch
from synthcheck.models import create_model
from synthcheck.models.normalization import normalize


def measure(name: str, device: torch.device, batch: int, seconds: float) -> dict:
    model = create_model(name).to(device).to(memory_format=torch.channels_last).train()
    cfg = model.synthcheck_cfg
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x8 = torch.randint(0, 256, (batch, cfg.input_size, cfg.input_size, 3), dtype=torch.uint8, device=device)
    y = torch.randint(0, 2, (batch,), device=device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)

    def step() -> None:
        x = augment_batch(normalize(x8, cfg.mean, cfg.std), AugmentCfg(True, 2, 0.0))
        with amp:
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += batch
        if device.type == "cuda" and n % (batch * 10) == 0:
            torch.cuda.synchronize()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"model": name, "device": str(device), "batch": batch,
            "params": sum(p.numel() for p in model.parameters()), "images_per_second": round(n / dt, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--models", default="synthcnn,timm_resnet18")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    device = torch.device(args.device)
    rows = [measure(m, device, args.batch, args.seconds) for m in args.models.split(",")]
    for r in rows:
        print(f"{r['model']:16s} {r['device']:5s} batch {r['batch']:4d}  {r['images_per_second']:>10,.0f} img/s"
              f"  ({r['params'] / 1e6:.2f}M params)")
    if len(rows) > 1:
        print(f"ratio {rows[0]['model']} / {rows[1]['model']}: "
              f"{rows[0]['images_per_second'] / rows[1]['images_per_second']:.1f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
