"""``synthcheck explain-eval DATA [--n N] [--methods LIST|all] [--seed S] [--out DIR] [--json]
[--include-ood] [--random-maps K]``: compare explanation methods on a data set.

DATA is a REAL/FAKE folder, a plain folder, a ZIP or a manifest (the scan's readers). Prints the
leaderboard (or, with ``--json``, the whole JSON) and writes OUT/explain_eval.{json,csv,html}.
Work is cached under OUT/cache (or ``--cache``): a re-run computes only what is missing. The
logic lives in :mod:`synthcheck.evaluation.explanations`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import seed_arg


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``explain-eval`` subcommand."""
    from .common import add_detector_args

    p = subparsers.add_parser("explain-eval", help="compare explanation methods on a data set (with intervals)")
    p.add_argument("data", nargs="+", help="REAL/FAKE folder, plain folder, ZIP or manifest")
    p.add_argument("--n", type=_positive, default=100, help="images to sample, stratified by class (default 100)")
    p.add_argument("--methods", default="all", help="comma-separated method names, or 'all' (default)")
    p.add_argument("--seed", type=seed_arg, default=0, help="sampling, random maps and the methods' seed")
    p.add_argument("--out", default="explain-eval", help="output folder (default ./explain-eval)")
    p.add_argument("--cache", help="cache folder (default OUT/cache)")
    p.add_argument("--include-ood", action="store_true", help="also sample images the domain check rejects")
    p.add_argument("--random-maps", type=_positive, default=20, help="K random maps per image (default 20)")
    p.add_argument("--steps", type=_positive, default=16, help="deletion/insertion curve steps (default 16)")
    p.add_argument("--sanity-images", type=int, default=None,
                   help="run the cascading sanity check on the first N sampled images (default all; 0 = none)")
    p.add_argument("--exclude", help="text/TSV file of relative paths to leave out (first column), e.g. "
                                     "CIFAKE's test-duplicates-of-train.tsv")
    p.add_argument("--option", action="append", default=[], metavar="METHOD.KEY=VALUE",
                   help="a method option, e.g. lime.num_samples=128 (repeatable; the value is JSON)")
    add_detector_args(p)
    p.set_defaults(func=cmd_explain_eval)


def method_options(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``["lime.num_samples=128"]`` -> ``{"lime": {"num_samples": 128}}`` (values parsed as JSON)."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        method, dot, name = key.partition(".")
        if not (sep and dot and method and name):
            raise ValueError(f"--option must look like METHOD.KEY=VALUE, not {pair!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(method.strip(), {})[name.strip()] = value
    return out


def cmd_explain_eval(args: argparse.Namespace) -> int:
    from ..evaluation.explanations import BenchConfig, MetricSettings, evaluate, read_exclusions
    from ..evaluation.explanations.report import markdown_table, tie_group_lines, write_outputs
    from ..explain import list_methods
    from ..progress import Progress
    from .common import EXIT_OK, load_detector, print_json

    names = list_methods() if args.methods.strip().lower() == "all" else \
        [m for m in args.methods.split(",") if m.strip()]
    config = BenchConfig(tuple(names), seed=args.seed,
                         settings=MetricSettings(n_random=args.random_maps, n_steps=args.steps),
                         sanity_images=args.sanity_images, method_options=method_options(args.option))
    out = Path(args.out)
    detector = load_detector(args)
    with Progress("sampling", args.n) as sp, Progress("explain-eval", args.n) as bar:
        result, run = evaluate(detector, args.data, config, n=args.n, cache_dir=args.cache or out / "cache",
                               threshold=args.threshold, include_ood=args.include_ood,
                               exclude=read_exclusions(args.exclude), progress=bar, sample_progress=sp)
    write_outputs(result, run, out)
    if args.json:
        print_json(result)
    else:
        print(f"{result['n_images']} images, {len(config.methods)} methods, target = {result['target']}")
        print(markdown_table(result), end="")
        print("\n".join(tie_group_lines(result)))
        print(f"written: {', '.join(result['outputs'].values())}")
    return EXIT_OK
