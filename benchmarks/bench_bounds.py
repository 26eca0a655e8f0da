#!/usr/bin/env python
"""Bounded memory and time (issue 18, item 6): the three target figures, on any checkout.

1. peak RSS of ``synthcheck predict --json`` over 16 photos of 40 Mpx against one photo
   (target: at most twice);
2. ``case export`` (no explanations) of 1,000 CIFAKE images: peak RSS and wall seconds of the
   export alone (target: within 1.5 GB), with a child that only loads the model as the floor;
3. ``GET /v1/health`` p50/p99 on a live ``synthcheck serve`` while another client uploads files
   that decode to huge images (a ~30 Mpx RGBA PNG, a 36 Mpx WebP), against the same server's
   health alone in the same run (target: p99 under 50 ms); the server's RSS after the uploads.

Every figure comes from child processes (peak RSS from ``wait4``, per child), so another
checkout (``--repo /tmp/base``) is measured the same way as the baseline. Bounded: fixed counts,
it stops by itself. Prints the figures, then one JSON line.

    python benchmarks/bench_bounds.py --data /tmp/cifake/test
    python benchmarks/bench_bounds.py --data /tmp/cifake/test --repo /tmp/base
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def run_child(repo: Path, argv: list[str], env: dict[str, str] | None = None,
              timeout: float = 900) -> tuple[str, float, float]:
    """(stdout, wall s, peak RSS MB) of one child process run on ``repo``'s code."""
    full_env = {**os.environ, "PYTHONPATH": str(repo), **(env or {})}
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=repo, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{' '.join(argv[:4])}... failed: {err.strip()[-400:]}")
    return out, wall, usage.ru_maxrss / 1024


PHOTO = """
import sys
import numpy as np
from PIL import Image
from skimage import data
rng = np.random.default_rng(0)
big = Image.fromarray(data.astronaut()).resize((7300, 5480), Image.Resampling.BICUBIC)
arr = np.asarray(big).astype(np.int16)
arr += rng.integers(-8, 9, arr.shape, dtype=np.int16)
Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(sys.argv[1], "JPEG", quality=90)
"""


def make_photo(path: Path) -> None:
    """A 40 Mpx JPEG: skimage's astronaut enlarged, with noise so it does not compress away.
    Made in a child: Linux carries a parent's peak RSS into the ``ru_maxrss`` of the children
    it starts afterwards, so this process stays small."""
    subprocess.run([sys.executable, "-c", PHOTO, str(path)], check=True)


def bench_predict(repo: Path, work: Path, n: int) -> dict[str, Any]:
    photo = work / "photo-00.jpg"
    if not photo.exists():
        make_photo(photo)
    paths = [photo]
    for i in range(1, n):
        link = work / f"photo-{i:02d}.jpg"
        if not link.exists():
            link.symlink_to(photo)
        paths.append(link)
    cmd = [sys.executable, "-m", "synthcheck", "predict", "--json"]
    out1, wall1, rss1 = run_child(repo, [*cmd, str(paths[0])])
    outn, walln, rssn = run_child(repo, [*cmd, *map(str, paths)])
    same = json.loads(out1)[0].get("p_fake") == json.loads(outn)[-1].get("p_fake")
    return {"predict_one_rss_mb": round(rss1, 1), f"predict_{n}_rss_mb": round(rssn, 1),
            "predict_rss_ratio": round(rssn / rss1, 2), "predict_one_s": round(wall1, 2),
            f"predict_{n}_s": round(walln, 2), "predict_same_p_fake": same,
            "photo_mpx": round(np.prod(Image.open(photo).size) / 1e6, 1)}


SETUP = """
import json, sys
from pathlib import Path
from synthcheck.cases import create_case, add_images
from synthcheck.cases.analysis import analyze_case
from synthcheck.inference import Detector
paths = [line for line in Path(sys.argv[1]).read_text().splitlines() if line]
case = create_case("bench bounds")
add_images(case["id"], paths)
analyze_case(case["id"], Detector.from_checkpoint(), control=False)
print(case["id"])
"""

EXPORT = """
import sys, time
from synthcheck.cases import export_case
from synthcheck.inference import Detector
det = Detector.from_checkpoint()
t = time.perf_counter()
export_case(sys.argv[1], sys.argv[2], det, methods=[])
print(round(time.perf_counter() - t, 2))
"""

FLOOR = """
from synthcheck.cases import export_case
from synthcheck.inference import Detector
Detector.from_checkpoint()
"""


def bench_export(repo: Path, work: Path, data: Path, n: int) -> dict[str, Any]:
    files = sorted((data / "REAL").glob("*.jpg"))[: n // 2] + sorted((data / "FAKE").glob("*.jpg"))[: n - n // 2]
    listing = work / "export-inputs.txt"
    listing.write_text("\n".join(map(str, files)))
    home = work / f"home-{uuid.uuid4().hex[:8]}"
    env = {"SYNTHCHECK_HOME": str(home)}
    out, _, _ = run_child(repo, [sys.executable, "-c", SETUP, str(listing)], env)
    case_id = out.strip().splitlines()[-1]
    out, wall, rss = run_child(repo, [sys.executable, "-c", EXPORT, case_id, str(work / "export-out")], env)
    _, _, floor = run_child(repo, [sys.executable, "-c", FLOOR], env)
    return {"export_n_images": len(files), "export_rss_mb": round(rss, 1),
            "export_s": float(out.strip().splitlines()[-1]), "export_child_s": round(wall, 2),
            "export_floor_rss_mb": round(floor, 1)}


def heavy_uploads() -> list[tuple[str, bytes, str]]:
    """Small files that decode to huge images: an RGBA PNG (~30 Mpx) and a 36 Mpx WebP."""
    rng = np.random.default_rng(1)
    rgba = np.zeros((5000, 6000, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = 255
    rgba[::97, ::89, :3] = rng.integers(0, 256, (len(range(0, 5000, 97)), len(range(0, 6000, 89)), 3))
    png = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(png, "PNG", compress_level=9)
    webp = io.BytesIO()
    Image.new("RGB", (7350, 4900), (30, 90, 160)).save(webp, "WEBP", quality=50)
    return [("flat.png", png.getvalue(), "image/png"), ("flat.webp", webp.getvalue(), "image/webp")]


def _multipart(name: str, data: bytes, ctype: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _health_latencies(port: int, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", "/v1/health")
        conn.getresponse().read()
        out.append((time.perf_counter() - t) * 1000)
    conn.close()
    return out


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def bench_health(repo: Path, n_health: int, n_uploads: int) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(repo)}
    server = subprocess.Popen([sys.executable, "-m", "synthcheck", "serve", "--port", str(port)],
                              cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _health_latencies(port, 1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        _health_latencies(port, 20)  # warm
        alone = _health_latencies(port, n_health)
        rss_idle = _rss_mb(server.pid)
        uploads = heavy_uploads()
        codes: list[int] = []

        def uploader() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            for i in range(n_uploads):
                body, ctype = _multipart(*uploads[i % len(uploads)])
                conn.request("POST", "/v1/verify", body=body, headers={"Content-Type": ctype})
                resp = conn.getresponse()
                resp.read()
                codes.append(resp.status)
            conn.close()

        loader = threading.Thread(target=uploader)
        t0 = time.perf_counter()
        loader.start()
        busy: list[float] = []
        while loader.is_alive() and len(busy) < 50 * n_health:  # paced over the whole upload run
            busy += _health_latencies(port, 1)
            time.sleep(0.005)
        loader.join()
        upload_s = time.perf_counter() - t0
        rss_after = _rss_mb(server.pid)
        time.sleep(2)
        rss_later = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    return {"health_alone_p50_ms": _pct(alone, 50), "health_alone_p99_ms": _pct(alone, 99),
            "health_busy_p50_ms": _pct(busy, 50), "health_busy_p99_ms": _pct(busy, 99),
            "health_busy_max_ms": round(max(busy), 1), "health_busy_n": len(busy),
            "uploads": n_uploads, "upload_codes": sorted(set(codes)), "uploads_s": round(upload_s, 1),
            "upload_bytes": [len(u[1]) for u in uploads],
            "server_rss_idle_mb": round(rss_idle, 1), "server_rss_after_mb": round(rss_after, 1),
            "server_rss_2s_later_mb": round(rss_later, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=HERE.parent, help="checkout to measure")
    ap.add_argument("--data", type=Path, default=Path("/tmp/cifake/test"), help="CIFAKE test split")
    ap.add_argument("--photos", type=int, default=16)
    ap.add_argument("--export-images", type=int, default=1000)
    ap.add_argument("--health", type=int, default=300, help="health requests alone")
    ap.add_argument("--uploads", type=int, default=12, help="heavy uploads during the busy run")
    ap.add_argument("--only", default="predict,export,health")
    args = ap.parse_args()
    only = set(args.only.split(","))
    repo = args.repo.resolve()
    result: dict[str, Any] = {"repo": str(repo)}
    with tempfile.TemporaryDirectory(prefix="bench-bounds-") as tmp:
        work = Path(tmp)
        if "predict" in only:
            result.update(bench_predict(repo, work, args.photos))
            print(f"predict --json peak RSS: {args.photos} photos of {result['photo_mpx']} Mpx "
                  f"{result[f'predict_{args.photos}_rss_mb']:.0f} MB, one {result['predict_one_rss_mb']:.0f} MB "
                  f"(x{result['predict_rss_ratio']}; target <= x2); {result[f'predict_{args.photos}_s']} s")
        if "export" in only:
            result.update(bench_export(repo, work, args.data, args.export_images))
            print(f"case export of {result['export_n_images']} images: peak RSS "
                  f"{result['export_rss_mb']:.0f} MB (floor {result['export_floor_rss_mb']:.0f} MB; "
                  f"target <= 1536 MB), {result['export_s']} s")
        if "health" in only:
            result.update(bench_health(repo, args.health, args.uploads))
            print(f"/v1/health alone p50 {result['health_alone_p50_ms']} ms p99 "
                  f"{result['health_alone_p99_ms']} ms; during {args.uploads} heavy uploads p50 "
                  f"{result['health_busy_p50_ms']} ms p99 {result['health_busy_p99_ms']} ms "
                  f"(target < 50 ms); server RSS idle {result['server_rss_idle_mb']:.0f} MB, after "
                  f"{result['server_rss_after_mb']:.0f} MB, 2 s later {result['server_rss_2s_later_mb']:.0f} MB")
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
