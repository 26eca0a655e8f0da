"""Each forensic view's figures in one plain sentence, with their units (pages and reports).

People read these captions, never the views' keys (``ela_mean``, ``n_clones``...).
"""

from __future__ import annotations

from typing import Any

TITLES = {"ela": "Error level analysis", "spectrum": "Fourier spectrum (log)",
          "noise": "Noise residual", "jpeg": "JPEG structure", "double_jpeg": "Double JPEG save",
          "ghost": "JPEG ghosts", "copy_move": "Copy-move", "thumbnail": "EXIF thumbnail"}


def _ela(v: dict[str, Any]) -> str:
    return (f"Re-saved at JPEG quality {v['quality']}: the pixels changed by {v['ela_mean']:.2f} "
            f"grey levels on average and by at most {v['ela_max']:.0f} (of 255). A region brighter "
            "than the rest reacted more to the new save.")


def _spectrum(v: dict[str, Any]) -> str:
    return (f"{v['high_freq_ratio']:.2%} of the energy lies at high frequencies; peakiness "
            f"{v['spectral_peakiness']:.2f} (higher: more isolated bright dots, as upsampling leaves).")


def _noise(v: dict[str, Any]) -> str:
    return (f"The image minus a {v['method']} filtered copy: its spread (standard deviation) is "
            f"{v['noise_std']:.2f} grey levels.")


def _jpeg(v: dict[str, Any]) -> str:
    if not v.get("is_jpeg"):
        return f"Not read as a JPEG: {v.get('note') or 'no JPEG structure'}."
    quality = f"about quality {v['quality']} (IJG scale)" if v.get("quality") is not None \
        else "a quality that does not fit the IJG scale"
    kind = "progressive" if v.get("progressive") else "baseline"
    return f"Saved at {quality}, {v.get('subsampling')} chroma subsampling, {kind}; tables: {v.get('encoder')}."


def _double(v: dict[str, Any]) -> str:
    if not v.get("applicable"):
        return f"Not assessed: {v.get('note')}."
    if v.get("double"):
        return (f"The luminance looks saved twice as JPEG, the earlier save at about quality "
                f"{v['earlier_quality']} (double/single histogram fit {v['ratio']:.2f}).")
    return f"No sign of an earlier JPEG save (double/single histogram fit {v['ratio']:.2f})."


def _ghost(v: dict[str, Any]) -> str:
    qs = v.get("qualities") or []
    span = f" at qualities {qs[0]} to {qs[-1]}" if qs else ""
    ghosts = v.get("ghosts") or []
    tail = ("Regions with a minimum of their own: " + ", ".join(f"quality {q} ({s:.1%} of tiles)"
                                                               for q, s in ghosts) + ".") \
        if ghosts else "No region has a minimum of its own."
    return f"Re-saved{span}, the whole image changes least at quality {v['min_quality']}. {tail}"


def _copy_move(v: dict[str, Any]) -> str:
    found = (f"{v['n_clones']} cloned region(s): source boxed green, copy red." if v.get("clones")
             else "no cloned region found.")
    return f"{v['method']} over {v['n_keypoints']:,} keypoints ({v['n_matches']:,} matched pairs): {found}"


def _thumbnail(v: dict[str, Any]) -> str:
    ssim = f" Structural similarity {v['ssim']:.3f}." if v.get("ssim") is not None else ""
    return f"{v.get('message', '')}{ssim}"


SENTENCES = {"ela": _ela, "spectrum": _spectrum, "noise": _noise, "jpeg": _jpeg,
             "double_jpeg": _double, "ghost": _ghost, "copy_move": _copy_move,
             "thumbnail": _thumbnail}


def describe(name: str, view: dict[str, Any]) -> str:
    """``"Title: sentence"`` for one view of :func:`synthcheck.forensics.forensic_views`."""
    try:
        sentence = SENTENCES[name](view)
    except (KeyError, TypeError, ValueError):  # a view that could not be computed says why
        sentence = str(view.get("note") or view.get("message") or "not available for this image.")
    return f"{TITLES.get(name, name)}: {sentence}"
