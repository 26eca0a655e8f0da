"""``synthcheck fit-domain``: (re)fit the domain check (kNN features + JPEG trace) of a checkpoint."""

from __future__ import annotations

import argparse
import json


def _run(args: argparse.Namespace) -> int:
    from ..domain.features import fit_checkpoint_domain
    from ..onnx_fast import export_onnx, onnx_path_for

    report = fit_checkpoint_domain(args.checkpoint, args.data, keep=args.keep)
    if onnx_path_for(args.checkpoint).exists() or args.onnx:
        report["onnx"] = str(export_onnx(args.checkpoint))
    print(json.dumps(report, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..domain.knn import DEFAULT_KEEP  # torch-free: the CLI parser must not import torch

    p = sub.add_parser("fit-domain", help="fit the domain check (feature kNN + JPEG trace) of a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--data", help="the folder it was trained on (default $SYNTHCHECK_DATA)")
    p.add_argument("--keep", type=float, default=DEFAULT_KEEP,
                   help=f"share of validation images kept in domain (default {DEFAULT_KEEP})")
    p.add_argument("--onnx", action="store_true", help="(re)export the ONNX twin afterwards")
    p.set_defaults(func=_run)
