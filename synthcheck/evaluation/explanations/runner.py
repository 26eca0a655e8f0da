"""Run the bench: explain every sampled image with every method, measure, aggregate.

Per image, towards the analysis's verdict (the target every face explains): each method's map
(and, for methods whose seed matters, a second map at ``seed + 1`` for stability), the figures
of :mod:`.per_image`, the cascading model-randomisation check (on the first ``sanity_images``
images) and agreement between methods. Everything expensive is read from / written to the
:class:`.cache.Cache`, one image at a time, so an interrupted run resumes where it stopped.
Then :func:`aggregate` turns the per-image rows into the JSON contract of ``explain-eval``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...explain.base import resolve_target
from ...explain.metrics.agreement import spearman, topk_iou
from ...explain.metrics.verdicts import random_iou
from ...explain.registry import canonical_method, get_explainer
from . import stats
from .cache import Cache, short_hash
from .per_image import MetricSettings, method_figures, random_figures

if TYPE_CHECKING:
    from ...inference import Detector
    from .sampling import Sample, Sampling

# metric -> higher is better; the order is the report's
METRICS: dict[str, bool] = {
    "deletion_auc": False, "insertion_auc": True, "deletion_auc_logit": False, "insertion_auc_logit": True,
    "road_morf": False, "road_lerf": True, "beats_random": True, "beats_random_prob": True,
    "sanity_pass": True, "stability": True, "seconds_per_image": False,
}
RATES = ("beats_random", "beats_random_prob", "sanity_pass")
MEANS = ("deletion_auc", "insertion_auc", "deletion_auc_logit", "insertion_auc_logit", "road_morf", "road_lerf",
         "road_morf_logit", "road_lerf_logit", "stability", "seconds_per_image")
METRIC_MEANING = {
    "deletion_auc": "area under p(target) as the map's top pixels are blurred away (lower is better)",
    "insertion_auc": "area under p(target) as the map's top pixels are restored on the blur (higher is better)",
    "deletion_auc_logit": "deletion area in calibrated log-odds of the target (lower is better; does not saturate)",
    "insertion_auc_logit": "insertion area in calibrated log-odds of the target (higher is better)",
    "road_morf": "ROAD, most relevant removed first, noisy linear imputation: mean p(target) over 10-90% removed "
                 "(lower is better)",
    "road_lerf": "ROAD, least relevant removed first: mean p(target) over 10-90% removed (higher is better)",
    "beats_random": "share of images where the map beats the 95th percentile of K random maps on both deletion "
                    "and insertion, in log-odds (the verdict)",
    "beats_random_prob": "the same rule on the probability curves (saturates on confident images)",
    "sanity_pass": "share of images where the map changes at every stage of cascading model randomisation",
    "stability": "Spearman between the maps of seeds s and s+1 (methods whose seed matters)",
    "seconds_per_image": "wall time of one explanation on this machine",
}


@dataclass
class BenchConfig:
    """What the bench runs (every field is in the JSON's ``config``)."""

    methods: tuple[str, ...]
    seed: int = 0
    settings: MetricSettings = field(default_factory=MetricSettings)
    sanity_images: int | None = None  # the first N sampled images get the cascade; None = all
    sanity_stages: int = 3
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.methods = tuple(dict.fromkeys(canonical_method(m) for m in self.methods))
        if not self.methods:
            raise ValueError("no explanation method given")
        self.method_options = {canonical_method(k): dict(v) for k, v in self.method_options.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"methods": list(self.methods), "seed": self.seed, **self.settings.to_dict(),
                "sanity_images": self.sanity_images, "sanity_stages": self.sanity_stages,
                "method_options": self.method_options}


@dataclass
class BenchRun:
    """Per-image rows and the maps (in memory, for the report's best/worst pictures)."""

    samples: list[Sample]
    rows: list[dict[str, Any]]  # one per (image, method)
    agreement_rows: list[dict[str, Any]]  # one per (image, pair)
    random_rows: list[dict[str, list[float]]]  # per image: the K random maps' AUCs
    stages: list[list[str]]  # the cascade's layer sets
    maps: dict[tuple[int, str], np.ndarray]
    work: dict[str, int]
    seconds: float


class _Bench:
    """The loop's state: one detector, one cache, the counters of what was computed."""

    def __init__(self, detector: Detector, config: BenchConfig, cache: Cache) -> None:
        from ...explain.metrics.sanity import cascade_detectors, cascade_stages

        self.det, self.cfg, self.cache = detector, config, cache
        self.work = {"maps_computed": 0, "figures_computed": 0, "sanity_computed": 0, "random_computed": 0}
        self.stages = cascade_stages(detector.model, config.sanity_stages)
        self._cascade: list[Detector] | None = None
        self._cascade_factory = lambda: cascade_detectors(detector, self.stages, config.seed)
        self.settings_key = short_hash(config.settings.to_dict())
        self.stages_key = short_hash([self.stages, config.seed])

    def method_key(self, method: str, target: int, seed: int) -> str:
        opts = self.cfg.method_options.get(method, {})
        suffix = f"-{short_hash(opts)}" if opts else ""
        return f"{method}{suffix}_t{target}_s{seed}"

    def explanation(self, sample: Sample, method: str, target: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        key = self.method_key(method, target, seed)
        got = self.cache.load_map(sample.sha256, key)
        if got is not None:
            return got
        exp = get_explainer(method, self.det).explain_arrays(sample.array[None], target=target, seed=seed,
                                                             **self.cfg.method_options.get(method, {}))[0]
        meta = {"seconds": exp.seconds, "model_evals": exp.model_evals, "signed": exp.signed,
                "p_target": exp.p_target, "params": exp.to_dict()["params"]}
        self.cache.save_map(sample.sha256, key, exp.map, meta)
        self.work["maps_computed"] += 1
        return exp.map, meta

    def sanity(self, sample: Sample, method: str, target: int, attribution: np.ndarray) -> dict[str, Any]:
        from ...explain.base import CLASS_NAMES, Explanation
        from ...explain.metrics.sanity import cascading_randomisation_check

        key = f"{self.method_key(method, target, self.cfg.seed)}_cascade-{self.stages_key}"
        got = self.cache.load_json(sample.sha256, key)
        if got is not None:
            return got
        if self._cascade is None:
            self._cascade = self._cascade_factory()
        exp = Explanation(method, attribution, True, CLASS_NAMES[target], target, 0.0, {}, self.cfg.seed, 0, 0.0)
        res = cascading_randomisation_check(self.det, sample.array, method, explanation=exp, stages=self.stages,
                                            detectors=self._cascade, seed=self.cfg.seed,
                                            **self.cfg.method_options.get(method, {})).to_dict()
        self.cache.save_json(sample.sha256, key, res)
        self.work["sanity_computed"] += 1
        return res

    def figures(self, sample: Sample, maps: dict[str, np.ndarray], target: int) -> dict[str, dict[str, Any]]:
        s, seed = self.cfg.settings, self.cfg.seed
        rkey = f"random_t{target}_s{seed}_{self.settings_key}"
        random = self.cache.load_json(sample.sha256, rkey)
        if random is None:
            random = random_figures(self.det, sample.array, target, s, seed)
            self.cache.save_json(sample.sha256, rkey, random)
            self.work["random_computed"] += 1
        out, missing = {}, {}
        for m, a in maps.items():
            got = self.cache.load_json(sample.sha256, f"{self.method_key(m, target, seed)}_fig-{self.settings_key}")
            if got is None:
                missing[m] = a
            else:
                out[m] = got
        if missing:
            new = method_figures(self.det, sample.array, missing, target, random, s, seed)
            for m, row in new.items():
                self.cache.save_json(sample.sha256, f"{self.method_key(m, target, seed)}_fig-{self.settings_key}", row)
            self.work["figures_computed"] += len(new)
            out.update(new)
        out["_random"] = random
        return out


def run_bench(detector: Detector, samples: Sequence[Sample], config: BenchConfig, cache: Cache,
              progress: Callable[[int], None] | None = None) -> BenchRun:
    """Explain and measure every sample (cached; see the module docstring)."""
    t0 = time.perf_counter()
    bench = _Bench(detector, config, cache)
    seed = config.seed
    n_sanity = len(samples) if config.sanity_images is None else min(config.sanity_images, len(samples))
    rows, agree_rows, random_rows, kept = [], [], [], {}
    for i, sample in enumerate(samples):
        target = resolve_target(sample.verdict)
        maps, metas = {}, {}
        for m in config.methods:
            maps[m], metas[m] = bench.explanation(sample, m, target, seed)
            kept[i, m] = maps[m]
        figs = bench.figures(sample, maps, target)
        random_rows.append(figs["_random"])
        for m in config.methods:
            cls = get_explainer(m, detector)
            row: dict[str, Any] = {"image": i, "name": sample.name, "sha256": sample.sha256, "label": sample.label,
                                   "target": sample.verdict, "p_fake": sample.p_fake, "method": m,
                                   **{k: v for k, v in figs[m].items()},
                                   "seconds_per_image": metas[m]["seconds"], "model_evals": metas[m]["model_evals"],
                                   "stability": None, "sanity_pass": None, "sanity_similarities": None}
            if cls.stochastic:
                other, _ = bench.explanation(sample, m, target, seed + 1)
                row["stability"] = spearman(maps[m], other)
            if i < n_sanity:
                res = bench.sanity(sample, m, target, maps[m])
                row["sanity_pass"], row["sanity_similarities"] = res["passed"], res["similarities"]
            rows.append(row)
        names = list(config.methods)
        for a_i, a in enumerate(names):
            for b in names[a_i + 1:]:
                agree_rows.append({"image": i, "a": a, "b": b, "spearman": spearman(maps[a], maps[b]),
                                   "topk_iou": topk_iou(maps[a], maps[b], config.settings.topk)})
        if progress:
            progress(i + 1)
    work = {**bench.work, "cache_hits": cache.hits, "cache_writes": cache.writes, "images": len(samples)}
    return BenchRun(list(samples), rows, agree_rows, random_rows, bench.stages, kept, work,
                    time.perf_counter() - t0)


def aggregate(run: BenchRun, config: BenchConfig, detector: Detector, *, threshold: float,
              sampling: Sampling | None = None, data: str | None = None) -> dict[str, Any]:
    """The ``explain-eval`` JSON: per-method means/rates with intervals, paired tests with Holm,
    tie groups, agreement, the sample and the settings."""
    methods: dict[str, dict[str, Any]] = {}
    per_metric: dict[str, dict[str, dict[int, float]]] = {k: {} for k in METRICS}
    for m in config.methods:
        mine = [r for r in run.rows if r["method"] == m]
        cls = get_explainer(m, detector)
        entry: dict[str, Any] = {k: stats.mean_ci([r.get(k) for r in mine]) for k in MEANS}
        for k in RATES:
            entry[k] = stats.rate([r.get(k) for r in mine])
        if not cls.stochastic:
            entry["stability"] = {**entry["stability"], "note": "deterministic: the seed does not change the map"}
        entry["sanity_pass"]["mean_similarity_per_stage"] = _stage_means([r["sanity_similarities"] for r in mine])
        entry.update(signed=cls.signed, stochastic=cls.stochastic, description=cls.description,
                     params={**cls.defaults, **config.method_options.get(m, {})})
        methods[m] = entry
        for k in METRICS:
            vals = {r["image"]: float(r[k]) for r in mine if r.get(k) is not None}
            if vals:
                per_metric[k][m] = vals
    per_metric = {k: v for k, v in per_metric.items() if len(v) > 1}
    rows = stats.pairwise(per_metric, METRICS)
    groups = {}
    for k in per_metric:
        key = "rate" if k in RATES else "mean"
        groups[k] = stats.tie_groups({m: methods[m][k][key] for m in per_metric[k]}, rows, k, METRICS[k])
    return {
        "n_images": len(run.samples), "seed": config.seed,
        "model": {**detector.describe(), "temperature": detector.temperature, "cam_layer": detector.cam_layer,
                  "threshold": threshold},
        "target": f"the analysis's verdict: FAKE when p_fake >= {threshold:g} (synthcheck.bands.decide), else REAL",
        "verdict_space": "log-odds: beats_random (the verdict) compares log-odds deletion/insertion AUCs",
        "data": data, "sampling": sampling.to_dict() if sampling else None, "config": config.to_dict(),
        "intervals": {"mean": "Student t 95% interval", "rate": "Wilson score 95% interval"},
        "metrics": {k: {"higher_is_better": v, "meaning": METRIC_MEANING[k]} for k, v in METRICS.items()},
        "methods": methods, "random": _random_summary(run),
        "pairwise": rows, "tie_groups": groups, "leaderboard": leaderboard(methods, groups),
        "agreement": _agreement(run, config), "sanity_stages": run.stages,
        "images": [s.to_dict() for s in run.samples], "work": run.work, "seconds": round(run.seconds, 3),
    }


def _stage_means(lists: list[list[float] | None]) -> list[float] | None:
    got = [x for x in lists if x]
    return np.mean(np.asarray(got, np.float64), axis=0).tolist() if got else None


def _random_summary(run: BenchRun) -> dict[str, Any]:
    """The K random maps' mean AUC per image, averaged over images (chance's level)."""
    keys = ("deletion_auc", "insertion_auc", "deletion_auc_logit", "insertion_auc_logit")
    return {k: stats.mean_ci([float(np.mean(r[k])) for r in run.random_rows]) for k in keys}


def _agreement(run: BenchRun, config: BenchConfig) -> dict[str, Any]:
    names = list(config.methods)
    out: dict[str, Any] = {"spearman": {a: {} for a in names}, "topk_iou": {a: {} for a in names},
                           "k": config.settings.topk, "random_iou": random_iou(config.settings.topk)}
    for kind in ("spearman", "topk_iou"):
        for a_i, a in enumerate(names):
            for b in names[a_i + 1:]:
                ci = stats.mean_ci([r[kind] for r in run.agreement_rows if r["a"] == a and r["b"] == b])
                out[kind][a][b] = out[kind][b][a] = ci
    return out


def leaderboard(methods: dict[str, dict[str, Any]], groups: dict[str, list[list[str]]]) -> list[dict[str, Any]]:
    """One row per method: its tie-group rank (1 = best group) on each metric, best first by the
    verdict metric (beats random), then by log-odds insertion."""
    rank = {k: {m: i + 1 for i, g in enumerate(gs) for m in g} for k, gs in groups.items()}
    rows = [{"method": m, "ranks": {k: rank[k].get(m) for k in rank}} for m in methods]
    rows.sort(key=lambda r: (r["ranks"].get("beats_random") or 99, r["ranks"].get("insertion_auc_logit") or 99,
                             -(methods[r["method"]]["beats_random"]["rate"] or 0.0)))
    return rows
