"""What the dashboard computes once for all sessions: analyses, Grad-CAM maps, forensic views,
explanations, data-folder scores and listings (``st.cache_resource`` / ``st.cache_data``).

Every entry is keyed by what it was made from (checkpoint and its load, image bytes, options),
so a changed input never gets an old answer. The work itself is the package's.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from ..analysis import Analysis, AnalysisOptions, analyze_one
from ..evaluation.curves import SplitScores, score_split
from .folders import allowed_folder
from .model import LoadedModel, analysis_options, explain_module

if TYPE_CHECKING:
    from ..inference import Detector

DISPLAY_SIDE = 256  # small model inputs are shown enlarged (nearest neighbour) to this side


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
    from ..explain.metrics.verdicts import map_trust

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
    from ..forensics import forensic_views as views

    return views(_loaded, quality=quality)


def forensic_views(loaded: Any, quality: int = 90) -> dict[str, Any]:
    """All forensic views of one decoded image, once per (image bytes, ELA quality) for all
    sessions (the Forensics page and a case's per-image view share them)."""
    return _forensic_views_cached(image_key(loaded), int(quality), loaded)


_COMPUTED = threading.local()  # seconds the last cached call in this thread spent computing


@st.cache_resource(show_spinner="Computing explanations…", max_entries=32)
def _explain_cached(ckpt: str, load_id: int, sha: str, methods: tuple[str, ...], target: str,
                    seed: int, options_json: str, _detector: Detector, _loaded: Any) -> Any:
    ex, _ = explain_module()
    t0 = time.perf_counter()
    report = ex.explain_all(_detector, _loaded, methods=methods, target=target, seed=seed,
                            with_metrics=True, options=json.loads(options_json))
    _COMPUTED.seconds = time.perf_counter() - t0
    return report


def explain_cached(model: LoadedModel, loaded: Any, methods: tuple[str, ...], target: str,
                   seed: int, options_json: str) -> Any:
    """``explain_all`` once per (checkpoint, image bytes, settings) for all sessions."""
    return _explain_cached(model.path, model.load_id, image_key(loaded), methods, target, seed,
                           options_json, model.detector, loaded)


def explain_timed(model: LoadedModel, loaded: Any, methods: tuple[str, ...], target: str,
                  seed: int, options_json: str) -> tuple[Any, float | None]:
    """:func:`explain_cached` and the seconds it spent computing: None when the answer came
    from the cache (so a page never reports a cached answer as computed in 0.00 s)."""
    _COMPUTED.seconds = None
    report = explain_cached(model, loaded, methods, target, seed, options_json)
    return report, _COMPUTED.seconds


def evaluate_folder(model: LoadedModel, data_dir: str, split: str, max_images: int,
                    seed: int = 0) -> SplitScores:
    """:func:`synthcheck.evaluation.curves.score_split` of an allowed folder, once per
    (checkpoint, folder, split, subset) for all sessions;
    :class:`~synthcheck.dashboard.folders.FolderRefused` outside the folder policy."""
    folder = allowed_folder(data_dir)
    return _split_scores(model.path, model.load_id, str(folder), split, int(max_images), int(seed),
                         model.detector)


@st.cache_resource(max_entries=4, show_spinner="Decoding and scoring the split (decoded images "
                                               "are cached on disk after the first time)…")
def _split_scores(ckpt: str, load_id: int, folder: str, split: str, max_images: int, seed: int,
                  _detector: Detector) -> SplitScores:
    return score_split(_detector, folder, split, max_images, seed)


def list_folder_images(root: str, split: str, cls: str) -> list[str]:
    """Image paths of one class of a split folder (sorted), listed once every five minutes;
    :class:`~synthcheck.dashboard.folders.FolderRefused` outside the folder policy."""
    return _listing(str(allowed_folder(root)), split, cls.upper())


@st.cache_data(ttl=300, show_spinner=False)
def _listing(root: str, split: str, cls: str) -> list[str]:
    from ..data.dataset import find_split_dir, list_images, resolve_data_dir

    split_dir = find_split_dir(resolve_data_dir(root), split)
    label = 1 if cls == "FAKE" else 0
    return [str(p) for p, lab in list_images(split_dir) if lab == label]


def read_folder_image(path: str | Path) -> bytes:
    """The bytes of an image listed by :func:`list_folder_images` (re-checked by the policy)."""
    return allowed_folder(path, must_be_dir=False).read_bytes()
