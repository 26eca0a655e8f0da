"""Forensic case reports: everything an investigator needs about each image, reproducibly.

``build_report(sources, detector, seed=...)`` returns a JSON-friendly dict; ``write_json`` and
``write_html`` (one self-contained file, pictures inlined as base64 PNG, rendered with the
Jinja2 template ``synthcheck/templates/report.html.j2``) save it. Per image: SHA-256 of the
file bytes (equal to ``sha256sum``), size, format, dimensions, EXIF, verdict and p_fake,
explanation overlays (Grad-CAM, SHAP, LIME) with their faithfulness numbers, ELA / spectrum /
noise views, provenance signals (C2PA, generator metadata; shown beside the verdict, never
folded into p_fake) and, for large images, the native-resolution tile grid; per case: model
name, checkpoint hash and metrics, software versions, a timestamp, the model's limits in plain
words and the latest control run (``synthcheck selfcheck``). Signed JSON + HTML + PDF bundles
come from :func:`synthcheck.reporting.bundle.write_report_bundle`.

Reproducible: the same inputs, checkpoint and seed give the same numbers and pictures;
``results_digest`` (SHA-256 over model, settings and per-image results, without timestamps
or timings) lets anyone check that.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import __version__
from ..analysis import (
    Analysis,
    AnalysisOptions,
    conclusion_label,
    explanations_heading,
    iter_analyze,
    summarize,
)
from ..bands import DEFAULT_EDGES, DEFAULT_THRESHOLD, band_label
from ..data.dataset import known_dataset
from ..evaluation.figures import percent
from ..explain.metrics.verdicts import map_trust
from ..explain.visual import map_picture, overlay
from ..forensics import enlarge_to, fit_size, forensic_views
from ..imageio import png_base64
from ..metadata import read_exif
from ..timestamps import utc_now

REPORT_VERSION = 1
DEFAULT_METHODS = ("gradcam", "gradient_shap", "lime")
METHOD_TITLES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM",
                 "gradient_shap": "SHAP (GradientSHAP)", "kernel_shap": "SHAP (KernelSHAP)",
                 "lime": "LIME"}
DISPLAY_SIDE = 256  # small pictures are enlarged (nearest neighbour) to about this side
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


# -- small helpers ------------------------------------------------------------------------
def display_png(rgb: np.ndarray) -> str:
    return png_base64(enlarge_to(fit_size(rgb, 512), DISPLAY_SIDE))


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _drop_timing(obj: Any) -> Any:
    """Remove wall-clock fields (``seconds`` ...) so reports of the same inputs are identical."""
    if isinstance(obj, dict):
        return {k: _drop_timing(v) for k, v in obj.items()
                if k not in ("seconds", "metrics_seconds", "wall_seconds")}
    if isinstance(obj, list):
        return [_drop_timing(v) for v in obj]
    return obj


def software_versions() -> dict[str, str]:
    import torch

    out = {"synthcheck": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "pillow": Image.__version__, "platform": platform.platform()}
    try:
        import captum

        out["captum"] = captum.__version__
    except ImportError:
        pass
    return out


def model_section(detector: Any, threshold: float) -> dict[str, Any]:
    """Identity, preprocessing, calibration, the analysis's ``threshold`` and the checkpoint's
    recorded metrics."""
    meta = detector.meta
    keys = ("n_images", "accuracy", "precision", "recall", "f1", "roc_auc", "ece", "confusion_matrix")
    metrics = {split: {k: m.get(k) for k in keys if k in m}
               for split, m in (meta.get("metrics") or {}).items() if isinstance(m, dict)}
    ident = detector.describe()
    return {"name": ident["name"], "checkpoint": ident["checkpoint"], "checkpoint_sha256": ident["sha256"],
            "input_size": detector.input_size, "temperature": round(detector.temperature, 6),
            "threshold": float(threshold), "class_names": list(detector.class_names),
            "code_version": meta.get("code_version"), "metrics": metrics,
            "data": {k: v for k, v in (meta.get("data") or {}).items() if k != "root"},
            "training": dict(meta.get("training") or {})}


def _training_data_sentence(meta: dict[str, Any]) -> str:
    n = (meta.get("data") or {}).get("n_train")
    count = f"{n:,} " if isinstance(n, int) else ""
    known = known_dataset(meta)
    if known:
        what = f"{known} ({count}training images)" if count else known
    else:
        what = f"one data set ({count}training images)" if count else "one data set"
    return (f"It was trained on {what}. Images from other generators, cameras or subjects may be "
            "judged wrongly, and the score says nothing about how an image was edited.")


def model_limits(detector: Any, threshold: float = DEFAULT_THRESHOLD) -> list[str]:
    """What the model can and cannot tell, in plain words, with the checkpoint's own numbers and
    the decision ``threshold`` in use."""
    s = detector.input_size
    test = (detector.meta.get("metrics") or {}).get("test") or {}
    limits = [
        f"The model looks at a {s}x{s}-pixel copy of each image. Larger images are shrunk first, "
        "so fine detail (and any trace that lives in it) is lost.",
        _training_data_sentence(detector.meta),
        f"p_fake is a calibrated score, not a proof: at the {threshold:g} threshold a fraction of real "
        "images is called FAKE and of synthetic images REAL (see the error rates below).",
        "Re-compression, resizing, blurring, added noise and deliberate adversarial changes "
        "move the score; run `synthcheck robustness` to see by how much.",
        "Explanation maps show which pixels the model's score depends on, not where an image "
        "was manipulated; the faithfulness numbers say how well each map predicts the model "
        "(lower deletion AUC / higher insertion AUC than random = more faithful).",
        "ELA, spectrum and noise views are classical aids that need an expert's reading; "
        "they are shown beside the model, not used by it.",
    ]
    cm = test.get("confusion_matrix")
    if cm and len(cm) == 2:
        (tn, fp), (fn, tp) = cm
        fpr = fp / max(1, tn + fp)
        fnr = fn / max(1, fn + tp)
        limits.append(f"On its own test set ({test.get('n_images')} images) it called {fpr:.1%} of "
                      f"real images FAKE and {fnr:.1%} of synthetic images REAL "
                      f"(accuracy {percent(test.get('accuracy'))}).")
    return limits


# -- one image ----------------------------------------------------------------------------
def image_entry(a: Analysis, detector: Any, *, ela_quality: int = 90) -> dict[str, Any]:
    """The report section of one :class:`Analysis` (an ``error`` entry if it could not be read).

    Conclusion, verdict, band, domain, provenance and tiles are the analysis's own, so the report
    says what every other face says; the report adds EXIF, pictures and forensic views.
    """
    if a.error is not None:
        return {"input": {"path": a.name}, "error": a.error}
    loaded = a.loaded
    info = loaded.info()
    record = a.to_record()
    entry: dict[str, Any] = {"input": {"path": a.name, **{k: info[k] for k in (
        "sha256", "bytes", "format", "mode", "width", "height", "frames", "notes")}},
        "exif": read_exif(loaded.raw) if loaded.raw is not None else {}}
    entry["conclusion"] = {"conclusion": a.conclusion, "label": conclusion_label(a.conclusion),
                           "reason": a.reason, "score_label": a.score_label,
                           "score_reliable": a.score_reliable}
    entry["verdict"] = {"verdict": a.verdict, "p_fake": record["p_fake"],
                        "p_fake_raw": record["uncalibrated_p_fake"],
                        "logits": [round(v, 6) for v in a.logits], "threshold": a.threshold,
                        "band": a.band, "band_label": band_label(a.band)}
    entry["domain"] = a.domain.to_dict()
    entry["provenance"] = a.provenance.to_dict()
    entry["tiles"] = record.get("tiles")
    entry["tile_note"] = record.get("tile_note")
    entry["record"] = record
    model_input = detector.to_array(loaded)
    entry["pictures"] = {"original": display_png(np.asarray(loaded.image)),
                         "model_input": display_png(model_input)}
    entry["explanations"] = _explanations(a.explanations, model_input, a.score_reliable)
    views = forensic_views(loaded, quality=ela_quality)
    entry["forensics"] = {name: {**{k: v for k, v in view.items() if k != "image"},
                                 "picture": None if view["image"] is None else display_png(view["image"])}
                          for name, view in views.items()}
    return entry


def _explanations(rep: Any, model_input: np.ndarray, reliable: bool = True) -> dict[str, Any]:
    """The explanation section from the analysis's :class:`ExplanationReport` (None: none asked);
    ``reliable`` False (cannot assess): its heading says the maps explain an unreliable score."""
    if rep is None:
        return {"methods": {}, "agreement": {}, "note": "no explanation method requested"}
    summary = _drop_timing(rep.to_dict())
    out: dict[str, Any] = {"target": rep.target, "heading": explanations_heading(rep.target, reliable),
                           "reliable": bool(reliable), "methods": {},
                           "agreement": summary.get("agreement", {})}
    for name, ex in rep.explanations.items():
        out["methods"][name] = {
            "title": METHOD_TITLES.get(name, name), "signed": bool(ex.signed),
            "p_target": round(float(ex.p_target), 6), "params": summary["explanations"][name].get("params", {}),
            "model_evals": ex.model_evals, "faithfulness": summary["faithfulness"].get(name, {}),
            "trust": map_trust(METHOD_TITLES.get(name, name), rep.faithfulness.get(name)),
            "overlay": display_png(overlay(model_input, ex.map)),
            "map": display_png(map_picture(ex.map, ex.signed)),
        }
    return out


# -- the case -----------------------------------------------------------------------------
def build_report(sources: Sequence[Any], detector: Any, seed: int = 0,
                 methods: Sequence[str] = DEFAULT_METHODS, *, title: str = "SynthCheck forensic case report",
                 explain_options: dict[str, dict[str, Any]] | None = None, ela_quality: int = 90,
                 created_utc: str | None = None, control_run: dict[str, Any] | None = None,
                 threshold: float | None = None, band_edges: Sequence[float] = DEFAULT_EDGES,
                 progress: Any = None, refused: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Analyse every source (:func:`synthcheck.analysis.iter_analyze`) and assemble the report.

    A source is a path, raw bytes, a ``(name, bytes)`` upload or a LoadedImage (no EXIF then).
    ``control_run`` is a saved :func:`synthcheck.evaluation.selfcheck.run_selfcheck` result (e.g. a case's
    latest); by default the installation's latest one is shown, with plain words on whether it
    is from the report's day and model. ``progress(n_done)`` is called after each image.
    ``refused`` lists the files offered but refused before analysis (a case's ``refused_files``):
    they are counted in the summary (``n_refused``) and listed with their reasons, so the report
    accounts for every file offered.
    """
    if isinstance(sources, (str, os.PathLike, bytes)):
        sources = [sources]
    methods = list(dict.fromkeys(methods))
    options = AnalysisOptions(threshold=threshold, band_edges=tuple(band_edges), tiles=True, seed=seed,
                              explain=tuple(methods), explain_options=explain_options).resolved()
    images = []
    for a in iter_analyze(sources, detector, options, batch_size=1):
        images.append(image_entry(a, detector, ela_quality=ela_quality))
        a.loaded = None  # release the pixels as soon as the section is written
        if progress:
            progress(len(images))
    model = model_section(detector, options.threshold)
    settings = {"seed": options.seed, "methods": methods, "ela_quality": int(ela_quality),
                "explain_options": explain_options or {}, "threshold": options.threshold,
                "band_edges": list(options.band_edges)}
    created_utc = created_utc or utc_now()
    report = {
        "report": {"title": title, "version": REPORT_VERSION, "created_utc": created_utc},
        "settings": settings,
        "software": software_versions(),
        "model": model,
        "limits": model_limits(detector, options.threshold),
        "summary": {**summarize(im["record"] if "record" in im else {"error": im["error"]}
                                for im in images), "n_refused": len(refused)},
        "images": images,
        "refused": [refused_entry(r) for r in refused],
        "control_run": _control_run(detector, created_utc, control_run),
    }
    report["results_digest"] = _digest({"settings": settings, "model": model, "images": images})
    return report


REFUSED_FIELDS = ("name", "source", "bytes", "sha256", "reason", "refused_utc", "recorded_in")


def refused_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """One refused file as the report lists it (missing fields are None)."""
    return {k: row.get(k) for k in REFUSED_FIELDS}


def _control_run(detector: Any, created_utc: str, run: dict[str, Any] | None) -> dict[str, Any]:
    """The report's control-run section (never fails the report)."""
    try:
        from ..evaluation.selfcheck import control_run_section

        return control_run_section(detector, created_utc, run=run)
    except Exception as exc:  # a damaged saved run must not stop the analysis
        return {"status": "none", "current": False,
                "sentence": f"The control-run record could not be read ({exc}); run `synthcheck selfcheck`."}


def write_json(report: dict[str, Any], path: str | os.PathLike, pictures: bool = True) -> Path:
    """Save the report as JSON (``pictures=False`` leaves the base64 PNGs out)."""
    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items()
                    if pictures or k not in ("picture", "pictures", "overlay", "map")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(strip(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
