#!/usr/bin/env python
"""Explanation engine benchmark: latency, map stability, faithfulness on held-out CIFAKE images.

Prints, for the default model on a 32x32 input on this machine's CPU:
1. per-method latency p50/p90 of ``explain`` and of ``explain_all`` (3 methods + faithfulness),
   next to a naive use of the same libraries measured in the same run;
2. map stability: Spearman correlation between the maps of two seeds (random methods), and
   how latency and stability move with the sample count (``--sweep``);
3. mean deletion/insertion AUC per method vs a random map over ``--n-images`` held-out test
   images (test files that are byte-identical to a training file are skipped).
Usage: python benchmarks/bench_explain.py [--data DIR] [--n-images 200] [--repeats 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from synthcheck.data.dataset import load_split, twins_mask
from synthcheck.explain import explain, explain_all, get_explainer
from synthcheck.explain.base import blurred, mean_colour, superpixels
from synthcheck.explain.metrics import spearman
from synthcheck.inference import Detector
from synthcheck.inference.base import softmax_p_fake

TARGETS_MS = {"gradcam": 30, "gradient_shap": 400, "kernel_shap": 400, "lime": 500, "all_three+faithfulness": 1500}


def timeit(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> dict[str, float]:
    """p50/p90 wall time of ``fn`` in milliseconds after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2)}


def naive_baselines(det: Detector, img: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Straightforward library use: tutorial settings, unbatched model calls, weight grads on."""
    from captum.attr import GradientShap, KernelShap, LayerAttribution, LayerGradCam
    from lime import lime_image

    model, layer = det.model, det.model.get_submodule(det.cam_layer)
    x = det.to_tensor(img[None].copy())
    base = torch.cat([det.to_tensor(blurred(img[None])), det.to_tensor(mean_colour(det, 1))])
    mask = torch.as_tensor(superpixels(img)[0])[None, None]

    def gradcam() -> Any:
        a = LayerGradCam(model, layer).attribute(x, target=1)
        return LayerAttribution.interpolate(a, (32, 32))

    def gradient_shap() -> Any:  # captum tutorial: n_samples=50
        return GradientShap(model).attribute(x, baselines=base, n_samples=50, stdevs=0.0001, target=1)

    def kernel_shap() -> Any:  # n_samples=200, default perturbations_per_eval=1 (one image per call)
        return KernelShap(model).attribute(x, baselines=base[:1], target=1, feature_mask=mask, n_samples=200)

    def classifier(a: np.ndarray) -> np.ndarray:  # lime wants (N, 2) probabilities
        with torch.no_grad():
            p_fake = softmax_p_fake(model(det.to_tensor(a.astype(np.uint8))).float().numpy())
        return np.stack([1.0 - p_fake, p_fake], 1)

    def lime() -> Any:  # lime defaults: quickshift segments, 1000 samples, batch_size 10
        import contextlib
        import io

        with contextlib.redirect_stderr(io.StringIO()):  # lime's tqdm bar
            return lime_image.LimeImageExplainer(random_state=0).explain_instance(
                img, classifier, top_labels=2, num_samples=1000)

    return {"gradcam": gradcam, "gradient_shap": gradient_shap, "kernel_shap": kernel_shap, "lime": lime}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA", "/work/data/cifake"))
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--n-images", type=int, default=200, help="held-out images for faithfulness")
    ap.add_argument("--n-stability", type=int, default=40, help="images for the two-seed stability")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=True,
                    help="latency/stability vs sample count")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's; 1 avoids oversubscription on a busy CPU)")
    ap.add_argument("--latency-only", action="store_true", help="only section 1 (latency)")
    ap.add_argument("--json", action="store_true", help="also print all figures as JSON")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)

    det = Detector.from_checkpoint(args.checkpoint)
    test = load_split(args.data, "test", det.input_size)
    try:
        keep = ~twins_mask(test, load_split(args.data, "train", det.input_size))
    except Exception:  # no train split: use every test image
        keep = np.ones(len(test), bool)
    rng = np.random.default_rng(0)
    pool = np.flatnonzero(keep)
    idx = np.concatenate([rng.choice(pool[test.labels[pool] == c], args.n_images // 2, replace=False) for c in (0, 1)])
    images, labels = test.images[idx], test.labels[idx]
    print(f"# model {det.model_name} ({det.describe()['checkpoint']}), torch threads {torch.get_num_threads()}, "
          f"{int(keep.sum())}/{len(test)} test images without a train twin")
    out: dict[str, Any] = {"latency": {}, "naive": {}, "stability": {}, "sweep": [], "faithfulness": {}}

    # 1. latency on one 32x32 input ----------------------------------------------------------
    img = images[0]
    print("\n## latency, one 32x32 image (ms)          ours p50   p90 | naive p50 | target")
    naive = naive_baselines(det, img)
    for m in ("gradcam", "guided_gradcam", "gradient_shap", "kernel_shap", "lime"):
        ours = timeit(lambda m=m: explain(det, img, m, seed=0), args.repeats)
        nv = timeit(naive[m], max(3, args.repeats // 5), warmup=1) if m in naive else None
        out["latency"][m], out["naive"][m] = ours, nv
        tgt = TARGETS_MS.get(m)
        print(f"{m:40s} {ours['p50_ms']:8.1f} {ours['p90_ms']:6.1f} | "
              f"{nv['p50_ms'] if nv else float('nan'):9.1f} | {'<= ' + str(tgt) if tgt else ''}")
    for label, methods in (("all_three+faithfulness", ("gradcam", "gradient_shap", "lime")),
                           ("all_four+faithfulness (with kernel_shap)", ("gradcam", "gradient_shap", "kernel_shap", "lime"))):
        t = timeit(lambda methods=methods: explain_all(det, img, methods, seed=0), max(5, args.repeats // 2))
        out["latency"][label] = t
        tgt = TARGETS_MS.get(label)
        print(f"{label:40s} {t['p50_ms']:8.1f} {t['p90_ms']:6.1f} | {'':9s} | {'<= ' + str(tgt) if tgt else ''}")
    rep = explain_all(det, img, seed=0)
    print("model evaluations per call: " + ", ".join(f"{m} {e.model_evals}" for m, e in rep.explanations.items()))

    if args.latency_only:
        if args.json:
            print(json.dumps(out, indent=1))
        return

    # 2. stability between two seeds ---------------------------------------------------------
    stab_imgs = images[: args.n_stability]

    def stability(method: str, **opts: Any) -> float:
        ex = get_explainer(method, det)
        rs = []
        for a in stab_imgs:
            m0 = ex.explain_arrays(a[None], seed=0, **opts)[0].map
            m1 = ex.explain_arrays(a[None], seed=1, **opts)[0].map
            r = spearman(m0, m1)
            rs.append(1.0 if r is None else r)
        return float(np.mean(rs))

    print(f"\n## stability: mean Spearman(map seed 0, map seed 1) over {len(stab_imgs)} images (defaults)")
    for m in ("gradient_shap", "kernel_shap", "lime"):
        out["stability"][m] = round(stability(m), 4)
        print(f"{m:16s} {out['stability'][m]:.3f}")
    if args.sweep:
        print("\n## sample-count sweep (p50 ms on one image | stability)")
        for m, key, counts in (("gradient_shap", "n_samples", (16, 32, 64)),
                               ("kernel_shap", "n_samples", (64, 128, 256)),
                               ("lime", "num_samples", (128, 256, 512))):
            for n in counts:
                t = timeit(lambda m=m, key=key, n=n: explain(det, img, m, **{key: n}), max(5, args.repeats // 3))
                s = stability(m, **{key: n})
                out["sweep"].append({"method": m, key: n, **t, "stability": round(s, 4)})
                print(f"{m:16s} {key}={n:<4d} {t['p50_ms']:8.1f} ms | {s:.3f}")

    # 3. faithfulness over held-out images ---------------------------------------------------
    methods = ("gradcam", "gradient_shap", "kernel_shap", "lime")
    rows: dict[str, list[list[float]]] = {m: [] for m in methods}
    t0 = time.perf_counter()
    correct = 0
    for a, y in zip(images, labels, strict=True):
        r = explain_all(det, a, methods, seed=0)
        correct += int(r.target_index == y)
        for m in methods:
            f = r.faithfulness[m]
            rows[m].append([f["deletion_auc"], f["random_deletion_auc"], f["insertion_auc"], f["random_insertion_auc"]])
    print(f"\n## faithfulness over {len(images)} held-out CIFAKE test images ({len(images) // 2} REAL + "
          f"{len(images) // 2} FAKE, target = predicted class, baseline = blurred image, "
          f"model accuracy on them {correct / len(images):.3f}; {time.perf_counter() - t0:.0f} s)")
    print(f"{'method':16s} {'deletion':>9s} {'random':>7s} {'beats':>6s} | {'insertion':>9s} {'random':>7s} {'beats':>6s}")
    for m in methods:
        v = np.asarray(rows[m])
        mean, sem = v.mean(0), v.std(0, ddof=1) / np.sqrt(len(v))
        d_beat, i_beat = float((v[:, 0] < v[:, 1]).mean()), float((v[:, 2] > v[:, 3]).mean())
        out["faithfulness"][m] = {"deletion_auc": round(float(mean[0]), 4), "deletion_sem": round(float(sem[0]), 4),
                                  "random_deletion_auc": round(float(mean[1]), 4),
                                  "insertion_auc": round(float(mean[2]), 4), "insertion_sem": round(float(sem[2]), 4),
                                  "random_insertion_auc": round(float(mean[3]), 4),
                                  "deletion_beats_random": round(d_beat, 3), "insertion_beats_random": round(i_beat, 3)}
        print(f"{m:16s} {mean[0]:9.3f} {mean[1]:7.3f} {d_beat:6.0%} | {mean[2]:9.3f} {mean[3]:7.3f} {i_beat:6.0%}")
    if args.json:
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
