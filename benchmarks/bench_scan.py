#!/usr/bin/env python
"""``synthcheck scan`` at scale: throughput against the model alone, memory, kill -9 and resume.

All in one run, on the CIFAKE test JPEGs (``--data``, 20,000 files) and, for the memory
comparison, the train split (``--train``, 100,000 files, optional):

1. model-only baseline: ONNX Runtime on pre-decoded uint8 arrays, batches of 512, as many
   intra-op threads as ``--workers`` (the same cores the scan gets), best of 3 passes;
2. end-to-end ``synthcheck scan DATA --out X.parquet --workers N`` (files to Parquet, a fresh
   process, start-up included): images/s, its share of the model-only figure, and the peak RSS
   of the whole process tree (parent, fork server and workers, sampled every 0.1 s). Steps 1 and 2 run in
   turns ``--repeats`` times (default 3); the share reported is the median of the rounds';
3. the same over ``--train`` (peak RSS at 100,000 inputs against 20,000);
4. ``kill -9`` of the whole process group at about 50% of the rows, then the same command again:
   rows lost and duplicated, by comparing sorted key and SHA-256 lists with step 2's output;
5. ``--engine ray`` (local Ray, ``--workers`` CPUs) on the same files: images/s and whether its
   rows equal the local engine's (``--no-ray`` skips it).

    python benchmarks/bench_scan.py --data /tmp/cifake/test --train /tmp/cifake/train --workers 2

Prints one line per figure, then one JSON line with all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the scan, its fork server and its workers), from
    ``/proc/PID/task/TID/children``: a few small reads, where walking all of ``/proc`` cost
    5 ms a sample, CPU taken from the scan being measured."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.scandir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(task.path, "children").read_text().split()]
        except OSError:
            continue
    return out


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants."""
    total = 0
    for p in _tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def _scan(args: list[str], kill_at_rows: int | None = None, parts: Path | None = None,
          chunk: int = 512) -> dict[str, float]:
    """Run ``synthcheck scan`` in its own session; peak RSS of the session; optionally kill -9
    the whole session once ``kill_at_rows`` rows are committed in part files."""
    cmd = [sys.executable, "-m", "synthcheck", "scan", *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    peak, killed = 0, False
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        if kill_at_rows is not None and parts is not None and parts.is_dir():
            done = sum(1 for p in parts.glob("part-*")) * chunk
            if done >= kill_at_rows:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.1)
    _, err = proc.communicate()
    wall = time.perf_counter() - t
    if not killed and proc.returncode not in (0, 2):
        raise RuntimeError(err.decode(errors="replace").strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_mb": peak / 2**20, "killed": killed}


def _model_only(data: Path, threads: int, limit: int | None) -> dict[str, float]:
    import numpy as np
    from PIL import Image

    from synthcheck.imageio import to_model_array
    from synthcheck.inference.base import default_checkpoint
    from synthcheck.inference.onnx_backend import OnnxDetector, onnx_path_for

    ckpt = default_checkpoint()
    det = OnnxDetector(onnx_path_for(ckpt), ckpt, threads=threads)
    files = sorted(data.rglob("*.jpg"))[:limit]
    arrays = np.stack([to_model_array(Image.open(f).convert("RGB"), det.input_size) for f in files])
    det.logits_and_features(arrays[:512], batch_size=512)  # warm-up
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        det.logits_and_features(arrays, batch_size=512)
        best = max(best, len(arrays) / (time.perf_counter() - t))
    return {"images": len(arrays), "images_per_s": best}


def _keys(path: Path) -> tuple[list[str], list[str]]:
    from synthcheck.scan.writer import iter_row_batches

    keys, shas = [], []
    for rows in iter_row_batches(path, ["key", "sha256"]):
        keys += [r["key"] for r in rows]
        shas += [r["sha256"] or "" for r in rows]
    return keys, shas


def _rows_by_key(path: Path) -> dict[str, dict]:
    from synthcheck.scan.writer import read_rows

    return {r["key"]: r for r in read_rows(path)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/cifake/test", help="folder of images (CIFAKE test)")
    ap.add_argument("--train", default=None, help="a larger folder for the RSS comparison")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="rounds of model-only then scan")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the results files")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    data = Path(args.data)
    out: dict[str, object] = {"workers": args.workers}
    tmp = Path(tempfile.mkdtemp(prefix="bench_scan_"))
    w = ["--workers", str(args.workers)]

    # model-only and scan measured in turns, so each scan has a baseline from the same minutes
    # (this machine's speed drifts by 10-20% from minute to minute); the share is their median
    rounds = []
    full = tmp / "full.parquet"
    for r in range(args.repeats):
        model = _model_only(data, args.workers, None)
        target = full if r == 0 else tmp / f"again{r}.parquet"
        run = _scan([str(data), "--out", str(target), *w])
        n = len(_keys(target)[0])
        rounds.append({"model_images_per_s": model["images_per_s"], "scan_images_per_s": n / run["wall_s"],
                       "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"], "n": n})
        print(f"round {r + 1}: model only (ONNX Runtime, {args.workers} threads, batches of 512) "
              f"{model['images_per_s']:,.0f} images/s on {model['images']:,} pre-decoded images; "
              f"scan, files to Parquet, {n:,} images in {run['wall_s']:.2f} s = "
              f"{n / run['wall_s']:,.0f} images/s ({n / run['wall_s'] / model['images_per_s']:.0%}); "
              f"peak RSS {run['peak_rss_mb']:.0f} MB")
        if target != full:
            target.unlink(missing_ok=True)
    med = lambda xs: float(statistics.median(xs))  # noqa: E731
    share = med([x["scan_images_per_s"] / x["model_images_per_s"] for x in rounds])
    rate, model_rate = med([x["scan_images_per_s"] for x in rounds]), med([x["model_images_per_s"] for x in rounds])
    run, n = rounds[0], rounds[0]["n"]
    out.update(rounds=len(rounds), model_only_images_per_s=round(model_rate, 1), scan_images=n,
               scan_images_per_s=round(rate, 1), scan_share_of_model=round(share, 3),
               scan_shares=[round(x["scan_images_per_s"] / x["model_images_per_s"], 3) for x in rounds],
               peak_rss_mb_small=round(run["peak_rss_mb"], 1))
    print(f"median of {len(rounds)} rounds: scan {rate:,.0f} images/s, model only {model_rate:,.0f} "
          f"images/s; scan / model-only per round, median: {share:.0%}")

    if args.train:
        big = tmp / "train.parquet"
        run_big = _scan([args.train, "--out", str(big), *w])
        n_big = len(_keys(big)[0])
        out.update(scan_images_large=n_big, peak_rss_mb_large=round(run_big["peak_rss_mb"], 1),
                   rss_ratio=round(run_big["peak_rss_mb"] / run["peak_rss_mb"], 3),
                   scan_images_per_s_large=round(n_big / run_big["wall_s"], 1))
        print(f"scan of {n_big:,} images: peak RSS {run_big['peak_rss_mb']:.0f} MB "
              f"({run_big['peak_rss_mb'] / run['peak_rss_mb']:.2f}x the {n:,}-image run), "
              f"{n_big / run_big['wall_s']:,.0f} images/s")
        big.unlink(missing_ok=True)

    resumed = tmp / "resumed.parquet"
    killed = _scan([str(data), "--out", str(resumed), *w], kill_at_rows=n // 2,
                   parts=Path(str(resumed) + ".parts"))
    committed = sum(1 for _ in Path(str(resumed) + ".parts").glob("part-*"))
    _scan([str(data), "--out", str(resumed), *w])
    (k_full, s_full), (k_res, s_res) = _keys(full), _keys(resumed)
    lost = len(set(k_full) - set(k_res))
    dup = len(k_res) - len(set(k_res))
    same_sha = sorted(s_full) == sorted(s_res)
    out.update(kill_at_parts=committed, resume_lost=lost, resume_duplicated=dup,
               resume_sha256_equal=same_sha, resume_killed=killed["killed"])
    print(f"kill -9 after {committed} committed parts (~{committed * 512:,} rows), then resumed: "
          f"{lost} lost, {dup} duplicated, sorted SHA-256 lists equal: {same_sha}")

    if not args.no_ray:
        ray_out = tmp / "ray.parquet"
        run_ray = _scan([str(data), "--out", str(ray_out), "--engine", "ray", *w])
        summary = json.loads(Path(str(ray_out) + ".summary.json").read_text())
        a, b = _rows_by_key(full), _rows_by_key(ray_out)
        same = a == b
        out.update(ray_wall_s=round(run_ray["wall_s"], 1),
                   ray_images_per_s=round(len(b) / run_ray["wall_s"], 1),
                   ray_images_per_s_after_start=summary["images_per_s"], ray_rows_equal=same)
        print(f"Ray Data (local, {args.workers} CPUs): {len(b) / run_ray['wall_s']:,.0f} images/s "
              f"wall, Ray start-up included ({summary['images_per_s']:,.0f} inside scan()); rows "
              f"identical to the local engine: {same}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
