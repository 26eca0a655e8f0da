"""Issue-8 figures: domain check, calibration, resampling robustness and out-of-CIFAKE verdicts.

    python benchmarks/domain_check.py --data DIR [--checkpoint PATH] [--limit N] [--json OUT]

Prints, for one checkpoint:
- CIFAKE test: share in domain, accuracy on all / in-domain images, ECE raw and calibrated;
- accuracy after 32 -> 128 -> 32 px (bicubic, Pillow) and after JPEG quality 50 re-encoding,
  with the share the domain check keeps and the accuracy on kept and flagged images;
- the out-of-CIFAKE set (tests/ood_corpus.py: real photos whole, shrunk, cropped and re-saved,
  a quality-75 JPEG twin of every 32 px photo, drawn graphics, CIFAKE images pasted into larger
  canvases): share of verdicts both confident (in domain and band likely_real/likely_synthetic)
  and wrong, overall and per kind;
- single-image predict latency with and without the domain check.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthcheck.analysis import records  # noqa: E402
from synthcheck.data.dataset import load_split, twins_mask  # noqa: E402
from synthcheck.evaluation.metrics import compute_metrics  # noqa: E402
from synthcheck.imageio import load_image  # noqa: E402
from synthcheck.inference import Detector  # noqa: E402
from synthcheck.inference.base import softmax_p_fake  # noqa: E402
from tests.ood_corpus import build_ood, cifake_in_canvas  # noqa: E402

CONFIDENT = ("likely_real", "likely_synthetic")


def _pil_roundtrip(images: np.ndarray, fn) -> np.ndarray:
    return np.stack([np.asarray(fn(Image.fromarray(a))) for a in images])


def up_down(img: Image.Image, up: int = 128) -> Image.Image:
    """32 -> 128 -> 32 px, bicubic both ways (Pillow, as an upload pipeline would)."""
    w, h = img.size
    return img.resize((up, up), Image.Resampling.BICUBIC).resize((w, h), Image.Resampling.BICUBIC)


def jpeg_q(img: Image.Image, quality: int = 50) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def perturbed_figures(det: Detector, images: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy on all perturbed images, the share the domain check keeps, and accuracy there."""
    recs = records(list(images), det)
    right = np.array([(r["verdict"] == "FAKE") == bool(y) for r, y in zip(recs, labels, strict=True)])
    keep = np.array([r["in_domain"] for r in recs])
    return {"accuracy": float(right.mean()), "in_domain_share": float(keep.mean()),
            "accuracy_in_domain": float(right[keep].mean()) if keep.any() else None,
            "accuracy_flagged": float(right[~keep].mean()) if (~keep).any() else None}


def cifake_figures(det: Detector, data: str, limit: int | None) -> dict:
    test = load_split(data, "test", det.input_size)
    idx = np.arange(len(test.labels))
    if limit:
        idx = np.random.default_rng(0).choice(idx, size=min(limit, len(idx)), replace=False)
    images, labels = test.images[idx], test.labels[idx]
    logits = det.logits_of_arrays(images)
    m_raw = compute_metrics(labels, softmax_p_fake(logits, 1.0), det.threshold)
    m_cal = compute_metrics(labels, softmax_p_fake(logits, det.temperature), det.threshold)
    t0 = time.perf_counter()
    recs = records([str(Path(test.root) / test.paths[i]) for i in idx], det)
    rec_s = time.perf_counter() - t0
    in_dom = np.array([r["in_domain"] for r in recs])
    pred = np.array([r["verdict"] == "FAKE" for r in recs]).astype(int)
    train = load_split(data, "train", det.input_size)
    no_twin = ~twins_mask(test, train)[idx]
    return {
        "n_images": len(idx),
        "in_domain_share": float(in_dom.mean()),
        "accuracy_all": float((pred == labels).mean()),
        "accuracy_in_domain": float((pred[in_dom] == labels[in_dom]).mean()),
        "accuracy_no_twin": float((pred[no_twin] == labels[no_twin]).mean()),
        "roc_auc": m_cal["roc_auc"],
        "ece_raw": m_raw["ece"], "ece_calibrated": m_cal["ece"], "temperature": det.temperature,
        "up_down_128_bicubic": perturbed_figures(det, _pil_roundtrip(images, up_down), labels),
        "jpeg_q50": perturbed_figures(det, _pil_roundtrip(images, jpeg_q), labels),
        "records_per_s": len(idx) / rec_s,
        "_images": images, "_labels": labels,
    }


def ood_figures(det: Detector, extra: list) -> dict:
    items = build_ood() + extra
    recs = records([it.data for it in items], det, names=[it.name for it in items])
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, confident-wrong, out-of-domain
    wrong_names = []
    for it, r in zip(items, recs, strict=True):
        k = per_kind[it.kind]
        k[0] += 1
        confident = r["in_domain"] and r["band"] in CONFIDENT
        wrong = it.truth is None or r["verdict"] != it.truth
        k[1] += int(confident and wrong)
        k[2] += int(not r["in_domain"])
        if confident and wrong:
            wrong_names.append(f"{it.name} ({r['band']}, p={r['p_fake']:.3f})")
    n = sum(v[0] for v in per_kind.values())
    cw = sum(v[1] for v in per_kind.values())
    return {"n": n, "confident_wrong": cw, "confident_wrong_share": cw / n,
            "per_kind": {k: {"n": v[0], "confident_wrong": v[1], "out_of_domain": v[2]}
                         for k, v in sorted(per_kind.items())},
            "confident_wrong_items": wrong_names}


def latency(det: Detector, reps: int = 200) -> dict:
    """Median ms from bytes to verdict, without and with the domain check (both kinds)."""
    from tests.ood_corpus import real_photos

    photo = dict(real_photos())["coffee"]
    small = np.asarray(Image.fromarray(photo).resize((32, 32), Image.Resampling.BICUBIC))
    plain = copy.copy(det)
    plain.feature_domain = None
    out = {}
    for label, arr in (("32px", small), ("600x400", photo)):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG")
        data = buf.getvalue()
        times = {"without": [], "with": []}
        for _ in range(reps):
            for mode in ("without", "with"):
                t = time.perf_counter()
                loaded = load_image(data)
                d = plain if mode == "without" else det
                v = d.predict([loaded])[0]
                if mode == "with":
                    det.domain_model.judge(loaded, v.feature_distance, v.jpeg_residual)
                times[mode].append(time.perf_counter() - t)
        w, wd = np.median(times["without"]) * 1e3, np.median(times["with"]) * 1e3
        out[label] = {"without_ms": round(w, 3), "with_ms": round(wd, 3), "added_pct": round(100 * (wd / w - 1), 1)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"), help="CIFAKE root (train|test/REAL|FAKE)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--limit", type=int, default=None, help="score a random subset of the test split")
    ap.add_argument("--canvas", type=int, default=200, help="CIFAKE images pasted into canvases")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--json-line", action="store_true", help="end with the figures as one JSON line")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    det = Detector.from_checkpoint(args.checkpoint)
    res: dict = {"checkpoint": str(args.checkpoint or "default"), "model": det.model_name}
    extra = []
    if args.data:
        c = cifake_figures(det, args.data, args.limit)
        extra = cifake_in_canvas(c.pop("_images"), c.pop("_labels"), args.canvas)
        res["cifake"] = c
    res["ood"] = ood_figures(det, extra)
    res["latency"] = latency(det)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=float))
    c = res.get("cifake")
    if c:
        print(f"CIFAKE test ({c['n_images']} images): in domain {c['in_domain_share']:.2%}; accuracy "
              f"all {c['accuracy_all']:.2%}, in-domain {c['accuracy_in_domain']:.2%}, no-twin "
              f"{c['accuracy_no_twin']:.2%}; AUC {c['roc_auc']:.5f}")
        print(f"ECE raw {c['ece_raw']:.4f} -> calibrated {c['ece_calibrated']:.4f} (T={c['temperature']:.3f})")
        for name, key in (("32->128->32 bicubic", "up_down_128_bicubic"), ("JPEG q50", "jpeg_q50")):
            f = c[key]
            extra_s = (f"; in domain {f['in_domain_share']:.1%}, accuracy there {f['accuracy_in_domain']:.2%}"
                       if f["accuracy_in_domain"] is not None else "")
            flagged = f" (flagged: {f['accuracy_flagged']:.2%})" if f["accuracy_flagged"] is not None else ""
            print(f"{name}: accuracy {f['accuracy']:.2%}{extra_s}{flagged}")
    o = res["ood"]
    print(f"Out of CIFAKE ({o['n']} inputs): confident and wrong {o['confident_wrong']} "
          f"({o['confident_wrong_share']:.1%})")
    for k, v in o["per_kind"].items():
        print(f"  {k:12s} n={v['n']:4d}  confident-wrong={v['confident_wrong']:3d}  out-of-domain={v['out_of_domain']:3d}")
    for name in o["confident_wrong_items"][:15]:
        print(f"    {name}")
    for k, v in res["latency"].items():
        print(f"predict latency {k}: {v['without_ms']:.2f} ms without, {v['with_ms']:.2f} ms with the "
              f"domain check (+{v['added_pct']:.1f}%)")
    if args.json_line:
        print(json.dumps(res, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
