"""``synthcheck forensics PATH... --out DIR``: ELA, spectrum and noise-residual pictures + numbers."""

from __future__ import annotations

import argparse


def cmd_forensics(args: argparse.Namespace) -> int:
    from pathlib import Path

    from PIL import Image

    from ..forensics import forensic_views
    from ..imageio import ImageError, load_image
    from .common import emit_results

    out = Path(args.out) if args.out else None
    results = []
    for i, path in enumerate(args.paths):
        try:
            loaded = load_image(path)
        except ImageError as exc:
            results.append({"path": path, "error": str(exc)})
            continue
        views = forensic_views(loaded, quality=args.quality)
        row = {"path": path, "sha256": loaded.sha256, "width": loaded.width, "height": loaded.height,
               **{name: {k: v for k, v in view.items() if k != "image"} for name, view in views.items()}}
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            stem = f"{i:03d}-{Path(path).stem}"
            for name, view in views.items():
                file = out / f"{stem}-{name}.png"
                Image.fromarray(view["image"]).save(file)
                row[name]["png"] = str(file)
        results.append(row)
    return emit_results(results, args.json, lambda r: (
        f"{r['path']}: ELA mean {r['ela']['ela_mean']:.3f} max {r['ela']['ela_max']:.0f} | "
        f"high-freq share {r['spectrum']['high_freq_ratio']:.5f} "
        f"peakiness {r['spectrum']['spectral_peakiness']:.2f} | noise std {r['noise']['noise_std']:.2f}"))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("forensics", help="error level analysis, Fourier spectrum, noise residual",
                              description="Classical forensic views of each image (no model needed).")
    p.add_argument("paths", nargs="+", help="image files")
    p.add_argument("--out", help="write the three pictures per image (PNG) into this folder")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the ELA re-save (default 90)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(func=cmd_forensics)
