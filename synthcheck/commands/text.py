"""The one text rendering of an analysis record, for every CLI command that prints results.

``predict``, ``explain``, ``report`` and ``case`` all print the same lines for one image, from
the record :meth:`synthcheck.analysis.Analysis.to_record` makes (live, stored in a case, or in
a report): the conclusion first, the model's score after it, the reasons where it cannot judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def record_lines(rec: Mapping[str, Any], name: str | None = None) -> list[str]:
    """Lines for one record: headline and path, score, why (cannot assess), notes, tiles."""
    from ..analysis import (  # not at import: `--help` stays light
        conclusion_label,
        record_score_label,
    )

    label = rec.get("conclusion_label") or conclusion_label(rec.get("conclusion"))
    lines = [f"{label.upper():17s} {rec['path'] if name is None else name}",
             f"      {record_score_label(rec)}"]
    if rec.get("conclusion") == "cannot_assess":
        lines += [f"      why: {reason}" for reason in rec.get("domain_reasons") or ()]
    lines += [f"      note: {note}" for note in rec.get("advisories") or ()]
    tiles = rec.get("tiles")
    if tiles:
        lines.append(f"      tiles: {tiles['rows']}x{tiles['cols']} patches of {tiles['tile_px']} px, "
                     f"mean p_fake {tiles['p_fake_mean']:.3f}, {tiles['share_fake']:.0%} at or above "
                     f"{tiles['threshold']:g}")
    if rec.get("tile_note"):
        lines.append(f"      tiles: {rec['tile_note']}")
    return lines


def record_text(rec: Mapping[str, Any], name: str | None = None) -> str:
    """:func:`record_lines` joined into one block."""
    return "\n".join(record_lines(rec, name))
