#!/usr/bin/env python
"""Forensic view benchmark: seconds per view on a 12 MP (4000x3000) camera-like JPEG.

The image is scikit-image's astronaut enlarged to 4000x3000 with sensor-like noise, a cloned
patch and an EXIF thumbnail, saved at quality 85, made at run time. Each view of
:data:`synthcheck.forensics.VIEWS` is timed (best of ``--repeats``), plus the compare
difference map, a full-resolution zoom crop and the whole :func:`forensic_views`. The same-run
baseline is the old three-view ``forensic_views`` (ELA, spectrum, noise) from ``--base``
(a checkout of the code before the forensics package; default /tmp/base) when it is there.
Usage: python benchmarks/bench_forensics.py [--repeats 2] [--threads 2] [--base DIR] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best_of(fn: Any, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn()``, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def camera_jpeg() -> bytes:
    """A 4000x3000 JPEG (q85) with noise, a cloned patch and an EXIF thumbnail."""
    import numpy as np
    from PIL import Image
    from skimage import data

    from tests.test_forensic_views import clone, exif_with_thumbnail, thumb_of

    big = np.asarray(Image.fromarray(data.astronaut()).resize((4000, 3000), Image.Resampling.BICUBIC))
    noisy = np.clip(big + np.random.default_rng(0).normal(0, 4, big.shape), 0, 255).astype(np.uint8)
    forged = clone(noisy, (900, 700), (2600, 2000), 400)
    buf = io.BytesIO()
    Image.fromarray(forged).save(buf, "JPEG", quality=85, exif=exif_with_thumbnail(thumb_of(forged)))
    return buf.getvalue()


def base_views(base: Path) -> Any:
    """The old ``forensic_views`` from a checkout before the package, else None."""
    path = base / "synthcheck" / "forensics.py"
    if not path.is_file():
        return None
    # the old module imports ``.imageio``: load it inside our package so that resolves to ours
    spec = importlib.util.spec_from_file_location("synthcheck.forensics_base", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.forensic_views


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="OpenCV / BLAS threads (default 2)")
    ap.add_argument("--base", default="/tmp/base", help="checkout of the code before this change")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import cv2
    import numpy as np

    cv2.setNumThreads(args.threads)
    from synthcheck import forensics as fx
    from synthcheck.imageio import load_image

    raw = camera_jpeg()
    loaded = load_image(raw)
    rgb = np.asarray(loaded.image)
    timings: dict[str, float] = {}
    for name, view in fx.VIEWS.items():
        timings[name] = best_of(lambda v=view: v(rgb, raw, 90), args.repeats)
    other = rgb.copy()
    other[100:400, 100:400] = 0
    timings["compare (difference map)"] = best_of(lambda: fx.difference_map(rgb, other), args.repeats)
    timings["zoom (512 px crop at 4:1)"] = best_of(
        lambda: fx.zoom(fx.crop(fx.error_level_analysis(rgb), fx.Box(1800, 1200, 512, 512)), 4), args.repeats)
    timings["forensic_views (all)"] = best_of(lambda: fx.forensic_views(loaded), 1)
    old = base_views(Path(args.base))
    if old is not None:
        timings["baseline: old forensic_views (ELA, spectrum, noise)"] = best_of(lambda: old(loaded), 1)
    views = fx.forensic_views(loaded)
    facts = {"quality": views["jpeg"]["quality"], "n_clones": views["copy_move"]["n_clones"],
             "copy_move_scale": views["copy_move"]["scale"], "thumbnail": views["thumbnail"]["status"],
             "double": views["double_jpeg"]["double"]}
    result = {"image": f"{loaded.width}x{loaded.height} JPEG q85, {len(raw) / 1e6:.1f} MB",
              "threads": args.threads, "repeats": args.repeats,
              "seconds": {k: round(v, 3) for k, v in timings.items()}, "facts": facts}
    if not args.json:
        print(f"Forensic views on {result['image']} ({args.threads} threads, best of {args.repeats})")
        width = max(map(len, timings))
        for k, v in timings.items():
            print(f"  {k:<{width}}  {v:7.3f} s")
        print(f"  found: {facts}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
