"""Write a signed report bundle: the signed JSON plus the HTML and PDF renderings of it.

Kept apart from :mod:`.signing` (which only signs and verifies) so that signing imports no
renderer and the package has no import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..fsio import file_sha256
from .html import render_html
from .pdf import write_pdf
from .signing import sign_report, write_signed_json


def write_report_bundle(report: dict[str, Any], out_dir: str | os.PathLike, name: str = "report",
                        home: Path | None = None) -> dict[str, Path]:
    """Sign ``report`` and write ``<name>.json`` (signed), ``.html`` and ``.pdf`` into ``out_dir``.

    The HTML and PDF are renderings of the signed JSON and name its SHA-256; the JSON is the
    evidence that ``synthcheck report verify`` checks.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    signed = sign_report(report, home)
    js = write_signed_json(signed, out / f"{name}.json")
    bundle = {"json_file": js.name, "json_sha256": file_sha256(js)}
    html = out / f"{name}.html"
    html.write_text(render_html(signed, bundle=bundle), encoding="utf-8")
    pdf = write_pdf(signed, out / f"{name}.pdf", bundle=bundle)
    return {"json": js, "html": html, "pdf": pdf}


