"""``synthcheck export-onnx``: write the ONNX twin used by the fast predict path."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from ..inference.onnx_backend import export_onnx

    print(export_onnx(args.checkpoint, args.out))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-onnx", help="export a checkpoint to ONNX (fast CPU predict path)")
    p.add_argument("checkpoint", help="checkpoint .pt file")
    p.add_argument("--out", help="output .onnx (default: beside the checkpoint)")
    p.set_defaults(func=_run)
