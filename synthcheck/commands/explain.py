"""``synthcheck explain IMAGE... [--methods gradcam,shap,lime] [--seed N] [--out DIR] [--json]``.

Prints, per input, ``{"path", "verdict", "p_fake", "target", "methods": {NAME: {"seconds",
"model_evals", "deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc",
"faithfulness_call", "faithfulness_sentence", "curves", "png"}}, "agreement": {...},
"agreement_sentence"}`` (a list, like ``predict``); a bad input gives ``{"path", "error"}`` and
exit code 2. "curves" holds the deletion/insertion points of the method and of the random
baseline. With ``--out DIR`` one overlay PNG per method, a side-by-side PNG (with colour bars)
and a curves PNG per image are written there (the paths are null without ``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path
from typing import Any

from .common import seed_arg


def register(subparsers: Any) -> None:
    """Add the ``explain`` subcommand."""
    from .common import add_detector_args

    p = subparsers.add_parser("explain", help="heatmaps (Grad-CAM, SHAP, LIME) with faithfulness numbers")
    p.add_argument("paths", nargs="+", help="image files")
    p.add_argument("--methods", default="gradcam,shap,lime",
                   help="comma-separated: gradcam, guided_gradcam, gradcam_plus_plus, score_cam, gradient_shap "
                        "(shap), kernel_shap, lime, integrated_gradients, occlusion, smoothgrad")
    p.add_argument("--target", default="predicted",
                   help="predicted | FAKE | REAL (default predicted: the analysis's verdict at --threshold)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the random methods (same seed = same map)")
    p.add_argument("--out", help="folder for the PNG overlays (created if missing)")
    p.add_argument("--no-metrics", action="store_true", help="skip deletion/insertion and agreement")
    p.add_argument("--sanity", action="store_true", help="add the model-randomisation sanity check")
    add_detector_args(p)
    p.set_defaults(func=cmd_explain)


def _stem(path: str, sha256: str | None) -> str:
    """A safe, collision-resistant file stem for an input."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:60] or "image"
    digest = sha256 or hashlib.sha256(path.encode()).hexdigest()
    return f"{stem}_{digest[:8]}"


def explain_one(detector: Any, path: str, loaded: Any, args: argparse.Namespace, methods: list[str],
                out: Path | None) -> dict[str, Any]:
    """The JSON object for one successfully loaded input (PNGs written when ``out`` is set)."""
    from ..analysis import analyze_one
    from ..explain import explain_all
    from ..explain.metrics.verdicts import (
        agreement_sentence,
        faithfulness_call,
        faithfulness_sentence,
    )
    from ..explain.visual import curve_points, curves_png, explanation_png, side_by_side_png
    from .common import analysis_options

    analysis = analyze_one(loaded, detector, analysis_options(args), name=path)
    target = analysis.verdict if args.target.strip().lower() == "predicted" else args.target
    report = explain_all(detector, loaded, methods, target=target, seed=args.seed,
                         with_metrics=not args.no_metrics, with_sanity=args.sanity)
    stem = _stem(path, loaded.sha256)
    rows: dict[str, Any] = {}
    for name, exp in report.explanations.items():
        row: dict[str, Any] = {"seconds": round(exp.seconds, 6), "model_evals": exp.model_evals}
        f = report.faithfulness.get(name, {})
        for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc",
                    "deletion_auc_logit", "insertion_auc_logit"):
            row[key] = round(f[key], 6) if key in f else None
        for key in ("random_deletion_aucs_logit", "random_insertion_aucs_logit"):  # the K random maps
            row[key] = [round(v, 6) for v in f[key]] if key in f else None
        row["faithfulness_call"] = faithfulness_call(f)
        row["faithfulness_sentence"] = faithfulness_sentence(name, f) if f else None
        row["curves"] = curve_points(f) if "deletion_curve" in f else None
        row["png"] = None
        if out is not None:
            png = out / f"{stem}_{name}.png"
            explanation_png(report.image, exp, png)
            row["png"] = str(png)
        if "notes" in exp.params:
            row["notes"] = exp.params["notes"]
        if name in report.sanity:
            row["sanity"] = report.sanity[name]
        rows[name] = row
    record = analysis.to_record()
    result: dict[str, Any] = {**{k: record[k] for k in (
                                  "path", "sha256", "conclusion", "conclusion_label", "conclusion_reason",
                                  "verdict", "threshold", "p_fake", "band", "in_domain", "domain_reasons",
                                  "advisories")},
                              "score_label": analysis.score_label, "target": report.target,
                              "seed": report.seed, "model": detector.model_name, "methods": rows,
                              "agreement": report.to_dict()["agreement"],
                              "agreement_sentence": agreement_sentence(report.agreement)
                              if report.agreement else None,
                              "side_by_side_png": None, "curves_png": None,
                              "seconds": round(report.seconds, 6)}
    if out is not None:
        sbs = out / f"{stem}_side_by_side.png"
        side_by_side_png(report.image, report, sbs)
        result["side_by_side_png"] = str(sbs)
        if report.faithfulness:
            curves = out / f"{stem}_curves.png"
            curves_png(report.faithfulness, curves, target=report.target)
            result["curves_png"] = str(curves)
    return result


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain each input; exit 0 if all succeeded, 2 if any input was rejected."""
    from ..explain import canonical_method
    from ..explain.base import resolve_target
    from ..imageio import ImageError, load_image
    from ..options import check_seed
    from .common import emit_results, load_detector
    from .text import record_lines

    methods = list(dict.fromkeys(canonical_method(m) for m in args.methods.split(",") if m.strip()))
    if not methods:
        raise ValueError("--methods names no method")
    check_seed(args.seed)
    if args.target.strip().lower() != "predicted":
        resolve_target(args.target)  # validate before loading anything
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    detector = load_detector(args)
    results = []
    for path in args.paths:
        try:
            loaded = load_image(path)
        except ImageError as exc:
            results.append({"path": path, "error": str(exc)})
            continue
        results.append(explain_one(detector, path, loaded, args, methods, out))
    def line(r: dict) -> str:
        rows = record_lines(r)
        if not r["in_domain"]:
            rows.append("      The maps below explain a score the model cannot be trusted on here.")
        rows.append(f"      explaining target={r['target']}")
        for name, row in r["methods"].items():
            faith = (f"  deletion {row['deletion_auc']:.3f} (random {row['random_deletion_auc']:.3f})"
                     f"  insertion {row['insertion_auc']:.3f} (random {row['random_insertion_auc']:.3f})"
                     if row["deletion_auc"] is not None else "")
            png = f"  {row['png']}" if row["png"] else ""
            rows.append(f"  {name:15s} {row['seconds'] * 1e3:7.1f} ms  {row['model_evals']:4d} evals{faith}{png}")
            if row["faithfulness_sentence"]:
                rows.append(f"      {row['faithfulness_sentence']}")
        if r["agreement_sentence"]:
            rows.append(f"  agreement: {r['agreement_sentence']}")
        if r["curves_png"]:
            rows.append(f"  curves: {r['curves_png']}")
        return "\n".join(rows)

    # one IMAGE: one object (the documented contract); several: an array of them
    return emit_results(results, args.json, line, results[0] if len(results) == 1 else None)
