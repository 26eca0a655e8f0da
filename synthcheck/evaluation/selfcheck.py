"""Control run: score a bundled set of known-truth images and compare with the checkpoint's figures.

A forensic report is easier to defend when it can show that the tool, on the day of the
analysis and with the exact model used, still got known images right. ``run_selfcheck``
scores the 48 CIFAKE test images shipped in ``synthcheck/selfcheck_images`` (24 REAL, 24 FAKE,
none byte-identical to a training image; see ``manifest.json`` there) and compares the
accuracy with the test accuracy recorded in the checkpoint.

Tolerance (small n): with n = 48 images and a recorded accuracy ``a``, the number of errors of
a model that still performs as recorded is Binomial(48, 1 - a). The check fails when the
observed errors exceed the smallest ``k`` with P(errors > k) <= ``ALPHA`` (0.001), i.e. a
healthy model fails it less than once in a thousand independent samples. For a = 0.978 that
allows 5 errors (accuracy >= 43/48 = 89.6%). It also fails when any bundled image's SHA-256
differs from the manifest (the known-truth set itself was changed), when the checkpoint records
no accuracy to compare with, or when the model cannot score an image.

Each run is saved as ``synthcheck_home()/selfcheck/latest.json`` and appended (without the
per-image rows) to ``history.jsonl`` next to it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..fsio import atomic_write_text, file_sha256
from ..home import synthcheck_home
from ..timestamps import utc_now
from ..version import code_version

SELFCHECK_DIR = Path(__file__).resolve().parents[1] / "selfcheck_images"
MANIFEST = SELFCHECK_DIR / "manifest.json"
ALPHA = 0.001  # chance that a model performing as recorded fails the check
METRIC_PREFERENCE = ("test_no_train_twin", "test", "val")  # which recorded figure to compare with
LABELS = ("REAL", "FAKE")


# -- the tolerance ------------------------------------------------------------------------
def binomial_tail(n: int, p: float, k: int) -> float:
    """P(X > k) for X ~ Binomial(n, p), exactly (n is small)."""
    if k >= n:
        return 0.0
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1, n + 1)))


def allowed_errors(n: int, expected_accuracy: float, alpha: float = ALPHA) -> int:
    """Smallest k with P(errors > k) <= alpha when each image is wrong with prob 1 - accuracy."""
    p_err = min(1.0, max(0.0, 1.0 - float(expected_accuracy)))
    for k in range(n + 1):
        if binomial_tail(n, p_err, k) <= alpha:
            return k
    return n


# -- the bundled set ----------------------------------------------------------------------
def load_manifest(manifest: Path = MANIFEST) -> dict[str, Any]:
    """The bundled set's manifest: ``{"images": [{"file", "label", "sha256", "source"}], ...}``."""
    return json.loads(manifest.read_text(encoding="utf-8"))


def expected_accuracy(detector: Any) -> tuple[float | None, str | None]:
    """The checkpoint's recorded accuracy (twin-free test split first) and which split it is."""
    metrics = (getattr(detector, "meta", None) or {}).get("metrics")
    if not metrics and getattr(detector, "path", None):
        try:  # the ONNX twin carries no metrics: read them from the checkpoint it came from
            from ..checkpoint import load_checkpoint

            metrics = load_checkpoint(detector.path).get("metrics")
        except Exception:
            metrics = None
    for split in METRIC_PREFERENCE:
        m = (metrics or {}).get(split)
        if isinstance(m, dict) and isinstance(m.get("accuracy"), (int, float)):
            return float(m["accuracy"]), split
    return None, None


def _now_utc() -> str:
    return utc_now()


def run_selfcheck(detector: Any, *, home: Path | None = None, save: bool = True,
                  images_dir: Path = SELFCHECK_DIR, alpha: float = ALPHA) -> dict[str, Any]:
    """Score the known-truth set with ``detector``, judge it against the recorded figures, save it."""
    from ..imageio import ImageError, load_image

    t0 = time.perf_counter()
    manifest = load_manifest(images_dir / "manifest.json")
    problems: list[str] = []
    details: list[dict[str, Any]] = []
    loaded, rows = [], []
    for item in manifest["images"]:
        row = {"file": item["file"], "label": item["label"], "sha256": item["sha256"]}
        path = images_dir / item["file"]
        try:
            data = path.read_bytes()
        except OSError:
            problems.append(f"bundled image {item['file']} is missing")
            details.append({**row, "error": "missing"})
            continue
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            problems.append(f"bundled image {item['file']} differs from the manifest (SHA-256 mismatch)")
            details.append({**row, "error": "sha256 mismatch"})
            continue
        try:
            loaded.append(load_image(data, name=item["file"]))
            rows.append(row)
        except ImageError as exc:
            problems.append(f"bundled image {item['file']} cannot be read: {exc}")
            details.append({**row, "error": str(exc)})
    from ..analysis import analyze

    # the analysis's raw call at the default threshold: the one decision every face shows
    analyses = analyze(loaded, detector, keep_images=False) if loaded else []
    for row, a in zip(rows, analyses, strict=True):
        details.append({**row, "verdict": a.verdict, "p_fake": round(float(a.p_fake), 6),
                        "correct": a.verdict == row["label"]})
    details.sort(key=lambda d: d["file"])

    n = len(manifest["images"])
    n_correct = sum(bool(d.get("correct")) for d in details)
    accuracy = n_correct / n if n else 0.0
    per_class = {lab: {"n": sum(d["label"] == lab for d in details),
                       "correct": sum(d["label"] == lab and bool(d.get("correct")) for d in details)}
                 for lab in LABELS}
    expected, split = expected_accuracy(detector)
    if expected is None:
        problems.append("the checkpoint records no test accuracy, so there is nothing to compare with")
        k, min_acc = None, None
    else:
        k = allowed_errors(n, expected, alpha)
        min_acc = (n - k) / n
        if n - n_correct > k:
            problems.append(f"{n - n_correct} of {n} known images wrong; a model performing as recorded "
                            f"({expected:.1%} on {split}) gets at most {k} wrong (P < {alpha:g})")
    result = {
        "ok": not problems,
        "n_images": n, "n_correct": n_correct, "accuracy": round(accuracy, 6),
        "expected_accuracy": None if expected is None else round(expected, 6),
        "expected_from": split,
        "tolerance": None if min_acc is None else round(expected - min_acc, 6),
        "min_accuracy": None if min_acc is None else round(min_acc, 6),
        "allowed_errors": k, "alpha": alpha,
        "rule": "fail when errors exceed the Binomial(n, 1 - expected_accuracy) upper tail at alpha",
        "per_class": per_class,
        "model_name": getattr(detector, "model_name", None),
        "checkpoint": Path(detector.path).name if getattr(detector, "path", None) else None,
        "model_sha256": getattr(detector, "checkpoint_sha256", None),
        "code_version": code_version(),
        "image_set": manifest.get("name", "cifake-selfcheck"),
        "image_set_sha256": manifest_digest(manifest),
        "when_utc": _now_utc(),
        "seconds": round(time.perf_counter() - t0, 3),
        "problems": problems,
        "details": details,
    }
    if save:
        save_selfcheck(result, home)
    return result


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 over the manifest's (file, label, sha256) rows: names the exact known-truth set."""
    rows = sorted((m["file"], m["label"], m["sha256"]) for m in manifest["images"])
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def summary_line(result: dict[str, Any]) -> str:
    """One line: PASS/FAIL, known images right, and the pass mark it was judged by."""
    line = (f"{'PASS' if result['ok'] else 'FAIL'}  {result['n_correct']}/{result['n_images']} known "
            f"images right ({result['accuracy']:.1%})")
    if result.get("expected_accuracy") is not None:
        line += (f"; recorded {result['expected_accuracy']:.1%} ({result['expected_from']}), pass mark "
                 f"{result['min_accuracy']:.1%} (at most {result['allowed_errors']} wrong, "
                 f"P < {result['alpha']:g} for a model as recorded)")
    return line


# -- saved runs ---------------------------------------------------------------------------
def selfcheck_dir(home: Path | None = None, create: bool = False) -> Path:
    """Where control runs are kept: ``<home>/selfcheck``."""
    base = Path(home) if home is not None else synthcheck_home(create=create)
    path = base / "selfcheck"
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def save_selfcheck(result: dict[str, Any], home: Path | None = None) -> Path:
    """Write ``latest.json`` atomically and append the run (without details) to ``history.jsonl``."""
    folder = selfcheck_dir(home, create=True)
    latest = folder / "latest.json"
    atomic_write_text(latest, json.dumps(result, indent=2) + "\n")
    with open(folder / "history.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({k: v for k, v in result.items() if k != "details"}, separators=(",", ":")) + "\n")
    return latest


def latest_selfcheck(home: Path | None = None) -> dict[str, Any] | None:
    """The most recent saved control run, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((selfcheck_dir(home) / "latest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "ok" in data else None


def control_run_section(detector: Any, created_utc: str | None = None,
                        run: dict[str, Any] | None = None, home: Path | None = None) -> dict[str, Any]:
    """What a report says about the control run: status plus one plain sentence.

    ``run`` defaults to :func:`latest_selfcheck`. ``current`` is true only for a passed run on the
    report's UTC day with the report's model (same checkpoint SHA-256).
    """
    run = run if run is not None else latest_selfcheck(home)
    day = (created_utc or _now_utc())[:10]
    if not run:
        return {"status": "none", "current": False,
                "sentence": "No control run on record: run `synthcheck selfcheck` to show the tool "
                            "scores known images correctly before relying on this report."}
    model_sha = getattr(detector, "checkpoint_sha256", None)
    same_day = str(run.get("when_utc", ""))[:10] == day
    same_model = bool(model_sha) and run.get("model_sha256") == model_sha
    status = {True: "passed", False: "failed"}.get(run.get("ok"), "unavailable")
    if isinstance(run.get("n_images"), int) and isinstance(run.get("accuracy"), (int, float)):
        head = (f"Control run {status} at {run.get('when_utc')}: {run.get('n_correct')} of "
                f"{run['n_images']} known images right (accuracy {run['accuracy']:.1%}")
        if isinstance(run.get("expected_accuracy"), (int, float)) and isinstance(run.get("min_accuracy"), (int, float)):
            head += f"; recorded {run['expected_accuracy']:.1%}, pass mark {run['min_accuracy']:.1%}"
        head += ")."
    else:
        head = f"Control run at {run.get('when_utc')} did not complete."
        status = "failed" if status == "passed" else status
    caveats = []
    if not same_day:
        caveats.append(f"it was not run on the day of this report ({day}), so it does not show "
                       "the tool worked that day")
    if not model_sha:
        caveats.append("this report's model has no checkpoint file hash, so the control run cannot be "
                       "tied to it")
    elif not same_model:
        caveats.append("it was run with a different model (checkpoint SHA-256 "
                       f"{str(run.get('model_sha256'))[:16]}... instead of {model_sha[:16]}...)")
    if status != "passed":
        caveats.append("the tool did NOT show its recorded accuracy: treat every verdict in this "
                       "report with suspicion" + (f" ({'; '.join(map(str, run.get('problems') or []))})"
                                                   if run.get("problems") else ""))
    sentence = head + ("" if not caveats else " But " + "; ".join(caveats) + ".")
    keys = ("ok", "when_utc", "n_images", "n_correct", "accuracy", "expected_accuracy", "expected_from",
            "min_accuracy", "allowed_errors", "model_sha256", "code_version", "image_set_sha256")
    return {"status": status, "current": status == "passed" and same_day and same_model,
            "same_day": same_day, "same_model": same_model, "sentence": sentence,
            "run": {k: run.get(k) for k in keys}}


# -- building the bundled set (run once by a maintainer; kept for reproducibility) ---------
def _every_kth(names: list[str], n: int) -> list[str]:
    step = len(names) / n
    return [names[int(i * step)] for i in range(n)]


def build_selfcheck_set(cifake_dir: str | os.PathLike, out_dir: str | os.PathLike = SELFCHECK_DIR,
                        n_per_class: int = 24, train_hashes: Iterable[str] | None = None) -> dict[str, Any]:
    """Copy ``n_per_class`` test images per class (sorted names, evenly spaced) into ``out_dir``.

    Test images byte-identical to any train image (or to another test image) are excluded so the
    control run never measures memorisation. Writes ``manifest.json``; returns it.
    """
    root, out = Path(cifake_dir), Path(out_dir)
    if train_hashes is None:
        train_hashes = {file_sha256(p) for p in (root / "train").glob("*/*") if p.is_file()}
    banned = set(train_hashes)
    test_hashes: dict[str, int] = {}
    for p in (root / "test").glob("*/*"):
        h = file_sha256(p)
        test_hashes[h] = test_hashes.get(h, 0) + 1
    banned |= {h for h, c in test_hashes.items() if c > 1}
    images = []
    for label in LABELS:
        folder = root / "test" / label
        names = sorted(p.name for p in folder.iterdir() if p.is_file() and file_sha256(p) not in banned)
        (out / label).mkdir(parents=True, exist_ok=True)
        for name in _every_kth(names, n_per_class):
            data = (folder / name).read_bytes()
            safe = name.replace(" ", "_").replace("(", "").replace(")", "")
            (out / label / safe).write_bytes(data)
            images.append({"file": f"{label}/{safe}", "label": label,
                           "sha256": hashlib.sha256(data).hexdigest(), "source": f"test/{label}/{name}"})
    manifest = {"name": "cifake-selfcheck-48", "dataset": "CIFAKE (Bird & Lotfi 2024), MIT license",
                "selection": f"sorted file names of test/REAL and test/FAKE without train (or test) "
                             f"byte-twins, {n_per_class} evenly spaced per class",
                "images": images}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
