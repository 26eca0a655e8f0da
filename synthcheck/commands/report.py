"""``synthcheck report``: signed case reports, and ``synthcheck report verify`` to check one.

``synthcheck report PATH... --out DIR [--no-sign]`` analyses images and writes ``report.json``
(Ed25519-signed unless ``--no-sign``), ``report.html`` and ``report.pdf``.

``synthcheck report verify REPORT.json [--images DIR] [--fingerprint HEX] [--json]`` checks the
signature, the exact bytes and, with ``--images``, that every analysed image is in DIR with its
recorded SHA-256. Exit 0 verified, 3 incomplete (signature valid, some images not supplied),
1 failed, 2 unreadable or usage error (:data:`.common.EXIT_FOR_STATUS`).

``verify`` as the first positional always means the subcommand; to report on an image file
literally named ``verify``, pass it as ``./verify``.
"""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_BAD_INPUT, EXIT_FOR_STATUS, seed_arg, verify_epilog

VERIFY = "verify"


def _usage_error(message: str) -> int:
    print(f"synthcheck report: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_report(args: argparse.Namespace) -> int:
    if args.paths and args.paths[0] == VERIFY:
        if len(args.paths) != 2:
            return _usage_error("usage: synthcheck report verify REPORT.json [--images DIR] "
                                "[--fingerprint HEX] [--json]")
        if args.out is not None:
            return _usage_error("--out is not used by `report verify`")
        return cmd_verify(args.paths[1], args.images, args.fingerprint, args.json)
    if args.images is not None or args.fingerprint is not None:
        return _usage_error("--images and --fingerprint belong to `synthcheck report verify`")
    if args.out is None:
        return _usage_error("the following argument is required: --out")
    return cmd_make(args)


def _ensure_control_run(detector, mode: str, quiet: bool) -> None:
    """Run the control run first unless a passed one from today with this model is on record."""
    from ..evaluation.selfcheck import control_run_section, run_selfcheck, summary_line

    if mode == "never":
        return
    if mode == "auto" and control_run_section(detector).get("current"):
        return
    result = run_selfcheck(detector)
    if not quiet:
        print(f"control run: {summary_line(result)}", file=sys.stderr)


def cmd_make(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..progress import Progress
    from ..reporting.build import build_report, write_json
    from ..reporting.bundle import write_report_bundle
    from ..reporting.html import write_html
    from ..reporting.pdf import write_pdf
    from ..reporting.signing import group_fingerprint, public_fingerprint
    from .common import load_detector, print_json
    from .text import record_text

    detector = load_detector(args)
    _ensure_control_run(detector, args.control_run, args.json)
    methods = [] if args.methods == ["none"] else args.methods
    with Progress("report", len(args.paths)) as progress:  # a bar on a terminal's stderr only
        report = build_report(args.paths, detector, seed=args.seed, methods=methods,
                              ela_quality=args.ela_quality, title=args.title, progress=progress,
                              threshold=args.threshold)
    out = Path(args.out)
    if args.sign:
        files = write_report_bundle(report, out, args.name)
        fingerprint = public_fingerprint()
    else:
        files = {"json": write_json(report, out / f"{args.name}.json"),
                 "html": write_html(report, out / f"{args.name}.html"),
                 "pdf": write_pdf(report, out / f"{args.name}.pdf")}
        fingerprint = None
    summary = {"html": str(files["html"]), "json": str(files["json"]), "pdf": str(files["pdf"]),
               "signed": bool(args.sign), "fingerprint": fingerprint,
               "control_run": {k: report["control_run"].get(k) for k in ("status", "current", "sentence")},
               "results_digest": report["results_digest"], **report["summary"],
               "images": [{"path": im["input"]["path"], "error": im["error"]} if "error" in im else
                          {k: im["record"][k] for k in ("path", "sha256", "conclusion", "verdict",
                                                        "p_fake", "band", "in_domain")}
                          for im in report["images"]]}
    if args.json:
        print_json(summary)
    else:
        for im in report["images"]:
            if "error" in im:
                print(f"ERROR  {im['error']}", file=sys.stderr)
            else:
                print(record_text(im["record"]))
        print(f"report: {files['json']}{' (signed)' if args.sign else ' (NOT signed)'}\n"
              f"        {files['html']}\n        {files['pdf']}\ndigest: {report['results_digest']}")
        if fingerprint:
            print(f"key:    {group_fingerprint(fingerprint)}")
        print(f"control run: {report['control_run']['sentence']}")
    return 2 if report["summary"]["n_errors"] else 0


def cmd_verify(path: str, images: str | None, fingerprint: str | None, as_json: bool) -> int:
    """Verify one signed report file; print the outcome; exit by its state (see module docstring)."""
    from ..reporting.signing import group_fingerprint, verify_report
    from .common import print_json

    check = verify_report(path, images_dir=images, trusted_fingerprint=fingerprint)
    if as_json:
        print_json(check.to_dict())
    elif check.status == "unreadable":
        print(f"synthcheck report verify: error: {check.problems[0]}", file=sys.stderr)
    else:
        print(f"{check.status.upper()}  {path}\n  {check.summary()}")
        print(f"  signing key  {group_fingerprint(check.fingerprint) or '-'}")
        if fingerprint is None and check.fingerprint:
            print("               (compare with the fingerprint the report's author published, "
                  "or pass --fingerprint)")
        if check.signed_utc:
            print(f"  signed at    {check.signed_utc}")
        for note in check.notes:
            print(f"  note: {note}")
        for problem in check.problems:
            print(f"  PROBLEM: {problem}")
        for row in check.images:
            if row["status"] == "missing":
                print(f"  not supplied: {row['image']} (SHA-256 {row['sha256'][:16]}...)")
    return EXIT_FOR_STATUS[check.status]


def register(subparsers: argparse._SubParsersAction) -> None:
    from .common import add_detector_args

    p = subparsers.add_parser(
        "report", help="signed forensic case report (JSON + HTML + PDF); `report verify` checks one",
        usage="synthcheck report PATH... --out DIR [--no-sign] [options]\n"
              "       synthcheck report verify REPORT.json [--images DIR] [--fingerprint HEX] [--json]",
        description="Analyse images and write a reproducible case report: hashes, EXIF, provenance "
                    "signals, verdict, tile grid, explanations with faithfulness, ELA/spectrum/noise "
                    "views, model identity and limits, and the latest control run. The JSON is signed "
                    "with this installation's Ed25519 key (created on first use under "
                    "$SYNTHCHECK_HOME/keys). `synthcheck report verify` checks a signed report "
                    "(and, with --images, the images it lists). A first positional `verify` always "
                    "means the subcommand (name an image file called verify as ./verify).",
        epilog="report verify " + verify_epilog(
            "bad or missing signature, content altered after signing, another key than --fingerprint, "
            "or a file in --images under a listed image's name with other bytes",
            "signature valid and every supplied image matches, but some listed images were not "
            "supplied: no --images, or not all of them in it",
            "not a JSON report, nested too deeply, a file that cannot be read, --images not a folder"))
    p.add_argument("paths", nargs="+", help="image files (or: verify REPORT.json)")
    p.add_argument("--out", help="output folder (required when making a report)")
    p.add_argument("--name", default="report", help="file name stem (default report -> report.json/.html/.pdf)")
    p.add_argument("--sign", action=argparse.BooleanOptionalAction, default=True,
                   help="sign the JSON with this installation's Ed25519 key (default: sign)")
    p.add_argument("--control-run", choices=("auto", "always", "never"), default="auto",
                   help="run `synthcheck selfcheck` first: auto = unless a passed run from today with "
                        "this model is on record (default), always, or never")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the sampling explainers (default 0)")
    p.add_argument("--methods", nargs="+", default=["gradcam", "gradient_shap", "lime"],
                   help="explanation methods (default: gradcam gradient_shap lime; 'none' for none)")
    p.add_argument("--ela-quality", type=int, default=90, help="JPEG quality of the ELA re-save")
    p.add_argument("--title", default="SynthCheck forensic case report")
    p.add_argument("--images", help="verify only: folder holding the analysed images (found by SHA-256)")
    p.add_argument("--fingerprint", help="verify only: the signing key fingerprint you trust (hex; "
                                         "spaces and colons ignored)")
    add_detector_args(p)
    p.set_defaults(func=cmd_report)
