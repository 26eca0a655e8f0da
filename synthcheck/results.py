"""One JSON record per analysed input, the same for the CLI, the API and the case report.

Keys of the original contract (``path``, ``sha256``, ``verdict``, ``p_fake``, ``model``) never
change; later keys are only added: ``band``, ``calibrated_p_fake``, ``in_domain``,
``domain_reasons``, ``advisories`` (plain sentences on known biases of the model that the
input touches, such as greyscale; they never change ``in_domain``), ``provenance`` (list of
signals from the file's C2PA/EXIF/XMP/PNG text metadata, empty when none; shown beside the
verdict, never folded into p_fake),
``provenance_summary`` (plain words on which evidence points which way) and, on request,
``tiles`` for large images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .bands import DEFAULT_EDGES, band_for
from .colour_bias import greyscale_advisory
from .domain import DomainCheck, check_domain
from .imageio import LoadedImage
from .jpeg_trace import describe as describe_jpeg
from .provenance import Provenance, empty_provenance, provenance_summary, read_provenance


def error_record(path: str, error: str) -> dict[str, Any]:
    return {"path": path, "error": error}


def domain_of(loaded: LoadedImage, verdict, detector) -> DomainCheck:
    """Input-property checks plus, when the checkpoint has them, the fitted feature and
    JPEG-trace checks (thresholds keep 99% of validation images in domain)."""
    domain = check_domain(loaded, detector)
    limit = getattr(detector, "feature_threshold", None)
    dist = getattr(verdict, "feature_distance", None)
    if limit is not None and dist is not None:
        domain.stats["feature_distance"] = round(dist, 4)
        domain.stats["feature_threshold"] = round(limit, 4)
        if dist > limit:
            domain.in_domain = False
            domain.reasons.append(
                f"The model's internal features for this image are unlike its training images "
                f"(distance {dist:.3g}, while 99% of validation images stay under {limit:.3g}).")
    jpeg = getattr(detector, "jpeg_profile", None)
    residual = getattr(verdict, "jpeg_residual", None)
    if jpeg and residual is not None:
        domain.stats["jpeg_residual"] = round(residual, 3)
        domain.stats["jpeg_threshold"] = round(float(jpeg["threshold"]), 3)
        if residual > float(jpeg["threshold"]):
            domain.in_domain = False
            domain.reasons.append(
                f"The image lacks the trace of the {describe_jpeg(jpeg)} compression that every "
                f"training image went through (grid residual {residual:.3f}, while 99% of validation "
                f"images stay under {float(jpeg['threshold']):.3f}), so it was never compressed like "
                f"them, or was resized, shifted or re-compressed since.")
    note = greyscale_advisory(domain.stats.get("mean_chroma"), getattr(detector, "greyscale_bias", None),
                              getattr(detector, "class_names", ("REAL", "FAKE")))
    if note:
        domain.advisories.append(note)
    return domain


def provenance_of(loaded: LoadedImage, verdict: str | None = None,
                  p_fake: float | None = None) -> Provenance:
    """Provenance of the original file behind ``loaded`` (none for pixel inputs); given the
    model's verdict, the summary also says whether the metadata agrees with it."""
    if loaded.raw is None:
        return empty_provenance("the input was pixels, not the original file.")
    prov = read_provenance(loaded.raw, name=loaded.name)
    if verdict is not None:
        prov = replace(prov, summary=provenance_summary(prov.signals, verdict, p_fake))
    return prov


def verdict_record(path: str, loaded: LoadedImage, verdict, detector, *,
                   edges: Sequence[float] = DEFAULT_EDGES, tiles: bool = False) -> dict[str, Any]:
    """The record for one successfully analysed input (see module docstring for the keys)."""
    domain = domain_of(loaded, verdict, detector)
    record: dict[str, Any] = {
        "path": path,
        "sha256": loaded.sha256,
        "verdict": verdict.verdict,
        "p_fake": round(verdict.p_fake, 6),
        "model": detector.model_name,
        "calibrated_p_fake": round(verdict.p_fake, 6),
        "uncalibrated_p_fake": round(verdict.p_fake_raw, 6),
        "band": band_for(verdict.p_fake, edges, in_domain=domain.in_domain),
        "in_domain": domain.in_domain,
        "domain_reasons": list(domain.reasons),
        "advisories": list(domain.advisories),
        "notes": list(loaded.notes),
    }
    prov = provenance_of(loaded, verdict.verdict, verdict.p_fake)
    record["provenance"], record["provenance_summary"] = prov.signals, prov.summary
    if tiles:
        from .tiles import tile_grid

        grid = tile_grid(detector, loaded)
        record["tiles"] = grid.to_dict() if grid is not None else None
    return record


def records_for(detector, sources: Sequence[Any], names: Sequence[str] | None = None, *,
                edges: Sequence[float] = DEFAULT_EDGES, tiles: bool = False) -> list[dict[str, Any]]:
    """Records for many inputs in input order; unreadable ones get ``{"path", "error"}``."""
    names = list(names) if names is not None else [str(s) for s in sources]
    out = []
    for name, (loaded, verdict, error) in zip(names, detector.predict_many(sources), strict=True):
        out.append(error_record(name, error) if error is not None
                   else verdict_record(name, loaded, verdict, detector, edges=edges, tiles=tiles))
    return out
