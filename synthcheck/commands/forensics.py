"""``synthcheck forensics PATH... --out DIR``: every forensic view's numbers (ELA, spectrum, noise,
JPEG tables, double compression, ghosts, copy-move, EXIF thumbnail) and pictures."""

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
                if view["image"] is None:
                    continue
                file = out / f"{stem}-{name}.png"
                Image.fromarray(view["image"]).save(file)
                row[name]["png"] = str(file)
        results.append(row)
    return emit_results(results, args.json, _line)


def _line(r: dict) -> str:
    """One image's views in one line of plain text."""
    jp, dq, cm = r["jpeg"], r["double_jpeg"], r["copy_move"]
    jpeg = (f"JPEG q{jp['quality']} {jp['subsampling']} {'progressive' if jp['progressive'] else 'baseline'}"
            f"{'' if jp['standard'] else ' (non-standard tables)'}" if jp["is_jpeg"] else "not JPEG")
    double = (("saved twice, earlier q" + str(dq["earlier_quality"])) if dq.get("double")
              else "single save" if dq.get("applicable") else "double save n/a")
    return (f"{r['path']}: ELA mean {r['ela']['ela_mean']:.3f} max {r['ela']['ela_max']:.0f} | "
            f"high-freq share {r['spectrum']['high_freq_ratio']:.5f} "
            f"peakiness {r['spectrum']['spectral_peakiness']:.2f} | noise std {r['noise']['noise_std']:.2f} | "
            f"{jpeg}, {double} | ghost min q{r['ghost']['min_quality']} | "
            f"{cm['n_clones']} cloned region(s) | thumbnail {r['thumbnail']['status']}")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("forensics", help="ELA, spectrum, noise, JPEG tables, ghosts, copy-move, "
                                                "EXIF thumbnail",
                              description="Classical forensic views of each image (no model needed).")
    p.add_argument("paths", nargs="+", help="image files")
    p.add_argument("--out", help="write each view's picture per image (PNG) into this folder")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the ELA re-save (default 90)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(func=cmd_forensics)
