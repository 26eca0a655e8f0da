"""``synthcheck report PATH... --out DIR``: a forensic case report (HTML + JSON)."""

from __future__ import annotations

import argparse
import sys


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..cli import load_detector, print_json
    from ..report import build_report, write_html, write_json

    detector = load_detector(args)
    methods = [] if args.methods == ["none"] else args.methods
    report = build_report(args.paths, detector, seed=args.seed, methods=methods,
                          ela_quality=args.ela_quality, title=args.title)
    out = Path(args.out)
    html = write_html(report, out / f"{args.name}.html")
    js = write_json(report, out / f"{args.name}.json")
    summary = {"html": str(html), "json": str(js), "results_digest": report["results_digest"],
               **report["summary"],
               "images": [{"path": im["input"]["path"], "error": im["error"]} if "error" in im else
                          {"path": im["input"]["path"], "sha256": im["input"]["sha256"],
                           "verdict": im["verdict"]["verdict"], "p_fake": im["verdict"]["p_fake"]}
                          for im in report["images"]]}
    if args.json:
        print_json(summary)
    else:
        for im in summary["images"]:
            if "error" in im:
                print(f"ERROR  {im['error']}", file=sys.stderr)
            else:
                print(f"{im['verdict']:4s}  p_fake={im['p_fake']:.4f}  {im['path']}")
        print(f"report: {html}\n        {js}\ndigest: {report['results_digest']}")
    return 2 if report["summary"]["n_errors"] else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..cli import add_detector_args

    p = subparsers.add_parser("report", help="forensic case report (self-contained HTML + JSON)",
                              description="Analyse images and write a reproducible case report: "
                                          "hashes, EXIF, verdict, explanations with faithfulness, "
                                          "ELA/spectrum/noise views, model identity and limits.")
    p.add_argument("paths", nargs="+", help="image files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", default="report", help="file name stem (default report -> report.html/.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling explainers (default 0)")
    p.add_argument("--methods", nargs="+", default=["gradcam", "gradient_shap", "lime"],
                   help="explanation methods (default: gradcam gradient_shap lime; 'none' for none)")
    p.add_argument("--ela-quality", type=int, default=90, help="JPEG quality of the ELA re-save")
    p.add_argument("--title", default="SynthCheck forensic case report")
    add_detector_args(p)
    p.set_defaults(func=cmd_report)
