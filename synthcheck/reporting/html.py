"""The case report as one self-contained HTML page (Jinja2 template, pictures inlined)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..tiles import heat_hex
from .build import METHOD_TITLES

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def render_html(report: dict[str, Any], bundle: dict[str, Any] | None = None) -> str:
    """The report as one self-contained HTML page (no external files or requests).

    ``bundle`` (from :func:`synthcheck.reporting.bundle.write_report_bundle`) names the signed JSON file
    and its SHA-256, so the page can be tied to the evidence it renders.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from .signing import group_fingerprint

    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = lambda v, nd=4: (f"{v:.{nd}f}" if isinstance(v, float) else ("–" if v is None else v))
    env.filters["pct"] = lambda v: f"{v:.2%}" if isinstance(v, (int, float)) else "–"
    env.filters["heat"] = heat_hex
    env.filters["grouped"] = group_fingerprint
    return env.get_template("report.html.j2").render(r=report, titles=METHOD_TITLES, bundle=bundle or {})


def write_html(report: dict[str, Any], path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
