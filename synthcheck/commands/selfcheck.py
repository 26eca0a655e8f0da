"""``synthcheck selfcheck``: the control run on the bundled known-truth images (exit 0 pass, 1 fail)."""

from __future__ import annotations

import argparse


def print_selfcheck(result: dict, saved: str | None = None) -> None:
    """Human summary of a control run on stdout."""
    from ..evaluation.selfcheck import summary_line

    print(summary_line(result))
    print(f"model {result.get('model_name')}  {result.get('checkpoint') or '(in memory)'}  "
          f"sha256 {result.get('model_sha256') or '-'}")
    for d in result["details"]:
        if not d.get("correct"):
            what = d.get("error") or f"called {d.get('verdict')} (p_fake {d.get('p_fake'):.3f})"
            print(f"  wrong: {d['file']} is {d['label']}, {what}")
    for p in result["problems"]:
        print(f"  problem: {p}")
    if saved:
        print(f"saved: {saved}")


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from ..evaluation.selfcheck import run_selfcheck, selfcheck_dir
    from .common import load_detector, print_json

    result = run_selfcheck(load_detector(args))
    if args.json:
        print_json(result)
    else:
        print_selfcheck(result, str(selfcheck_dir() / "latest.json"))
    return 0 if result["ok"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    from .common import add_detector_args

    p = subparsers.add_parser(
        "selfcheck", help="control run: score 48 bundled known images, compare with the checkpoint",
        description="Score the 48 bundled CIFAKE test images (24 REAL, 24 FAKE, none seen in "
                    "training) and compare the accuracy with the test accuracy recorded in the "
                    "checkpoint (fails when the errors exceed the binomial upper tail at "
                    "P < 0.001, or when a bundled image was changed). The run is saved under "
                    "$SYNTHCHECK_HOME/selfcheck and shown in every report. Exit 0 pass, 1 fail.")
    add_detector_args(p)
    p.set_defaults(func=cmd_selfcheck)
