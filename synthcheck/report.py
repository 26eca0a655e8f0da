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
come from :func:`synthcheck.signing.write_report_bundle`.

Reproducible: the same inputs, checkpoint and seed give the same numbers and pictures;
``results_digest`` (SHA-256 over model, settings and per-image results, without timestamps
or timings) lets anyone check that.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image

from . import __version__
from .bands import band_for, band_label
from .forensics import fit_size, forensic_views, upscale_nearest
from .imageio import DEFAULT_MAX_BYTES, ImageError, LoadedImage, load_image
from .provenance import read_provenance
from .results import domain_of
from .tiles import tile_grid

REPORT_VERSION = 1
DEFAULT_METHODS = ("gradcam", "gradient_shap", "lime")
METHOD_TITLES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM",
                 "gradient_shap": "SHAP (GradientSHAP)", "kernel_shap": "SHAP (KernelSHAP)",
                 "lime": "LIME"}
DISPLAY_SIDE = 256  # small pictures are enlarged (nearest neighbour) to about this side
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


# -- small helpers ------------------------------------------------------------------------
def png_b64(rgb: np.ndarray) -> str:
    """uint8 HxW[x3] -> base64 PNG (deterministic bytes for the same pixels)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def display_png(rgb: np.ndarray) -> str:
    return png_b64(upscale_nearest(fit_size(rgb, 512), DISPLAY_SIDE))


def _exif_value(v: Any) -> Any:
    if isinstance(v, bytes):
        text = v.rstrip(b"\0")
        try:
            s = text.decode("utf-8")
            return s if s.isprintable() else f"<{len(v)} bytes>"
        except UnicodeDecodeError:
            return f"<{len(v)} bytes>"
    if isinstance(v, (tuple, list)):
        return [_exif_value(x) for x in v][:32]
    if isinstance(v, (int, str, bool)) or v is None:
        return v
    try:  # IFDRational and friends
        f = float(v)
        return round(f, 6) if np.isfinite(f) else str(v)
    except (TypeError, ValueError):
        return str(v)


def read_exif(data: bytes) -> dict[str, Any]:
    """EXIF tags by name (main IFD, Exif sub-IFD, GPS) from raw file bytes; {} when none."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            exif = img.getexif()
            out: dict[str, Any] = {}
            for tag, value in exif.items():
                out[ExifTags.TAGS.get(tag, f"Tag{tag}")] = _exif_value(value)
            for ifd, table in ((ExifTags.IFD.Exif, ExifTags.TAGS), (ExifTags.IFD.GPSInfo, ExifTags.GPSTAGS)):
                try:
                    sub = exif.get_ifd(ifd)
                except Exception:  # malformed sub-IFD: keep what we have
                    continue
                for tag, value in sub.items():
                    out[table.get(tag, f"Tag{tag}")] = _exif_value(value)
            out.pop("ExifOffset", None)
            out.pop("GPSInfo", None)
            return dict(sorted(out.items()))
    except Exception:  # EXIF is optional evidence: never fail the report on it
        return {}


def _map_to_rgb(m: np.ndarray, signed: bool) -> np.ndarray:
    """A map as a colour picture: jet for unsigned, blue-white-red for signed."""
    from matplotlib import colormaps

    m = np.asarray(m, dtype=np.float64)
    if signed:
        lim = float(np.abs(m).max()) or 1.0
        t, cmap = (m / lim + 1) / 2, colormaps["bwr"]
    else:
        lo, hi = float(m.min()), float(m.max())
        t, cmap = (m - lo) / ((hi - lo) or 1.0), colormaps["jet"]
    return (cmap(np.clip(t, 0, 1))[..., :3] * 255 + 0.5).astype(np.uint8)


def overlay_picture(image: np.ndarray, m: np.ndarray, signed: bool) -> np.ndarray:
    """The explanation over the model's input: ``synthcheck.explain.visual.overlay`` if present."""
    try:
        from .explain.visual import overlay

        return overlay(image, m)
    except ImportError:
        heat = _map_to_rgb(m, signed)
        return (0.5 * image.astype(np.float32) + 0.5 * heat).round().astype(np.uint8)


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


def model_section(detector: Any) -> dict[str, Any]:
    """Identity, preprocessing, calibration and the checkpoint's recorded metrics."""
    meta = detector.meta
    keys = ("n_images", "accuracy", "precision", "recall", "f1", "roc_auc", "ece", "confusion_matrix")
    metrics = {split: {k: m.get(k) for k in keys if k in m}
               for split, m in (meta.get("metrics") or {}).items() if isinstance(m, dict)}
    ident = detector.describe()
    return {"name": ident["name"], "checkpoint": ident["checkpoint"], "checkpoint_sha256": ident["sha256"],
            "input_size": detector.input_size, "temperature": round(detector.temperature, 6),
            "threshold": detector.threshold, "class_names": list(detector.class_names),
            "code_version": meta.get("code_version"), "metrics": metrics,
            "data": {k: v for k, v in (meta.get("data") or {}).items() if k != "root"},
            "training": dict(meta.get("training") or {})}


def _training_data_sentence(meta: dict[str, Any]) -> str:
    data = meta.get("data") or {}
    source = f"{data.get('root') or ''} {(meta.get('config') or {}).get('data') or ''}".lower()
    n = data.get("n_train")
    count = f"{n:,} " if isinstance(n, int) else ""
    if "cifake" in source:
        what = (f"CIFAKE ({count}training images: small CIFAR-10 photos versus images from one "
                "Stable Diffusion version)")
    else:
        what = f"one data set ({count}training images)" if count else "one data set"
    return (f"It was trained on {what}. Images from other generators, cameras or subjects may be "
            "judged wrongly, and the score says nothing about how an image was edited.")


def model_limits(detector: Any) -> list[str]:
    """What the model can and cannot tell, in plain words, with the checkpoint's own numbers."""
    s = detector.input_size
    test = (detector.meta.get("metrics") or {}).get("test") or {}
    limits = [
        f"The model looks at a {s}x{s}-pixel copy of each image. Larger images are shrunk first, "
        "so fine detail (and any trace that lives in it) is lost.",
        _training_data_sentence(detector.meta),
        f"p_fake is a calibrated score, not a proof: at the {detector.threshold:g} threshold a fraction of real "
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
                      f"(accuracy {test.get('accuracy', 0):.2%}).")
    return limits


# -- one image ----------------------------------------------------------------------------
def _read(source: Any) -> tuple[str, bytes | None, LoadedImage]:
    if isinstance(source, LoadedImage):
        return source.name, None, source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file() or path.stat().st_size > DEFAULT_MAX_BYTES:
            load_image(path)  # raises the usual one-sentence ImageError
        try:
            data = path.read_bytes()  # read once: the hash and the pixels come from these bytes
        except OSError as exc:
            raise ImageError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
        return str(source), data, load_image(data, name=str(source))
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        return "<bytes>", data, load_image(data)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], (bytes, bytearray)):
        name, data = str(source[0]), bytes(source[1])  # an upload: (file name, bytes)
        return name, data, load_image(data, name=name)
    loaded = load_image(source)
    return loaded.name, None, loaded


def image_entry(source: Any, detector: Any, *, seed: int, methods: Sequence[str],
                explain_options: dict[str, dict[str, Any]] | None = None,
                ela_quality: int = 90) -> dict[str, Any]:
    """The report section of one image (an ``error`` entry if it cannot be read)."""
    try:
        label, data, loaded = _read(source)
    except ImageError as exc:
        label = str(source) if isinstance(source, (str, os.PathLike)) else (
            str(source[0]) if isinstance(source, tuple) else "<input>")
        return {"input": {"path": label}, "error": str(exc)}
    info = loaded.info()
    entry: dict[str, Any] = {"input": {"path": label, **{k: info[k] for k in (
        "sha256", "bytes", "format", "mode", "width", "height", "frames", "notes")}},
        "exif": read_exif(data) if data is not None else {}}

    verdict = detector.predict([loaded])[0]
    entry["verdict"] = {"verdict": verdict.verdict, "p_fake": round(verdict.p_fake, 6),
                        "p_fake_raw": round(verdict.p_fake_raw, 6),
                        "logits": [round(v, 6) for v in verdict.logits], "threshold": detector.threshold}
    domain = domain_of(loaded, verdict, detector)  # input properties + feature-space check
    entry["domain"] = domain.to_dict()
    band = band_for(verdict.p_fake, in_domain=domain.in_domain)
    entry["verdict"]["band"], entry["verdict"]["band_label"] = band, band_label(band)
    entry["provenance"] = _provenance(data, label)
    entry["tiles"] = _tiles(detector, loaded)

    model_input = detector.to_array(loaded)
    entry["pictures"] = {"original": display_png(np.asarray(loaded.image)),
                         "model_input": display_png(model_input)}
    entry["explanations"] = _explanations(detector, loaded, model_input, seed, methods, explain_options)
    views = forensic_views(loaded, quality=ela_quality)
    entry["forensics"] = {name: {**{k: v for k, v in view.items() if k != "image"},
                                 "picture": display_png(view["image"])}
                          for name, view in views.items()}
    return entry


def _provenance(data: bytes | None, label: str) -> dict[str, Any]:
    """Provenance signals (C2PA, generator metadata) of the original bytes (never raises)."""
    if data is None:
        return {"signals": [], "errors": [],
                "summary": "No original file bytes (an in-memory image), so no provenance could be read."}
    return read_provenance(data, name=label).to_dict()


def _tiles(detector: Any, loaded: LoadedImage) -> dict[str, Any] | None:
    """The native-resolution p_fake grid of a large image (None for images under two tiles)."""
    grid = tile_grid(detector, loaded)
    return grid.to_dict() if grid is not None else None


def _explanations(detector: Any, loaded: LoadedImage, model_input: np.ndarray, seed: int,
                  methods: Sequence[str], options: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    if not methods:
        return {"methods": {}, "agreement": {}, "note": "no explanation method requested"}
    try:
        from .explain import explain_all
    except ImportError as exc:
        return {"methods": {}, "agreement": {}, "note": f"explanations unavailable ({exc})"}
    rep = explain_all(detector, loaded, methods=tuple(methods), seed=seed, with_metrics=True,
                      options=options)
    summary = _drop_timing(rep.to_dict())
    out: dict[str, Any] = {"target": rep.target, "methods": {}, "agreement": summary.get("agreement", {})}
    for name, ex in rep.explanations.items():
        out["methods"][name] = {
            "title": METHOD_TITLES.get(name, name), "signed": bool(ex.signed),
            "p_target": round(float(ex.p_target), 6), "params": summary["explanations"][name].get("params", {}),
            "model_evals": ex.model_evals, "faithfulness": summary["faithfulness"].get(name, {}),
            "overlay": display_png(overlay_picture(model_input, ex.map, ex.signed)),
            "map": display_png(_map_to_rgb(ex.map, ex.signed)),
        }
    return out


# -- the case -----------------------------------------------------------------------------
def build_report(sources: Sequence[Any], detector: Any, seed: int = 0,
                 methods: Sequence[str] = DEFAULT_METHODS, *, title: str = "SynthCheck forensic case report",
                 explain_options: dict[str, dict[str, Any]] | None = None, ela_quality: int = 90,
                 created_utc: str | None = None, control_run: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Analyse every source and assemble the case report dict.

    A source is a path, raw bytes, a ``(name, bytes)`` upload or a LoadedImage (no EXIF then).
    ``control_run`` is a saved :func:`synthcheck.selfcheck.run_selfcheck` result (e.g. a case's
    latest); by default the installation's latest one is shown, with plain words on whether it
    is from the report's day and model.
    """
    if isinstance(sources, (str, os.PathLike, bytes)):
        sources = [sources]
    methods = list(dict.fromkeys(methods))
    images = [image_entry(s, detector, seed=seed, methods=methods, explain_options=explain_options,
                          ela_quality=ela_quality) for s in sources]
    model = model_section(detector)
    ok = [im for im in images if "error" not in im]
    settings = {"seed": int(seed), "methods": methods, "ela_quality": int(ela_quality),
                "explain_options": explain_options or {}}
    created_utc = created_utc or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = {
        "report": {"title": title, "version": REPORT_VERSION, "created_utc": created_utc},
        "settings": settings,
        "software": software_versions(),
        "model": model,
        "limits": model_limits(detector),
        "summary": {"n_images": len(images), "n_analysed": len(ok), "n_errors": len(images) - len(ok),
                    "n_fake": sum(im["verdict"]["verdict"] == "FAKE" for im in ok),
                    "n_real": sum(im["verdict"]["verdict"] == "REAL" for im in ok)},
        "images": images,
        "control_run": _control_run(detector, created_utc, control_run),
    }
    report["results_digest"] = _digest({"settings": settings, "model": model, "images": images})
    return report


def _control_run(detector: Any, created_utc: str, run: dict[str, Any] | None) -> dict[str, Any]:
    """The report's control-run section (never fails the report)."""
    try:
        from .selfcheck import control_run_section

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


def heat_colour(p: Any) -> str:
    """A p_fake in [0, 1] as a CSS colour from green (real) through yellow to red (synthetic)."""
    try:
        t = min(1.0, max(0.0, float(p)))
    except (TypeError, ValueError):
        return "#cccccc"
    lo, mid, hi = (39, 174, 96), (241, 196, 15), (192, 57, 43)
    a, b, u = (lo, mid, t * 2) if t < 0.5 else (mid, hi, t * 2 - 1)
    return "#" + "".join(f"{round(x + (y - x) * u):02x}" for x, y in zip(a, b, strict=True))


def render_html(report: dict[str, Any], bundle: dict[str, Any] | None = None) -> str:
    """The report as one self-contained HTML page (no external files or requests).

    ``bundle`` (from :func:`synthcheck.signing.write_report_bundle`) names the signed JSON file
    and its SHA-256, so the page can be tied to the evidence it renders.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from .signing import group_fingerprint

    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = lambda v, nd=4: (f"{v:.{nd}f}" if isinstance(v, float) else ("–" if v is None else v))
    env.filters["pct"] = lambda v: f"{v:.2%}" if isinstance(v, (int, float)) else "–"
    env.filters["heat"] = heat_colour
    env.filters["grouped"] = group_fingerprint
    return env.get_template("report.html.j2").render(r=report, titles=METHOD_TITLES, bundle=bundle or {})


def write_html(report: dict[str, Any], path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
