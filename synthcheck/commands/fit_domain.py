"""``synthcheck fit-domain``: (re)fit the domain check (kNN features + JPEG trace) of a checkpoint."""

from __future__ import annotations

import argparse
import json


def _run(args: argparse.Namespace) -> int:
    from ..domain.features import fit_checkpoint_domain
    from ..domain.knn import DEFAULT_KEEP
    from ..inference.onnx_backend import export_onnx, onnx_path_for

    keep = DEFAULT_KEEP if args.keep is None else args.keep
    report = fit_checkpoint_domain(args.checkpoint, args.data, keep=keep)
    if onnx_path_for(args.checkpoint).exists() or args.onnx:
        report["onnx"] = str(export_onnx(args.checkpoint))
    print(json.dumps(report, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-domain", help="fit the domain check (feature kNN + JPEG trace) of a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--data", help="the folder it was trained on (default $SYNTHCHECK_DATA)")
    p.add_argument("--keep", type=float, default=None,  # resolved in _run: the parser stays light
                   help="share of validation images kept in domain (default: "
                        "synthcheck.domain.knn.DEFAULT_KEEP, the share the shipped models use)")
    p.add_argument("--onnx", action="store_true", help="(re)export the ONNX twin afterwards")
    p.set_defaults(func=_run)
