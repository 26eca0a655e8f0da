"""``synthcheck`` command line: parse, call the package, print (JSON with ``--json``).

Contract: bad inputs never produce a traceback; ``predict`` prints one object per input and
exits 0 when every input succeeded, 2 when any was rejected. Heavy imports happen inside the
subcommands so ``synthcheck predict`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from .bands import DEFAULT_EDGES
from .commands.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    add_detector_args,
    analysis_options,
    load_detector,
    load_fast_detector,
    print_json,
)


def cmd_predict(args: argparse.Namespace) -> int:
    from .analysis import iter_analyze
    from .commands.text import record_text
    from .progress import Progress

    detector = load_fast_detector(args)
    options = analysis_options(args, tiles=args.tiles)
    records, bad = [], 0
    with Progress("predict", len(args.paths)) as progress:  # a bar on a terminal's stderr only
        analyses = iter_analyze(args.paths, detector, options, names=args.paths, keep_images=False)
        for i, a in enumerate(analyses, 1):
            if args.json:
                records.append(a.to_record())
            elif a.error:
                progress.write(f"ERROR  {a.error}", file=sys.stderr)
            else:
                progress.write(record_text(a.to_record()))
            bad += a.error is not None
            progress(i)
    if args.json:
        print_json(records)
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data.dataset import load_split
    from .evaluation.metrics import evaluate_detector

    detector = load_detector(args)
    split = load_split(args.data, args.split, detector.input_size, progress=not args.json)
    train = None
    if args.split != "train":
        try:
            train = load_split(args.data, "train", detector.input_size, progress=not args.json)
        except Exception:  # no train split next to it: no twin analysis
            train = None
    report = evaluate_detector(detector, split, train, csv_path=args.csv)
    if args.json:
        print_json(report)
    else:
        for key in ("n_images", "accuracy", "precision", "recall", "f1", "roc_auc", "ece"):
            print(f"{key:10s} {report[key]}")
        print(f"confusion  {report['confusion_matrix']} (rows: true REAL, FAKE)")
        if "no_train_twin" in report:
            sub = report["no_train_twin"]
            print(f"no-twin    accuracy {sub['accuracy']:.4f} roc_auc {sub['roc_auc']:.5f} "
                  f"on {sub['n_images']} images")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train import fit

    overrides = {k: v for k, v in vars(args).items() if k not in ("func", "config", "command", "verbose")}
    cfg = load_config(args.config, overrides)
    result = fit(cfg)
    if result:
        print_json({"checkpoint": result["checkpoint"], "temperature": result["temperature"],
                     "train_seconds": round(result["train_seconds"], 1),
                     "metrics": {k: {m: v[m] for m in ("accuracy", "roc_auc", "f1", "n_images")}
                                 for k, v in result["metrics"].items()}})
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .models import get_model_cfg, list_models

    rows = [{"name": n, **get_model_cfg(n).to_dict()} for n in list_models()]
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['name']:20s} {r['input_size']:3d}px  {r['description']}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from .config import add_arguments

    parser = argparse.ArgumentParser(prog="synthcheck", description="Real vs AI-generated image detection.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="verdict and p_fake for each image")
    p.add_argument("paths", nargs="+", help="image files")
    p.add_argument("--band-edges", type=float, nargs=2, default=DEFAULT_EDGES, metavar=("LOW", "HIGH"),
                   help="calibrated p_fake below LOW is likely_real, at or above HIGH likely_synthetic")
    p.add_argument("--tiles", action="store_true",
                   help="also score native-resolution patches of large images (a p_fake grid)")
    add_detector_args(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="metrics of a checkpoint on a REAL/FAKE folder")
    p.add_argument("--data", help="data folder (default $SYNTHCHECK_DATA)")
    p.add_argument("--split", default="test")
    p.add_argument("--csv", help="write per-image scores to this CSV file")
    add_detector_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="train a model (same as python train.py)")
    add_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("models", help="list the registered architectures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    for mod in _command_modules():
        mod.register(sub)
    return parser


def _command_modules() -> list[Any]:
    """Modules of :mod:`synthcheck.commands`, each adding subcommands via ``register``."""
    import importlib
    import pkgutil

    from . import commands

    mods = [importlib.import_module(f"{commands.__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name)]
    return [m for m in mods if hasattr(m, "register")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if (args.verbose or args.command == "train") else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from .errors import SynthCheckError

    try:
        return args.func(args)
    except (SynthCheckError, ValueError, RuntimeError, OSError) as exc:
        print(f"synthcheck {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
