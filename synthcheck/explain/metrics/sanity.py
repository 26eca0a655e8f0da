"""Model-randomisation sanity checks (Adebayo et al. 2018): the last layers at once, or cascading.

Re-initialise the last layers' weights on a deep copy of the model, explain the same image for
the same target again, and compare the two maps by Spearman rank correlation. A method whose map
barely changes when the model it explains is destroyed is not explaining the model: it fails.
The cascading check randomises layers from the head down, cumulatively, and asks that the map
differ at every stage. The shared model is never modified.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn

from .agreement import spearman

MAX_SIMILARITY = 0.5  # rank similarity of real vs randomised maps at or above which a map "did not change"

if TYPE_CHECKING:
    from ...inference import Detector
    from ..base import Explainer, Explanation


@dataclass
class SanityResult:
    """Similarity of a method's map before/after randomising the model's last layers."""

    method: str
    layers: list[str]  # modules whose weights were re-initialised
    similarity: float  # Spearman of |map| before vs after (1 = unchanged)
    spearman_signed: float | None
    threshold: float
    passed: bool  # similarity < threshold: the map depends on the weights

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["similarity"] = round(d["similarity"], 6)
        return d


def last_layers(model: nn.Module, n_layers: int = 2) -> list[str]:
    """Names of the last ``n_layers`` convolution/linear modules in definition order."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and n]
    if not names:
        raise ValueError("model has no Conv2d/Linear layer to randomise")
    return names[-max(1, n_layers):]


def randomised_detector(detector: Detector, layers: list[str], seed: int = 0) -> Detector:
    """A Detector over a deep copy of the model with ``layers`` re-initialised (seeded)."""
    from ...inference import Detector

    with detector.lock:
        model = copy.deepcopy(detector.model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in layers:
            module = model.get_submodule(name)
            if not hasattr(module, "reset_parameters"):
                raise ValueError(f"layer {name!r} cannot be re-initialised")
            module.reset_parameters()
    ckpt = {**detector.meta, "cam_layer": detector.cam_layer, "temperature": detector.temperature}
    return Detector(model, ckpt, path=detector.path, device=detector.device)


def model_randomisation_check(detector: Detector, image: Any, method: str | type[Explainer] = "gradcam", *,
                              n_layers: int = 2, layers: list[str] | None = None,
                              threshold: float = MAX_SIMILARITY, seed: int = 0,
                              target: str | int | None = None,
                              explanation: Explanation | None = None, **options: Any) -> SanityResult:
    """Explain ``image`` with the real and a randomised model; ``passed`` if the maps differ.

    ``explanation`` (the map from the real model) is reused when given; otherwise computed
    towards ``target`` (a class, required then). ``threshold`` is the largest rank similarity of
    the two maps that still counts as "changed".
    """
    from ..base import as_loaded
    from ..registry import get_explainer

    arr = image if isinstance(image, np.ndarray) and image.shape == (detector.input_size,) * 2 + (3,) \
        else detector.to_array(as_loaded(image))
    if explanation is None:
        if target is None:
            raise ValueError("model_randomisation_check needs a target class or an explanation")
        explanation = get_explainer(method, detector).explain_arrays(arr[None], target=target, seed=seed,
                                                                     **options)[0]
    layers = layers or last_layers(detector.model, n_layers)
    rand_det = randomised_detector(detector, layers, seed)
    rand = get_explainer(method, rand_det).explain_arrays(arr[None], target=explanation.target_index,
                                                          seed=seed, **options)[0]
    sim = map_similarity(explanation.map, rand.map)
    return SanityResult(explanation.method, list(layers), float(sim),
                        spearman(explanation.map, rand.map), float(threshold), bool(sim < threshold))


# -- cascading randomisation (Adebayo et al. 2018, section 3.1) ------------------------------
@dataclass
class CascadeResult:
    """Similarity of a method's map to the real model's as layers are randomised top-down."""

    method: str
    stages: list[list[str]]  # the layers randomised at each stage (cumulative, top first)
    similarities: list[float]  # Spearman of |map| per stage (1 = unchanged)
    threshold: float
    passed: bool  # every stage's similarity is below the threshold

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["similarities"] = [round(s, 6) for s in self.similarities]
        return d


def cascade_stages(model: nn.Module, n_stages: int = 3) -> list[list[str]]:
    """Cumulative top-down layer sets: stage k randomises the last ``counts[k]`` conv/linear
    layers, with the counts spread evenly from 1 (the head alone) to all of them."""
    layers = last_layers(model, n_layers=10**9)
    if n_stages < 1:
        raise ValueError(f"n_stages must be >= 1, not {n_stages}")
    counts = sorted({int(round(c)) for c in np.linspace(1, len(layers), min(n_stages, len(layers)))})
    return [layers[-c:] for c in counts]


def cascade_detectors(detector: Detector, stages: list[list[str]], seed: int = 0) -> list[Detector]:
    """One randomised Detector per stage; build once and reuse over many images. The same layer
    gets the same random weights at every stage (a cascade, not fresh draws)."""
    return [randomised_detector(detector, layers, seed) for layers in stages]


def cascading_randomisation_check(detector: Detector, image: np.ndarray, method: str | type[Explainer], *,
                                  explanation: Explanation, stages: list[list[str]] | None = None,
                                  detectors: list[Detector] | None = None, threshold: float = MAX_SIMILARITY,
                                  seed: int = 0, **options: Any) -> CascadeResult:
    """Explain ``image`` (uint8 S x S x 3) again on each stage's randomised model towards the
    same target as ``explanation``; ``passed`` when no stage leaves the map as it was.

    A faithful map must change as soon as the head is randomised and stay changed as more layers
    go; one that stays similar at any stage is reading the image, not the model.
    """
    from ..registry import get_explainer

    stages = stages or cascade_stages(detector.model)
    detectors = detectors or cascade_detectors(detector, stages, seed)
    if len(detectors) != len(stages):
        raise ValueError(f"{len(detectors)} detectors for {len(stages)} stages")
    sims = []
    for det in detectors:
        rand = get_explainer(method, det).explain_arrays(image[None], target=explanation.target_index,
                                                         seed=seed, **options)[0]
        sims.append(map_similarity(explanation.map, rand.map))
    return CascadeResult(explanation.method, [list(s) for s in stages], sims, float(threshold),
                         bool(all(s < threshold for s in sims)))


def map_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman of |a| and |b|; a constant map on either side counts as unchanged only if both
    are the same (the rule of :func:`model_randomisation_check`)."""
    sim = spearman(np.abs(a), np.abs(b))
    if sim is None:
        return 1.0 if np.allclose(np.abs(a), np.abs(b)) else 0.0
    return float(sim)
