"""Robustness table of a checkpoint (default: the shipped model) on CIFAKE test.

Accuracy and ROC-AUC under JPEG re-compression (q 90/70/50/30), downscale-upscale, Gaussian
blur and noise, and white-box FGSM / PGD (captum.robust, margin loss, PGD 10 steps) at
eps 1, 2, 4, 8 / 255, on a balanced seeded subset.

    .venv/bin/python benchmarks/robustness_table.py                   # 1000 images
    .venv/bin/python benchmarks/robustness_table.py --limit 0         # all 20,000 (slow on CPU)
    .venv/bin/python benchmarks/robustness_table.py --markdown --checkpoint runs/x/model.pt
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def markdown(report: dict) -> str:
    lines = ["| condition | accuracy | Δ accuracy | ROC-AUC | verdicts flipped | mean abs Δp_fake |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        auc = f"{r['roc_auc']:.4f}" if r["roc_auc"] is not None else "–"
        lines.append(f"| {r['label']} | {r['accuracy']:.4f} | {r['delta_accuracy']:+.4f} | {auc} | "
                     f"{r['flip_rate']:.3f} | {r['mean_abs_dp']:.3f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA", "/work/data/cifake"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=1000, help="balanced subset size (0 = whole split)")
    ap.add_argument("--checkpoint", help="default: the shipped model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-adversarial", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--json-only", action="store_true", help="one JSON line (for benchmarks/run.py)")
    args = ap.parse_args()

    import torch

    from synthcheck.evaluation.robustness import (
        default_perturbations,
        format_table,
        robustness_on_folder,
    )
    from synthcheck.inference import Detector

    if args.threads:
        torch.set_num_threads(args.threads)
    det = Detector.from_checkpoint(args.checkpoint)
    t0 = time.perf_counter()
    progress = None if args.json_only else (lambda label: print(f"  {label} ...", file=sys.stderr, flush=True))
    report = robustness_on_folder(det, args.data, args.split, limit=args.limit or None,
                                  perturbations=default_perturbations(adversarial=not args.no_adversarial),
                                  seed=args.seed, progress=progress)
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    if args.json_only:
        report["table"] = [{"metric": f"robustness: {r['label']}", "value": f"acc {r['accuracy']:.4f} / AUC {r['roc_auc']:.4f}",
                            "target": "-", "baseline": ""} for r in report["rows"]]
        print(json.dumps(report))
        return 0
    print(f"{report['n_images']} images ({report['n_fake']} FAKE) from {report['data']} / {report['split']}; "
          f"model {report['model']['name']} ({report['model']['checkpoint']}, sha256 "
          f"{(report['model']['sha256'] or '')[:12]}); {report['wall_seconds']} s")
    print(markdown(report) if args.markdown else format_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
