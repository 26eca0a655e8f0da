"""``synthcheck robustness --data DIR``: accuracy / ROC-AUC under processing and attacks."""

from __future__ import annotations

import argparse
import sys

from .common import seed_arg


def cmd_robustness(args: argparse.Namespace) -> int:
    from ..evaluation.robustness import format_table, parse_perturbations, robustness_on_folder
    from .common import load_detector, print_json

    perturbations = parse_perturbations(args.only, adversarial=not args.no_adversarial)
    if args.epsilons:
        from ..evaluation.robustness import Perturbation

        eps = [e / 255 for e in args.epsilons]
        perturbations = [p for p in perturbations if not p.adversarial] + [
            Perturbation(f"{fam}_{e * 255:g}", fam, e, f"{fam.upper()} eps {e * 255:g}/255")
            for fam in ("fgsm", "pgd") if any(p.family == fam for p in perturbations) for e in eps]
    detector = load_detector(args)
    progress = None if args.json else (lambda label: print(f"  {label} ...", file=sys.stderr))
    report = robustness_on_folder(detector, args.data, args.split, limit=args.limit or None,
                                  perturbations=perturbations, seed=args.seed, progress=progress,
                                  threshold=args.threshold)
    if args.json:
        print_json(report)
    else:
        print(f"{report['n_images']} images from {report['data']} ({args.split}), model "
              f"{report['model']['name']} ({report['model']['checkpoint']})")
        print(format_table(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from .common import add_detector_args

    p = subparsers.add_parser(
        "robustness", help="accuracy and ROC-AUC under JPEG, resizing, blur, noise and FGSM/PGD",
        description="Score a checkpoint on a REAL/FAKE folder under JPEG re-compression (q 90/70/50/30), "
                    "downscale-upscale, Gaussian blur and noise, and white-box FGSM/PGD attacks.")
    p.add_argument("--data", help="data folder (default $SYNTHCHECK_DATA)")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=2000,
                   help="balanced, seeded subset of this many images (0 = all; default 2000)")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="only these perturbations or families (jpeg resize blur noise fgsm pgd, jpeg_q50 ...)")
    p.add_argument("--epsilons", nargs="+", type=float, metavar="E",
                   help="attack radii in 1/255 units (default 1 2 4 8)")
    p.add_argument("--no-adversarial", action="store_true", help="skip FGSM and PGD (much faster)")
    add_detector_args(p)
    p.set_defaults(func=cmd_robustness)
