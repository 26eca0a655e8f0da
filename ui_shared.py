"""UI glue shared by the dashboard pages: cached model, sidebar state, cached evaluation.

No ML logic lives here: everything is a call into the ``synthcheck`` package. The model is
loaded once per (checkpoint path, modification time) with ``st.cache_resource`` and shared
by all sessions and pages; Detector.predict is thread-safe and the shared detector is never
mutated (the per-session threshold is applied to ``p_fake`` with ``bands.decide``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from synthcheck.analysis import CONCLUSION_COLOURS, Analysis, AnalysisOptions, analyze_one
from synthcheck.bands import DEFAULT_EDGES, band_label
from synthcheck.inference import Detector, default_checkpoint

ROOT = Path(__file__).resolve().parent
MODELS_DIR = ROOT / "models"
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
OTHER_PATH = "Other path…"
BAND_COLOURS = {"likely_real": "green", "uncertain": "orange", "likely_synthetic": "red",
                "out_of_domain": "gray"}
DISPLAY_SIDE = 256  # small model inputs are shown enlarged (nearest neighbour) to this side
# Torch intra-op threads per script run. One thread is as fast for 32x32 inputs and avoids the
# oversubscription collapse (50x slower) when sessions or other processes share 2 cores.
TORCH_THREADS = max(1, int(os.environ.get("SYNTHCHECK_TORCH_THREADS", "1")))


def apply_thread_limit() -> None:
    """Set torch's thread count for the calling (script-runner) thread."""
    import torch

    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


@dataclass
class LoadedModel:
    """A detector plus when and how fast it was loaded (shown in the sidebar)."""

    detector: Detector
    path: str
    loaded_at: str
    seconds: float
    load_id: int


_LOAD_COUNT = [0]


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def get_detector(path: str, mtime_ns: int = 0) -> LoadedModel:
    """Load a checkpoint once for all sessions; a changed file (mtime) loads again."""
    t0 = time.perf_counter()
    det = Detector.from_checkpoint(path)
    _LOAD_COUNT[0] += 1
    model = LoadedModel(det, path, time.strftime("%H:%M:%S"), time.perf_counter() - t0, _LOAD_COUNT[0])
    if os.environ.get("SYNTHCHECK_DASHBOARD_WARMUP", "1") != "0":
        threading.Thread(target=_warm_up, args=(det,), name="synthcheck-warmup", daemon=True).start()
    return model


def _warm_up(det: Detector) -> None:
    """Import the explanation libraries and run each method once on a blank image, in the
    background, so the first upload and the first Explain do not pay for cold imports."""
    try:
        apply_thread_limit()
        ex, _ = explain_module()
        blank = np.full((det.input_size, det.input_size, 3), 127, np.uint8)
        ex.explain(det, blank, "gradcam", target="FAKE")
        ex.explain_all(det, blank, methods=("gradcam", "gradient_shap", "lime"), target="FAKE",
                       options={"gradient_shap": {"n_samples": 2}, "lime": {"num_samples": 16}})
        import plotly.graph_objects  # noqa: F401 - Metrics page imports, paid here once
        import sklearn.metrics  # noqa: F401
        import torchmetrics.functional.classification  # noqa: F401
    except Exception:  # warm-up is best effort; the pages report real errors
        pass


def checkpoint_choices() -> list[str]:
    """``models/*.pt`` (repository-relative when possible), default first, then 'Other path…'."""
    found = sorted(MODELS_DIR.glob("*.pt")) + sorted(MODELS_DIR.glob("runs/**/*.pt"))
    default = default_checkpoint()
    names = [_rel(default)] if default.exists() else []
    names += [_rel(p) for p in found if _rel(p) not in names]
    return names + [OTHER_PATH]


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def sidebar() -> None:
    """Checkpoint chooser, decision threshold and band edges; state is kept in session_state."""
    apply_thread_limit()
    sb = st.sidebar
    sb.header("Model")
    choice = sb.selectbox("Checkpoint", checkpoint_choices(), key="ckpt_choice",
                          help="Checkpoints found in models/, or type a path.")
    if choice == OTHER_PATH:
        sb.text_input("Checkpoint path", key="ckpt_path", placeholder="/path/to/model.pt")
    sb.slider("Decision threshold (p_fake ≥ threshold ⇒ FAKE)", 0.0, 1.0, 0.5, 0.01, key="threshold")
    sb.slider("Band edges (likely real | uncertain | likely synthetic)", 0.0, 1.0, DEFAULT_EDGES,
              0.01, key="band_edges")
    model = current_model(show_errors=False)
    if model is not None:
        sb.caption(f"**{model.detector.model_name}** · {model.detector.input_size}px input · "
                   f"loaded at {model.loaded_at} in {model.seconds:.2f} s (load #{model.load_id})")


def checkpoint_path() -> str:
    """The checkpoint chosen in the sidebar as an absolute path string ('' when none typed)."""
    choice = st.session_state.get("ckpt_choice")
    if choice == OTHER_PATH:
        return str(st.session_state.get("ckpt_path") or "").strip()
    if not choice:
        return str(default_checkpoint())
    p = Path(choice).expanduser()
    return str(p if p.is_absolute() else ROOT / p)


def threshold() -> float:
    return float(st.session_state.get("threshold", 0.5))


def band_edges() -> tuple[float, float]:
    low, high = st.session_state.get("band_edges", DEFAULT_EDGES)
    return float(low), float(high)


def ensure_router() -> None:
    """Rerun through ``streamlit_app.py`` if Streamlit started a page file on its own.

    Because the pages live in ``pages/``, a fresh server whose first request is a deep link
    (e.g. ``/metrics``) runs that file in legacy folder mode, without the router and its
    sidebar, until ``st.navigation`` has been called once. ``st.navigation`` clears this flag,
    so it is only still set when the router did not run in this script run.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def current_model(show_errors: bool = True) -> LoadedModel | None:
    """The cached model for the sidebar's checkpoint, or None (with an error shown) if unusable."""
    ensure_router()
    path = checkpoint_path()
    if not path:
        if show_errors:
            st.info("Type a checkpoint path in the sidebar.")
        return None
    try:
        mtime = os.stat(path).st_mtime_ns
        return get_detector(path, mtime)
    except Exception as exc:  # CheckpointError, OSError: one message, no traceback
        if show_errors:
            st.error(f"Cannot load the checkpoint: {exc}")
        return None


def require_model() -> LoadedModel:
    """The current model, or stop the page with an error."""
    model = current_model()
    if model is None:
        st.stop()
    return model


def band_badge(band: str | None) -> str:
    """Markdown badge for a band name."""
    if not band:
        return ""
    return f":{BAND_COLOURS.get(band, 'gray')}-badge[{band_label(band)}]"


def analysis_options(**extra: Any) -> AnalysisOptions:
    """The sidebar's threshold and band edges as analysis options (plus ``extra``)."""
    return AnalysisOptions(threshold=threshold(), band_edges=band_edges(), **extra)


def analyze_uploads(model: LoadedModel, items: list[tuple[str, bytes]], *,
                    options: AnalysisOptions | None = None, **extra: Any) -> list[Analysis]:
    """The analyses of (name, bytes) uploads at the sidebar's options (or ``options``, e.g. a
    stored case analysis's): the same function as every other face
    (:func:`synthcheck.analysis.analyze`), cached per (checkpoint, bytes, options) for all
    sessions so reruns do not recompute them."""
    opts = options if options is not None else analysis_options(**extra)
    return [_analysis_cached(model.path, model.load_id, hashlib.sha256(data).hexdigest(), name, opts,
                             model.detector, data) for name, data in items]


@st.cache_resource(max_entries=256, show_spinner=False)
def _analysis_cached(ckpt: str, load_id: int, sha: str, name: str, options: AnalysisOptions,
                     _detector: Detector, _data: bytes) -> Analysis:
    return analyze_one((name, _data), _detector, options, name=name)


def headline(a: Analysis) -> None:
    """The conclusion first, its reason in plain words, then the model's score, smaller: the
    same wording as the CLI and the reports (all from the :class:`Analysis`)."""
    colour = CONCLUSION_COLOURS.get(a.conclusion or "", "gray")
    st.markdown(f"### :{colour}[{a.headline}]")
    if a.conclusion == "cannot_assess":
        st.warning(a.reason)
    else:
        st.markdown(a.reason)
    st.caption(a.score_label)


def explain_module() -> tuple[Any, Any]:
    """(synthcheck.explain, synthcheck.explain.visual), imported on first use (torch, captum);
    a broken install raises, it is never hidden."""
    import synthcheck.explain as ex
    from synthcheck.explain import visual

    return ex, visual


def gradcam_overlay(model: LoadedModel, loaded: Any, target: str
                    ) -> tuple[np.ndarray | None, str | None, dict[str, Any] | None]:
    """Grad-CAM towards ``target`` (the analysis's verdict) over the model-size input, enlarged,
    with its trust call and sentence (:func:`synthcheck.explain.metrics.verdicts.map_trust`);
    (None, reason, None) if unavailable.

    Cached per (checkpoint, image bytes, target) for all sessions, so reruns do not recompute it.
    """
    if not loaded.sha256:
        return _gradcam(model.detector, loaded, target)
    return _gradcam_cached(model.path, model.load_id, loaded.sha256, target, model.detector, loaded)


@st.cache_resource(max_entries=256, show_spinner=False)
def _gradcam_cached(ckpt: str, load_id: int, sha: str, target: str, _detector: Detector,
                    _loaded: Any) -> tuple[np.ndarray | None, str | None, dict[str, Any] | None]:
    return _gradcam(_detector, _loaded, target)


def _gradcam(detector: Detector, loaded: Any, target: str
             ) -> tuple[np.ndarray | None, str | None, dict[str, Any] | None]:
    from synthcheck.explain.metrics.verdicts import map_trust

    ex, visual = explain_module()
    try:
        rep = ex.explain_all(detector, loaded, ("gradcam",), target=target)
        e = rep.explanations["gradcam"]
        base = detector.to_array(loaded)
        pic = visual.overlay(base, e.map, alpha=0.5,
                             upscale=visual.auto_upscale(*base.shape[:2], size=DISPLAY_SIDE))
        return pic, None, map_trust("Grad-CAM", rep.faithfulness.get("gradcam"))
    except Exception as exc:
        return None, f"Grad-CAM failed ({type(exc).__name__}: {exc})", None


def image_key(loaded: Any) -> str:
    """A cache key for a decoded image: its file's SHA-256, or that of its pixels."""
    return loaded.sha256 or hashlib.sha256(np.asarray(loaded.image).tobytes()).hexdigest()


@st.cache_resource(max_entries=16, show_spinner="Computing forensic views…")
def _forensic_views_cached(sha: str | None, quality: int, _loaded: Any) -> dict[str, Any]:
    from synthcheck.forensics import forensic_views

    return forensic_views(_loaded, quality=quality)


def forensic_views(loaded: Any, quality: int = 90) -> dict[str, Any]:
    """All forensic views of one decoded image, once per (image bytes, ELA quality) for all
    sessions (the Forensics page and a case's per-image view share them)."""
    sha = image_key(loaded)
    return _forensic_views_cached(sha, int(quality), loaded)


def tile_picture(a: Analysis) -> np.ndarray | None:
    """The analysis's tile grid drawn over the image (None when it has no grid)."""
    from synthcheck.tiles import tile_overlay

    if a.tiles is None or a.loaded is None:
        return None
    return tile_overlay(a.loaded.image, a.tiles)


def enlarge(arr: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Nearest-neighbour enlargement of a small HxWx3 array so pixels stay visible (the same
    integer factor as the explanation overlays use)."""
    _, visual = explain_module()
    return visual.upscale_nearest(arr, visual.auto_upscale(*arr.shape[:2], size=side))


def cards(n: int, width: int = DISPLAY_SIDE, gap: str = "medium") -> list[Any]:
    """``n`` fixed-width containers in a horizontal container that wraps: as many a row as the
    page is wide, so panels never shrink to slivers or overflow at narrow widths."""
    row = st.container(horizontal=True, wrap=True, gap=gap)
    return [row.container(width=width) for _ in range(n)]


def default_data_dir() -> str:
    return os.environ.get("SYNTHCHECK_DATA", "")


# -- cached evaluation of a data folder -------------------------------------------------------

@dataclass
class EvalResult:
    """Scores of (a stratified subset of) one split, with the decoded images for the gallery."""

    labels: np.ndarray
    p_fake: np.ndarray
    images: np.ndarray
    paths: list[str]
    n_total: int
    n_skipped: int
    fingerprint: str
    seconds: float


@st.cache_resource
def _eval_store() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


def evaluate_folder(model: LoadedModel, data_dir: str, split: str, max_images: int,
                    seed: int = 0) -> EvalResult:
    """Score ``data_dir/split`` with a progress bar; results are cached for all sessions."""
    from synthcheck.data.dataset import load_split
    from synthcheck.evaluation.curves import score_arrays, stratified_subset
    from synthcheck.triage import check_folder, dashboard_roots

    check_folder(data_dir, dashboard_roots())
    key = (model.path, model.load_id, str(Path(data_dir).expanduser().resolve()), split,
           int(max_images), int(seed))
    store, lock = _eval_store()
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    t0 = time.perf_counter()
    bar = st.progress(0.0, text=f"Decoding {split} images (cached on disk after the first time)…")
    det = model.detector
    dec = load_split(data_dir, split, image_size=det.input_size)
    idx = stratified_subset(dec.labels, max_images, seed)
    images = np.ascontiguousarray(dec.images[idx])
    n = len(idx)
    p = score_arrays(det, images, batch_size=256,
                     progress=lambda f: bar.progress(f, text=f"Scoring {n} images… {f:.0%}"))
    bar.empty()
    res = EvalResult(dec.labels[idx], p, images, [dec.paths[i] for i in idx], len(dec),
                     dec.n_skipped, dec.fingerprint, time.perf_counter() - t0)
    with lock:
        store[key] = res
        while len(store) > 4:
            store.popitem(last=False)
    return res


# -- explanations and data-folder listings ----------------------------------------------------

@st.cache_resource(show_spinner="Computing explanations…", max_entries=32)
def _explain_cached(ckpt: str, load_id: int, sha: str, methods: tuple[str, ...], target: str,
                    seed: int, options_json: str, _detector: Detector, _loaded: Any) -> Any:
    import json

    ex, _ = explain_module()
    return ex.explain_all(_detector, _loaded, methods=methods, target=target, seed=seed,
                          with_metrics=True, options=json.loads(options_json))


def explain_cached(model: LoadedModel, loaded: Any, methods: tuple[str, ...], target: str,
                   seed: int, options_json: str) -> Any:
    """``explain_all`` once per (checkpoint, image bytes, settings) for all sessions."""

    sha = image_key(loaded)
    return _explain_cached(model.path, model.load_id, sha, methods, target, seed, options_json,
                           model.detector, loaded)


@st.cache_data(ttl=300, show_spinner=False)
def list_folder_images(root: str, split: str, cls: str) -> list[str]:
    """Image paths of one class of a split folder (sorted), cached for five minutes."""
    from synthcheck.data.dataset import find_split_dir, list_images, resolve_data_dir
    from synthcheck.triage import check_folder, dashboard_roots

    check_folder(root, dashboard_roots())
    split_dir = find_split_dir(resolve_data_dir(root), split)
    label = 1 if cls.upper() == "FAKE" else 0
    return [str(p) for p, lab in list_images(split_dir) if lab == label]


def result_columns() -> dict[str, Any]:
    """The one column set for tables of result rows (uploads and folder scans): people read
    labels, never record keys (``analysis.RECORD_FIELDS`` / ``Analysis.to_row``)."""
    col = st.column_config
    return {
        "thumbnail": col.ImageColumn("Image", width="small"),
        "name": col.TextColumn("File"), "path": col.TextColumn("File"),
        "conclusion_label": col.TextColumn("Conclusion"),
        "p_fake": col.ProgressColumn("Model score", min_value=0.0, max_value=1.0, format="%.3f",
                                     help="Unreliable where the conclusion is 'Cannot assess'."),
        "verdict": col.TextColumn("Raw call"), "band_label": col.TextColumn("Band"),
        "in_domain": col.CheckboxColumn("In the model's domain"),
        "domain_reasons": col.TextColumn("Why the model cannot judge it"),
        "advisories": col.TextColumn("Notes"), "notes": col.TextColumn("File notes"),
        "width": col.NumberColumn("Width (px)"), "height": col.NumberColumn("Height (px)"),
        "format": col.TextColumn("Format"), "bytes": col.NumberColumn("Size (bytes)"),
        "sha256": col.TextColumn("SHA-256", width="small"), "error": col.TextColumn("Error"),
    }
