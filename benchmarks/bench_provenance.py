#!/usr/bin/env python
"""Provenance read benchmark: per-image time of ``read_provenance`` (target <= 50 ms/image).

Times the read over a mix of generated fixtures (C2PA-signed, corrupted and tampered JPEGs,
A1111/ComfyUI PNGs, EXIF/XMP JPEGs, a large camera JPEG and a large PNG, hostile inputs) and,
when ``--data`` or ``$SYNTHCHECK_DATA`` points at CIFAKE, ``--n`` test JPEGs (bytes in memory,
and again from their paths). Prints p50/p95 per group and overall; the first (cold) call, which
pays the c2pa/defusedxml imports, is reported on its own.
Usage: python benchmarks/bench_provenance.py [--data DIR] [--n 500] [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from synthcheck.provenance import read_provenance  # noqa: E402
from tests import provenance_fixtures as F  # noqa: E402

TARGET_MS = 50.0


def stats(times_ms: list[float]) -> dict[str, float]:
    """p50/p95/max of a list of milliseconds."""
    t = sorted(times_ms)
    return {"n": len(t), "p50_ms": round(statistics.median(t), 3),
            "p95_ms": round(t[min(len(t) - 1, int(0.95 * len(t)))], 3), "max_ms": round(t[-1], 3)}


def time_calls(items: list[Any], repeats: int) -> list[float]:
    """Milliseconds per ``read_provenance`` call, each item ``repeats`` times."""
    out = []
    for _ in range(repeats):
        for item in items:
            t0 = time.perf_counter()
            read_provenance(item)
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def fixtures() -> dict[str, list[bytes]]:
    """Generated inputs grouped by kind."""
    signed = F.c2pa_signed_jpeg()
    fx = F.fixture_set()
    big = np.random.default_rng(0).integers(0, 256, (1536, 2048, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif.update({0x010F: "Canon", 0x0110: "Canon EOS R5"})
    big_jpeg = F.encode(big, "JPEG", quality=92, exif=exif.tobytes())
    big_png = F.encode(big[:768, :1024], "PNG")
    return {
        "c2pa": [signed, F.corrupt_c2pa(signed), F.tamper_pixels(signed)],
        "png_text": [fx["a1111.png"], fx["comfyui.png"]],
        "exif_xmp": [fx["firefly.jpg"], fx["camera.jpg"], fx["a1111.jpg"], fx["xmp.jpg"],
                     fx["xmp.png"]],
        "plain": [fx["plain.jpg"], fx["plain.png"], fx["plain.webp"]],
        f"large ({len(big_jpeg) >> 20} MB 3 MP JPEG, {len(big_png) >> 20} MB PNG)": [big_jpeg, big_png],
        "hostile": [F.jpeg_with_xmp(F.BILLION_LAUGHS),
                    F.png_with_xmp(F.xmp_packet() + b" " * (600 * 1024)),
                    np.random.default_rng(1).integers(0, 256, 100_000, dtype=np.uint8).tobytes()],
    }


def cold_read_ms(data: bytes) -> float:
    """First C2PA read in a fresh process (pays the c2pa and defusedxml imports)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signed.jpg"
        path.write_bytes(data)
        code = ("import time; from synthcheck.provenance import read_provenance; "
                f"t = time.perf_counter(); read_provenance({str(path)!r}); "
                "print((time.perf_counter() - t) * 1e3)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def cifake_paths(data: Path, n: int) -> list[Path]:
    """Up to ``n`` CIFAKE test JPEGs, half REAL and half FAKE."""
    out: list[Path] = []
    for cls in ("REAL", "FAKE"):
        folder = data / "test" / cls
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        out += files[: n // 2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    groups = fixtures()
    results: dict[str, Any] = {"cold_first_c2pa_read_ms": cold_read_ms(groups["c2pa"][0])}
    all_times: list[float] = []
    for name, items in groups.items():
        times = time_calls(items, args.repeats)
        all_times += times
        results[name] = stats(times)
    results["all fixtures"] = stats(all_times)
    if args.data:
        paths = cifake_paths(Path(args.data), args.n)
        if paths:
            blobs = [p.read_bytes() for p in paths]
            results[f"CIFAKE {len(paths)} JPEGs (bytes)"] = stats(time_calls(blobs, 3))
            results[f"CIFAKE {len(paths)} JPEGs (path)"] = stats(time_calls(paths, 1))
            n_sig = sum(bool(read_provenance(b).signals) for b in blobs)
            results["CIFAKE images with any signal"] = n_sig
    worst = max(v["p95_ms"] for v in results.values() if isinstance(v, dict))
    results["target"] = {"p95_ms_max": worst, "target_ms": TARGET_MS, "ok": worst <= TARGET_MS}
    if args.json:
        print(json.dumps(results))  # one line: benchmarks/run.py reads the last line
        return
    print(f"cold: first C2PA read in a fresh process (imports c2pa): "
          f"{results['cold_first_c2pa_read_ms']:.1f} ms")
    print(f"{'group':44s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    for name, v in results.items():
        if isinstance(v, dict) and "p50_ms" in v:
            print(f"{name:44s} {v['n']:6d} {v['p50_ms']:8.3f} {v['p95_ms']:8.3f} {v['max_ms']:8.3f}")
        elif name == "CIFAKE images with any signal":
            print(f"{name}: {v}")
    print(f"worst p95 {worst:.2f} ms vs target {TARGET_MS:.0f} ms/image: "
          f"{'OK' if worst <= TARGET_MS else 'OVER'}")


if __name__ == "__main__":
    main()
