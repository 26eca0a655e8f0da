"""``synthcheck scan``: many images (folders, ZIPs, manifests) into one resumable results file."""

from __future__ import annotations

import argparse
import json
import sys

from ..bands import DEFAULT_EDGES
from .common import EXIT_BAD_INPUT, EXIT_OK, add_detector_args, print_json


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a worker count (a whole number, 1 or more).")
    return n


def _progress_line(done: int, total: int | None) -> None:
    """One JSON line on stdout per progress step (``--progress-jsonl``: the dashboard reads it)."""
    print(json.dumps({"done": done, "total": total}), flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.engine == "local":  # the workers' fork server loads its modules while we load ours
        from ..scan.engine_local import start_fork_server

        start_fork_server()
    from ..inference.base import default_checkpoint
    from ..scan import DetectorSpec, scan

    options = {"band_edges": tuple(args.band_edges), "tiles": args.tiles}
    spec = DetectorSpec(str(args.checkpoint or default_checkpoint()), backend=args.backend,
                        device=args.device, threshold=args.threshold, options=options)
    summary = scan(args.sources, args.out, spec=spec, engine=args.engine, workers=args.workers,
                   chunk_size=args.chunk_size, address=args.address,
                   progress=_progress_line if args.progress_jsonl else None)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(f"{summary.counts['n_images']:,} rows in {summary.results} "
              f"({summary.n_new:,} new at {summary.images_per_s:,.0f} images/s, "
              f"{summary.n_skipped:,} already there): {summary.phrase}, "
              f"{summary.counts['n_errors']:,} errors.", file=sys.stderr)
    return EXIT_BAD_INPUT if summary.counts["n_errors"] else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="score folders, ZIPs and manifests into a resumable "
                                    "Parquet/JSONL results file")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="folder (walked recursively), ZIP archive, image file, or manifest "
                        "(.txt/.lst: one path per line; .csv: a 'path' column)")
    p.add_argument("--out", required=True, metavar="RESULTS",
                   help="results file, .parquet or .jsonl; run again to resume")
    p.add_argument("--workers", type=_workers, default=None,
                   help="worker processes (default: the cores available)")
    p.add_argument("--chunk-size", type=_workers, default=512, help="inputs per task and part file")
    p.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto",
                   help="model runtime in the workers (auto: ONNX twin when it matches, else torch)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray Data (pip install 'synthcheck[ray]')")
    p.add_argument("--address", help="Ray cluster to join: ray://HOST:10001 or auto "
                                     "(default: a local Ray)")
    p.add_argument("--band-edges", type=float, nargs=2, default=DEFAULT_EDGES, metavar=("LOW", "HIGH"),
                   help="calibrated p_fake below LOW is likely_real, at or above HIGH likely_synthetic")
    p.add_argument("--tiles", action="store_true", help="also score native-resolution patches")
    p.add_argument("--progress-jsonl", action="store_true",
                   help='print {"done": N, "total": M} lines on stdout as the scan goes (for a '
                        "program that follows it, e.g. the dashboard)")
    add_detector_args(p)
    p.set_defaults(func=_run)
