"""The explainer base class: one place for targets, preprocessing, seeding, hooks and timing.

Every method (Grad-CAM, SHAP, LIME, ...) is a subclass that overrides one hook,
:meth:`Explainer._attribute`, which receives an :class:`AttributionContext` (model inputs
already preprocessed by the :class:`~synthcheck.inference.Detector`, targets resolved, a
counting forward function) and returns one H x W map per image. The base class turns that into
the common :class:`Explanation`, so callers never see a library's own output format.
"""

from __future__ import annotations

import contextlib
import importlib
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn as nn

from ..imageio import as_loaded
from ..options import check_seed

if TYPE_CHECKING:
    from ..inference import Detector

CLASS_NAMES = ("REAL", "FAKE")  # index 1 = FAKE, as in the Detector


@dataclass
class Explanation:
    """One attribution map at the model's input resolution, with how it was made."""

    method: str
    map: np.ndarray  # float32 H x W at the model's input size; higher = more evidence for target
    signed: bool  # True when negative values mean evidence against the target
    target: str  # "REAL" | "FAKE"
    target_index: int
    p_target: float  # temperature-calibrated probability of the target class
    params: dict[str, Any]
    seed: int
    model_evals: int  # images passed through the model (forward passes x batch size)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (the map itself is left out; see ``map_shape``)."""
        return {"method": self.method, "signed": self.signed, "target": self.target,
                "target_index": self.target_index, "p_target": round(self.p_target, 6),
                "params": _jsonable(self.params), "seed": self.seed,
                "model_evals": self.model_evals, "seconds": round(self.seconds, 6),
                "map_shape": list(self.map.shape)}


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside params to plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class CountingForward(nn.Module):
    """Wraps the detector's model: counts images evaluated and maps logits to a chosen output.

    ``output``: "logits" (raw), "log_odds" (calibrated z_c - z_other per class, the quantity the
    gradient methods attribute) or "proba" (calibrated softmax, used by perturbation methods).
    It is an ``nn.Module`` so captum methods that walk modules (Guided Backprop) see the model.
    """

    def __init__(self, model: nn.Module, temperature: float = 1.0, output: str = "log_odds") -> None:
        super().__init__()
        if output not in ("logits", "log_odds", "proba"):
            raise ValueError(f"unknown output {output!r}")
        self.model = model
        self.temperature = float(temperature)
        self.output = output
        self.n_images = 0
        self.n_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.n_images += int(x.shape[0])
        self.n_calls += 1
        z = self.model(x).float()
        if self.output == "logits":
            return z
        z = z / self.temperature
        if self.output == "proba":
            return torch.softmax(z, dim=1)
        d = z[:, 1] - z[:, 0]  # two-class log-odds of FAKE
        return torch.stack([-d, d], dim=1)


@dataclass
class AttributionContext:
    """What a method's ``_attribute`` hook gets: preprocessed inputs and resolved targets."""

    detector: Detector
    arrays: np.ndarray  # uint8 N x H x W x 3 at the model's input size
    inputs: torch.Tensor  # normalised float N x 3 x H x W (the detector's preprocessing)
    targets: list[int]
    params: dict[str, Any]
    seed: int
    counter: _Counter
    notes: list[str] = field(default_factory=list)

    def forward(self, output: str = "log_odds") -> CountingForward:
        """A counted forward module over the detector's model with the requested output."""
        return self.counter.make(output)

    def to_tensor(self, arrays: np.ndarray) -> torch.Tensor:
        """uint8 N x H x W x 3 -> model input, via the detector's own preprocessing."""
        return self.detector.to_tensor(np.ascontiguousarray(arrays))

    def proba_of_arrays(self, arrays: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Calibrated class probabilities (N x 2) for uint8 images, counted, without grad."""
        fwd = self.forward("proba")
        out = []
        with torch.no_grad():
            for s in range(0, len(arrays), batch_size):
                out.append(fwd(self.to_tensor(arrays[s:s + batch_size])).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


class _Counter:
    """Creates counted forward modules and sums their evaluations."""

    def __init__(self, model: nn.Module, temperature: float) -> None:
        self.model, self.temperature = model, temperature
        self.modules: list[CountingForward] = []

    def make(self, output: str) -> CountingForward:
        m = CountingForward(self.model, self.temperature, output)
        self.modules.append(m)
        return m

    @property
    def n_images(self) -> int:
        return sum(m.n_images for m in self.modules)

    @property
    def n_calls(self) -> int:
        return sum(m.n_calls for m in self.modules)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed python, numpy and torch (CPU) for one call and restore their previous states."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


@contextlib.contextmanager
def model_guard(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters for the call; restores both (never leaves changes behind)."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)  # gradients w.r.t. the input only: faster, no weight grads
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def resolve_target(target: str | int) -> int:
    """'FAKE' | 'REAL' | 1 | 0 -> class index (1 = FAKE).

    An explainer never decides which class to explain: the caller names it, usually the
    analysis's verdict (``Analysis.verdict``), so a map always argues for the class the face
    reports at the threshold it prints."""
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if int(target) in (0, 1):
            return int(target)
    elif isinstance(target, str):
        t = target.strip().upper()
        if t in CLASS_NAMES:
            return CLASS_NAMES.index(t)
    raise ValueError(f"target must be 'FAKE' or 'REAL' (the analysis's verdict), not {target!r}")


class Explainer:
    """Base class: subclasses set ``name``/``signed``/``defaults`` and override ``_attribute``."""

    name: ClassVar[str] = ""
    signed: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()  # modules imported before timing starts (slow imports)
    stochastic: ClassVar[bool] = False  # True when the seed changes the map (sampling methods)

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    # -- the one hook ---------------------------------------------------------------------
    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        """Return N x H x W attributions for ``ctx.inputs`` towards ``ctx.targets``."""
        raise NotImplementedError

    # -- public API -----------------------------------------------------------------------
    def explain(self, image: Any, target: str | int, seed: int = 0,
                **options: Any) -> Explanation:
        """Explain one image (anything :func:`load_image` accepts, or a LoadedImage)."""
        return self.explain_batch([image], target=target, seed=seed, **options)[0]

    def explain_batch(self, images: Sequence[Any], target: str | int | Sequence[str | int],
                      seed: int = 0, **options: Any) -> list[Explanation]:
        """Explain several images in one call; the model sees them in batches."""
        if not images:
            return []
        arrays = np.stack([self.detector.to_array(as_loaded(im)) for im in images])
        return self.explain_arrays(arrays, target=target, seed=seed, **options)

    def explain_arrays(self, arrays: np.ndarray, target: str | int | Sequence[str | int],
                       seed: int = 0, **options: Any) -> list[Explanation]:
        """Explain uint8 N x S x S x 3 arrays already at the detector's input size."""
        for module in self.requires:  # one-off import cost is not the method's speed
            importlib.import_module(module)
        t0 = time.perf_counter()
        seed = check_seed(seed)
        params = self._params(options)
        det = self.detector
        arrays = np.array(arrays, dtype=np.uint8, order="C", copy=True)  # writable, ours
        if arrays.ndim != 4 or arrays.shape[1:] != (det.input_size, det.input_size, 3):
            raise ValueError(f"arrays must be N x {det.input_size} x {det.input_size} x 3 uint8, "
                             f"not {arrays.shape}")
        n = len(arrays)
        targets_in = list(target) if isinstance(target, (list, tuple)) else [target] * n
        if len(targets_in) != n:
            raise ValueError(f"{len(targets_in)} targets for {n} images")
        targets = [resolve_target(t) for t in targets_in]
        with det.lock, seeded(seed), model_guard(det.model), torch.inference_mode(False), \
                torch.enable_grad():
            counter = _Counter(det.model, det.temperature)
            x = det.to_tensor(arrays)
            with torch.no_grad():
                proba = counter.make("proba")(x).cpu().numpy()
            ctx = AttributionContext(det, arrays, x, targets, params, seed, counter)
            maps = np.asarray(self._attribute(ctx), dtype=np.float32)
        if maps.shape != arrays.shape[:3]:
            raise RuntimeError(f"{self.name}: map shape {maps.shape} != {arrays.shape[:3]}")
        maps = np.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)
        seconds = (time.perf_counter() - t0) / n
        evals = int(round(counter.n_images / n))
        out_params = {**params, "forward_calls": counter.n_calls, "n_images": n}
        if ctx.notes:
            out_params["notes"] = list(ctx.notes)
        return [Explanation(self.name, np.ascontiguousarray(m), self.signed, CLASS_NAMES[t], t,
                            float(p[t]), dict(out_params), seed, evals, seconds)
                for m, t, p in zip(maps, targets, proba, strict=True)]

    def _params(self, options: dict[str, Any]) -> dict[str, Any]:
        """Defaults overridden by ``options``; unknown option names are an error."""
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown option(s) {sorted(unknown)}; "
                             f"known: {sorted(self.defaults)}")
        return {**self.defaults, **options}


# -- shared helpers for methods -----------------------------------------------------------
def blurred(arrays: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Gaussian-blurred copies of uint8 N x H x W x 3 images (a 'no detail' baseline)."""
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(arrays.astype(np.float32), sigma=(0, sigma, sigma, 0), mode="reflect")
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def mean_colour(detector: Detector, n: int) -> np.ndarray:
    """Images filled with the checkpoint's dataset mean colour (uint8 N x S x S x 3)."""
    s = detector.input_size
    colour = np.clip(np.asarray(detector.mean) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.broadcast_to(colour, (n, s, s, 3)).copy()


def grid_segments(height: int, width: int, n_segments: int) -> np.ndarray:
    """A regular grid of about ``n_segments`` square cells, labels 0..K-1."""
    side = max(1, int(round(np.sqrt(max(1, n_segments)))))
    rows = np.minimum(np.arange(height) * side // height, side - 1)
    cols = np.minimum(np.arange(width) * side // width, side - 1)
    return (rows[:, None] * side + cols[None, :]).astype(np.int64)


def superpixels(image: np.ndarray, n_segments: int = 25, compactness: float = 10.0,
                sigma: float = 0.5) -> tuple[np.ndarray, str]:
    """SLIC superpixels tuned for 32 x 32 inputs -> (labels 0..K-1, "slic" | "grid").

    SLIC can merge pure noise into one region; when it returns fewer than a quarter of the
    requested segments, a regular grid is used instead so the methods still have features.
    ``n_segments <= 1`` gives one segment (the caller reports that nothing can be attributed).
    """
    from skimage.segmentation import slic

    h, w = image.shape[:2]
    if n_segments <= 1:
        return np.zeros((h, w), np.int64), "single"
    seg = slic(image, n_segments=n_segments, compactness=compactness, sigma=sigma,
               start_label=0, channel_axis=-1)
    _, inv = np.unique(seg, return_inverse=True)  # contiguous labels
    seg = inv.reshape(seg.shape).astype(np.int64)
    if seg.max() + 1 < max(2, n_segments // 4):
        return grid_segments(h, w, n_segments), "grid"
    return seg, "slic"


def segment_each(ctx: AttributionContext, n_segments: int, compactness: float) -> list[np.ndarray | None]:
    """Superpixels for every image of ``ctx`` (None for a flat, single-segment image).

    Records the segment counts and kinds in ``ctx.params`` and a note for flat images; the
    callers give those images a uniformly zero map.
    """
    segs: list[np.ndarray | None] = []
    n_seg, kinds = [], []
    for image in ctx.arrays:
        seg, kind = superpixels(image, n_segments, compactness)
        n_seg.append(int(seg.max()) + 1)
        kinds.append(kind)
        if n_seg[-1] < 2:
            ctx.notes.append("image has a single superpixel (flat image): nothing to attribute, "
                             "map is uniformly zero")
            segs.append(None)
        else:
            segs.append(seg)
    ctx.params["segments"] = n_seg if len(n_seg) > 1 else n_seg[0]
    ctx.params["segmentation"] = kinds if len(kinds) > 1 else kinds[0]
    return segs
