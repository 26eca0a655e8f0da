"""Clean vs robust accuracy for three training modes, measured in one run (small scale).

Trains the same architecture from the same seed on the same CIFAKE subset three ways —
standard, with JPEG/resize/blur/noise augmentation (``synthcheck.data.perturb.apply``) and
with FGSM adversarial training (``mix_adversarial``) — then scores each on the same balanced
test subset, clean and under processing and white-box attacks.

This is a self-contained loop over the package's building blocks (normalize, augment_batch,
robust_augment), so it runs before the options are wired into train.py; once they are, run
train.py with the same settings for full-scale figures.

    .venv/bin/python benchmarks/robust_training.py                       # ~10 min on 2 CPU cores
    .venv/bin/python benchmarks/robust_training.py --train-images 90000 --epochs 10 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

MODES = {
    "standard": {},
    "jpeg_blur_aug": {"jpeg_p": 0.5, "resize_p": 0.3, "blur_p": 0.3, "noise_p": 0.2},
    "adversarial_fgsm": {"adv": "fgsm", "adv_eps": 2 / 255, "adv_fraction": 0.5},
}
CONDITIONS = ["jpeg_q70", "jpeg_q30", "resize_0.5", "blur_1", "noise_0.05", "fgsm_2", "pgd_2", "pgd_4"]


def train_one(mode: str, images: np.ndarray, labels: np.ndarray, args: argparse.Namespace):
    from synthcheck.checkpoint import build_checkpoint
    from synthcheck.data.augment import AugmentCfg, augment_batch
    from synthcheck.data.perturb import RobustAugmentCfg, apply, mix_adversarial
    from synthcheck.inference import Detector
    from synthcheck.models import create_model, get_model_cfg
    from synthcheck.models.normalization import normalize

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    model = create_model(args.model).to(device).to(memory_format=torch.channels_last)
    mcfg = get_model_cfg(args.model)
    mean, std = tuple(mcfg.mean), tuple(mcfg.std)
    rcfg = RobustAugmentCfg(**MODES[mode]).validate()
    aug = AugmentCfg(hflip=True, crop_padding=2)
    steps_per_epoch = (len(images) + args.batch_size - 1) // args.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps_per_epoch * args.epochs)
    x_all = torch.from_numpy(images)
    y_all = torch.from_numpy(labels)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        perm = torch.randperm(len(x_all), generator=g)
        model.train()
        for s in range(0, len(perm), args.batch_size):
            idx = perm[s:s + args.batch_size]
            xb = x_all[idx]
            if rcfg.enabled:
                xb = apply(xb, rcfg, g)
            x = augment_batch(normalize(xb.to(device), mean, std), aug, g)
            y = y_all[idx].to(device)
            if rcfg.adv != "none":
                x = mix_adversarial(model, x, y, rcfg, mean, std, g)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    seconds = time.perf_counter() - t0
    model.eval()
    ck = build_checkpoint(model.cpu()) if device.type == "cpu" else build_checkpoint(model)
    return Detector(model, ck, device=args.device), seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA", "/work/data/cifake"))
    ap.add_argument("--model", default="synthcnn_small")
    ap.add_argument("--train-images", type=int, default=20000)
    ap.add_argument("--test-images", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from synthcheck.data.dataset import load_split
    from synthcheck.evaluation.robustness import (
        balanced_subset,
        evaluate_robustness,
        parse_perturbations,
    )
    from synthcheck.models import get_model_cfg

    size = get_model_cfg(args.model).input_size
    train = load_split(args.data, "train", size)
    test = load_split(args.data, "test", size)
    tr = balanced_subset(train.labels, args.train_images, args.seed)
    te = balanced_subset(test.labels, args.test_images, args.seed + 1)
    x_tr, y_tr = np.array(train.images[tr]), np.array(train.labels[tr])
    x_te, y_te = np.array(test.images[te]), np.array(test.labels[te])
    perts = parse_perturbations(CONDITIONS)
    results = {}
    for mode in args.modes:
        det, secs = train_one(mode, x_tr, y_tr, args)
        rep = evaluate_robustness(det, x_te, y_te, perts, seed=args.seed)
        results[mode] = {"train_seconds": round(secs, 1),
                         "rows": {r["name"]: {"accuracy": r["accuracy"], "roc_auc": r["roc_auc"]} for r in rep["rows"]}}
        print(f"{mode}: trained in {secs:.0f} s, clean accuracy {rep['rows'][0]['accuracy']:.4f}", flush=True)
    if args.json:
        print(json.dumps({"args": vars(args), "results": results}, indent=2))
        return 0
    names = ["clean", *CONDITIONS]
    print(f"\n{args.model}, {len(y_tr)} training images x {args.epochs} epochs, seed {args.seed}; "
          f"accuracy on {len(y_te)} balanced test images (ROC-AUC in brackets)")
    print("| condition | " + " | ".join(args.modes) + " |")
    print("|---|" + "---:|" * len(args.modes))
    for n in names:
        cells = [f"{results[m]['rows'][n]['accuracy']:.4f} ({results[m]['rows'][n]['roc_auc']:.3f})" for m in args.modes]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("| train seconds | " + " | ".join(str(results[m]["train_seconds"]) for m in args.modes) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
