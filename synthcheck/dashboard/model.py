"""The dashboard's shared model and the sidebar's settings (checkpoint, threshold, band edges).

The model is loaded once per (checkpoint path, modification time) with ``st.cache_resource`` and
shared by all sessions and pages; ``Detector.predict`` is thread-safe and the shared detector is
never mutated (the per-session threshold travels in :class:`~synthcheck.analysis.AnalysisOptions`).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from ..analysis import AnalysisOptions
from ..bands import DEFAULT_EDGES
from ..inference.base import REPO_MODELS, default_checkpoint

if TYPE_CHECKING:  # torch loads with the model, not with the page (the first paint waits on it)
    from ..inference import Detector

ROOT = REPO_MODELS.parent
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
OTHER_PATH = "Other path…"
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


LOAD_COUNT = [0]  # models loaded by this process (a test checks that page switches load none)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def get_detector(path: str, mtime_ns: int = 0) -> LoadedModel:
    """Load a checkpoint once for all sessions; a changed file (mtime) loads again."""
    from ..inference import Detector

    t0 = time.perf_counter()
    det = Detector.from_checkpoint(path)
    LOAD_COUNT[0] += 1
    model = LoadedModel(det, path, time.strftime("%H:%M:%S"), time.perf_counter() - t0, LOAD_COUNT[0])
    if os.environ.get("SYNTHCHECK_DASHBOARD_WARMUP", "1") != "0":
        threading.Thread(target=_warm_up, args=(det,), name="synthcheck-warmup", daemon=True).start()
    return model


def explain_module() -> tuple[Any, Any]:
    """(synthcheck.explain, synthcheck.explain.visual), imported on first use (torch, captum);
    a broken install raises, it is never hidden."""
    import synthcheck.explain as ex
    from synthcheck.explain import visual

    return ex, visual


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
    found = sorted(REPO_MODELS.glob("*.pt")) + sorted(REPO_MODELS.glob("runs/**/*.pt"))
    default = default_checkpoint()
    names = [_rel(default)] if default.exists() else []
    names += [_rel(p) for p in found if _rel(p) not in names]
    return names + [OTHER_PATH]


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


_CAPTION = threading.local()  # this script run's sidebar slot for the model caption


def sidebar() -> None:
    """Checkpoint chooser, decision threshold and band edges (state is kept in session_state),
    and a slot for the model's caption, which :func:`current_model` fills: the sidebar itself
    never waits for the model to load."""
    sb = st.sidebar
    sb.header("Model")
    choice = sb.selectbox("Checkpoint", checkpoint_choices(), key="ckpt_choice",
                          help="Checkpoints found in models/, or type a path.")
    if choice == OTHER_PATH:
        sb.text_input("Checkpoint path", key="ckpt_path", placeholder="/path/to/model.pt")
    sb.slider("Decision threshold (p_fake ≥ threshold ⇒ FAKE)", 0.0, 1.0, 0.5, 0.01, key="threshold")
    sb.slider("Band edges (likely real | uncertain | likely synthetic)", 0.0, 1.0, DEFAULT_EDGES,
              0.01, key="band_edges")
    _CAPTION.slot = sb.empty()


def _show_model_caption(model: LoadedModel) -> None:
    slot = getattr(_CAPTION, "slot", None)
    if slot is not None:
        slot.caption(f"**{model.detector.model_name}** · {model.detector.input_size}px input · "
                     f"loaded at {model.loaded_at} in {model.seconds:.2f} s (load #{model.load_id})")
        _CAPTION.slot = None


def forget_model_caption() -> None:
    """End of a script run: its sidebar slot is not written to again."""
    _CAPTION.slot = None


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
    """The sidebar's decision threshold."""
    return float(st.session_state.get("threshold", 0.5))


def band_edges() -> tuple[float, float]:
    """The sidebar's band edges (likely real below the first, likely synthetic from the second)."""
    low, high = st.session_state.get("band_edges", DEFAULT_EDGES)
    return float(low), float(high)


def analysis_options(**extra: Any) -> AnalysisOptions:
    """The sidebar's threshold and band edges as analysis options (plus ``extra``)."""
    return AnalysisOptions(threshold=threshold(), band_edges=band_edges(), **extra)


def current_model(show_errors: bool = True) -> LoadedModel | None:
    """The cached model for the sidebar's checkpoint, or None (with an error shown) if unusable;
    torch's thread count is set for the calling script run first."""
    apply_thread_limit()
    path = checkpoint_path()
    if not path:
        if show_errors:
            st.info("Type a checkpoint path in the sidebar.")
        return None
    try:
        mtime = os.stat(path).st_mtime_ns
        model = get_detector(path, mtime)
    except Exception as exc:  # CheckpointError, OSError: one message, no traceback
        if show_errors:
            st.error(f"Cannot load the checkpoint: {exc}")
        return None
    _show_model_caption(model)
    return model


def require_model() -> LoadedModel:
    """The current model, or stop the page with an error."""
    model = current_model()
    if model is None:
        st.stop()
    return model
