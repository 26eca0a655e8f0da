"""What every subcommand shares: exit codes, JSON output, detector loading, argument types.

Kept apart from :mod:`synthcheck.cli` so that subcommands never import the CLI entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..bands import DEFAULT_EDGES, DEFAULT_THRESHOLD
from ..reporting.verification import FAILED, INCOMPLETE, UNREADABLE, VERIFIED, Status

# One set of exit codes for every subcommand. 1 is also any error the CLI catches; 2 any bad input.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_FOR_STATUS: dict[Status, int] = {VERIFIED: EXIT_OK, INCOMPLETE: EXIT_INCOMPLETE,
                                      FAILED: EXIT_FAILED, UNREADABLE: EXIT_BAD_INPUT}


def verify_epilog(fails: str, incomplete: str, unreadable: str) -> str:
    """The exit codes of a ``verify`` subcommand, for its ``--help`` (what each state means there)."""
    return (f"exit status: {EXIT_OK} verified; {EXIT_INCOMPLETE} incomplete ({incomplete}); "
            f"{EXIT_FAILED} failed ({fails}); {EXIT_BAD_INPUT} unreadable ({unreadable}) or a usage "
            "error. See docs/verification.md.")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def emit_results(results: list[dict[str, Any]], as_json: bool, line: Any,
                 json_value: Any = None) -> int:
    """Print per-input results (JSON, or ``line(row)`` per row with errors on stderr).

    Returns the exit code of the per-input contract: 0 when every input succeeded, 2 otherwise.
    """
    if as_json:
        print_json(results if json_value is None else json_value)
    else:
        for r in results:
            if "error" in r:
                print(f"ERROR  {r['error']}", file=sys.stderr)
            else:
                print(line(r))
    return EXIT_BAD_INPUT if any("error" in r for r in results) else EXIT_OK


def load_detector(args: argparse.Namespace):
    """The torch Detector for ``--checkpoint``/``--device``."""
    from ..inference import Detector

    return Detector.from_checkpoint(args.checkpoint, device=args.device)


def load_fast_detector(args: argparse.Namespace):
    """The ONNX twin when it matches the checkpoint (no torch import), else the torch Detector."""
    if args.device == "cpu" and not os.environ.get("SYNTHCHECK_NO_ONNX"):
        try:
            from ..inference.onnx_backend import OnnxDetector
        except ImportError:  # onnxruntime not installed: torch it is
            pass
        else:
            fast = OnnxDetector.for_checkpoint(args.checkpoint)
            if fast is not None:
                return fast
    return load_detector(args)


def analysis_options(args: argparse.Namespace, **extra: Any):
    """The :class:`synthcheck.analysis.AnalysisOptions` of the common CLI flags."""
    from ..options import AnalysisOptions

    return AnalysisOptions(threshold=args.threshold, band_edges=tuple(getattr(args, "band_edges", DEFAULT_EDGES)),
                           seed=getattr(args, "seed", 0), **extra)


def threshold_arg(text: str) -> float:
    """argparse type: a finite threshold in [0, 1]."""
    from ..options import OptionsError, check_threshold

    try:
        return check_threshold(text)
    except OptionsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def seed_arg(text: str) -> int:
    """argparse type: a seed in [0, 2**32 - 1]."""
    from ..options import OptionsError, check_seed

    try:
        return check_seed(text)
    except OptionsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_detector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="checkpoint file (default: models/synthcheck-default.pt "
                                        "or $SYNTHCHECK_CHECKPOINT)")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    p.add_argument("--threshold", type=threshold_arg, default=DEFAULT_THRESHOLD,
                   help=f"p_fake at or above which the model's raw verdict is FAKE (0 to 1, default "
                        f"{DEFAULT_THRESHOLD:g})")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
