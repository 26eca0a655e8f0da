"""The case report as PDF (fpdf2): what a court bundle or an email attachment needs.

Rendered from the same report dict as the HTML (``synthcheck.reporting.build.build_report``, usually the
signed copy): title, creation time, signature fingerprint, control run, model identity, summary
table, limits, and per image the pictures the report already holds (base64 PNG), verdict, band,
p_fake, domain reasons, provenance signals, tile grid, explanation overlays and forensic views.

Text is set in DejaVu Sans from matplotlib's data folder (wide Unicode coverage); without it the
core Helvetica font is used and text is reduced to Latin-1. Control characters are replaced
either way, so hostile file names or metadata cannot break the PDF. The signing fingerprint is
also written into the PDF's metadata (subject and keywords) so tools can read it.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import unicodedata
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image

from ..analysis import counts_phrase
from ..fsio import atomic_write_bytes
from ..tiles import heat_colour

CONCLUSION_RGB = {"likely_synthetic": (192, 57, 43), "likely_real": (39, 174, 96),
                  "uncertain": (214, 137, 16), "cannot_assess": (97, 106, 107)}
SCORE_BAR_RGB = {**CONCLUSION_RGB, "cannot_assess": (156, 163, 175)}  # the bar: neutral grey there

FONT = "DejaVu"
PAGE_W = 210  # A4, mm
MARGIN = 14
CONTENT_W = PAGE_W - 2 * MARGIN


def _font_paths() -> dict[str, Path] | None:
    """DejaVu Sans regular/bold/mono from matplotlib's bundled fonts, or None."""
    try:
        import matplotlib

        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    except Exception:
        return None
    paths = {"": folder / "DejaVuSans.ttf", "B": folder / "DejaVuSans-Bold.ttf",
             "mono": folder / "DejaVuSansMono.ttf"}
    return paths if all(p.is_file() for p in paths.values()) else None


def clean_text(value: Any, unicode_ok: bool = True, limit: int = 2000,
               glyphs: frozenset[int] | None = None) -> str:
    """Printable text: control characters become spaces, long text is cut, and characters the
    font cannot draw (``glyphs``: code points it has; Latin-1 without ``unicode_ok``) become ``?``."""
    s = "" if value is None else str(value)
    if len(s) > limit:
        s = s[:limit] + " ..."
    s = "".join(ch if ch == "\n" or unicodedata.category(ch)[0] != "C" else " " for ch in s)
    if not unicode_ok:
        return s.encode("latin-1", "replace").decode("latin-1")
    if glyphs is not None:
        s = "".join(ch if ch == "\n" or ord(ch) in glyphs else "?" for ch in s)
    return s


def _picture(b64: Any) -> Image.Image | None:
    """A base64 PNG from the report as a PIL image (None when absent or damaged)."""
    if not isinstance(b64, str) or not b64:
        return None
    try:
        img = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
        img.load()
        return img.convert("RGB")
    except (binascii.Error, ValueError, OSError):
        return None


def _fmt(v: Any, nd: int = 4) -> str:
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return "-" if v is None else str(v)


def _pct(v: Any) -> str:
    return f"{v:.2%}" if isinstance(v, (int, float)) else "-"


class ReportPDF(FPDF):
    """A4 pages with a footer naming the report, the page and the signing key."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        fonts = _font_paths()
        self.unicode_ok = fonts is not None
        if fonts:
            self.add_font(FONT, "", str(fonts[""]))
            self.add_font(FONT, "B", str(fonts["B"]))
            self.add_font("DejaVuMono", "", str(fonts["mono"]))
            self.family, self.mono = FONT, "DejaVuMono"
            self.glyphs: frozenset[int] | None = frozenset(
                set(self.fonts[FONT.lower()].cmap) & set(self.fonts[f"{FONT.lower()}B"].cmap))
        else:
            self.glyphs = None
            self.family, self.mono = "helvetica", "courier"
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=16)

    def t(self, value: Any, limit: int = 2000) -> str:
        return clean_text(value, self.unicode_ok, limit, self.glyphs)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.t(f"{self.footer_text}   page {self.page_no()}/{{nb}}"), align="C")
        self.set_text_color(0, 0, 0)

    # -- building blocks -------------------------------------------------------------------
    def heading(self, text: str, size: float = 14, keep_with: float = 25, rule: bool = False) -> None:
        """A bold heading (``rule``: under a line across the page), moved to a new page unless
        ``keep_with`` mm fit below it."""
        if self.get_y() + size * 0.6 + keep_with > self.h - 18:
            self.add_page()
        if rule and self.get_y() > self.t_margin + 1:
            self.set_draw_color(68, 68, 68)
            self.set_line_width(0.6)
            self.line(MARGIN, self.get_y() + 2, PAGE_W - MARGIN, self.get_y() + 2)
            self.set_line_width(0.2)
            self.set_draw_color(0, 0, 0)
            self.ln(3)
        self.ln(2)
        self.set_font(self.family, "B", size)
        self.multi_cell(0, size * 0.5, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        self.set_font(self.family, "", 9)

    def para(self, text: Any, size: float = 9, mono: bool = False, colour: tuple[int, int, int] | None = None) -> None:
        self.set_font(self.mono if mono else self.family, "", size)
        if colour:
            self.set_text_color(*colour)
        self.multi_cell(0, size * 0.48, self.t(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.set_font(self.family, "", 9)

    def rows(self, rows: list[tuple[Any, ...]], widths: tuple[float, ...], header: bool = False,
             size: float = 8) -> None:
        """A bordered table; long values wrap inside their cell."""
        self.set_font(self.family, "", size)
        self.set_fill_color(255, 255, 255)
        with self.table(col_widths=widths, width=CONTENT_W, text_align="LEFT", line_height=size * 0.5,
                        first_row_as_headings=header, padding=0.8,
                        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235))) as table:
            for row in rows:
                r = table.row()
                for cell in row:
                    r.cell(self.t(cell, 600))
        self.ln(1.5)
        self.set_font(self.family, "", 9)

    def pictures(self, items: list[tuple[Image.Image | None, str]], side: float = 40) -> None:
        """A row of square pictures with captions (wrapping to a new row or page as needed)."""
        items = [(img, cap) for img, cap in items if img is not None]
        if not items:
            return
        per_row = max(1, int((CONTENT_W + 4) // (side + 4)))
        for start in range(0, len(items), per_row):
            chunk = items[start:start + per_row]
            if self.get_y() + side + 12 > self.h - 18:
                self.add_page()
            y = self.get_y()
            tallest = max(min(side, side * img.height / max(1, img.width)) for img, _ in chunk)
            for i, (img, cap) in enumerate(chunk):
                x = MARGIN + i * (side + 4)
                w = side * min(1.0, img.width / max(1, img.height))  # fit inside side x side
                self.image(img, x=x + (side - w) / 2, y=y, w=w, h=w * img.height / max(1, img.width))
                self.set_xy(x, y + tallest + 1)
                self.set_font(self.family, "", 7)
                self.multi_cell(side, 3.2, self.t(cap, 120), align="C")
            self.set_xy(MARGIN, y + tallest + 10)
        self.set_font(self.family, "", 9)

    def score_bar(self, p_fake: float, rgb: tuple[int, int, int], width: float = 60) -> None:
        """The model's score as a filled bar (``width`` mm long, 2 mm high) on a light track."""
        x, y = self.get_x(), self.get_y() + 1
        self.set_fill_color(229, 231, 235)
        self.rect(x, y, width, 2, style="F")
        self.set_fill_color(*rgb)
        self.rect(x, y, width * max(0.0, min(1.0, p_fake)), 2, style="F")
        self.set_fill_color(255, 255, 255)
        self.set_y(y + 3)

    def tile_grid(self, tiles: dict[str, Any]) -> None:
        """The p_fake grid as coloured cells (green low, red high) with the value in percent."""
        grid = tiles.get("p_fake") or []
        rows, cols = len(grid), max((len(r) for r in grid), default=0)
        if not rows or not cols:
            return
        cell = min(8.0, CONTENT_W / cols, 90 / rows)
        if self.get_y() + rows * cell + 4 > self.h - 18:
            self.add_page()
        y0 = self.get_y()
        self.set_font(self.family, "", max(4.0, cell * 0.8))
        for i, row in enumerate(grid):
            for j, p in enumerate(row):
                self.set_fill_color(*heat_colour(p))
                self.set_xy(MARGIN + j * cell, y0 + i * cell)
                self.cell(cell, cell, f"{round(float(p) * 100)}" if cell >= 5 else "", border=0,
                          align="C", fill=True)
        self.set_xy(MARGIN, y0 + rows * cell + 2)
        self.set_fill_color(255, 255, 255)
        self.set_font(self.family, "", 9)


def render_pdf(report: dict[str, Any], bundle: dict[str, Any] | None = None) -> bytes:
    """The report as PDF bytes."""
    from .signing import group_fingerprint

    bundle = bundle or {}
    sig = report.get("signature") if isinstance(report.get("signature"), dict) else None
    fp = str(sig.get("fingerprint", "")) if sig else ""
    meta = report.get("report") or {}
    pdf = ReportPDF(f"{meta.get('title', 'SynthCheck report')} - created {meta.get('created_utc', '?')}"
                    + (f" - signing key {fp[:16]}..." if fp else " - unsigned"))
    pdf.set_title(pdf.t(meta.get("title", "SynthCheck report"), 200))
    pdf.set_creator(f"SynthCheck {(report.get('software') or {}).get('synthcheck', '')}")
    if fp:
        pdf.set_subject(f"Signed SynthCheck report; Ed25519 key fingerprint {fp}")
        pdf.set_keywords(f"synthcheck signature-fingerprint:{fp}")
    pdf.add_page()

    pdf.heading(meta.get("title", "SynthCheck forensic case report"), 17)
    soft, settings = report.get("software") or {}, report.get("settings") or {}
    pdf.para(f"Created {meta.get('created_utc')} (UTC) - report format v{meta.get('version')} - "
             f"SynthCheck {soft.get('synthcheck')} - seed {settings.get('seed')}", 8, colour=(90, 90, 90))
    case = report.get("case") if isinstance(report.get("case"), dict) else None
    images = report.get("images") or []
    _summary(pdf, report, case, images)

    if sig:
        pdf.heading("Signature", 12)
        pdf.para(f"The JSON file {bundle.get('json_file', '')} is signed with {sig.get('algorithm')} at "
                 f"{sig.get('signed_utc')} (UTC) by the key with fingerprint:")
        pdf.para(group_fingerprint(fp), 9, mono=True)
        if bundle.get("json_sha256"):
            pdf.para(f"SHA-256 of the signed JSON: {bundle['json_sha256']}", 8, mono=True)
        pdf.para("This PDF is a rendering of that JSON; only the JSON is evidence. Verify it with "
                 "`synthcheck report verify REPORT.json --images DIR --fingerprint FINGERPRINT` and "
                 "compare the fingerprint with the one the author published.", 8, colour=(90, 90, 90))
    else:
        pdf.para("This report is not signed.", 9, colour=(150, 40, 30))

    if case is not None:
        _case(pdf, case, bundle)

    cr = report.get("control_run") or {}
    pdf.heading("Control run", 12)
    colour = (30, 120, 60) if cr.get("current") else ((170, 40, 30) if cr.get("status") == "failed"
                                                      else (150, 100, 0))
    pdf.para(cr.get("sentence") or "No control run on record.", 9, colour=colour)

    model = report.get("model") or {}
    pdf.heading("Model", 12)
    test = (model.get("metrics") or {}).get("test") or {}
    pdf.rows([("Architecture", model.get("name")), ("Checkpoint", model.get("checkpoint") or "(in memory)"),
              ("Checkpoint SHA-256", model.get("checkpoint_sha256") or "-"),
              ("Input size", f"{model.get('input_size')} x {model.get('input_size')} px"),
              ("Threshold", f"p_fake >= {model.get('threshold')} -> FAKE"),
              ("Recorded test accuracy", f"{_pct(test.get('accuracy'))} on {test.get('n_images', '-')} images")],
             (45, CONTENT_W - 45))

    pdf.heading("Limits of this analysis", 12)
    for line in report.get("limits") or []:
        pdf.para(f"- {line}", 8)

    if "refused" in report:
        _refused(pdf, report.get("refused") or [])
    for i, im in enumerate(images, start=1):
        _image_pages(pdf, i, im, model)
    out = pdf.output()
    return bytes(out)


def _summary(pdf: ReportPDF, report: dict[str, Any], case: dict[str, Any] | None,
             images: list[Any]) -> None:
    """The conclusions first: counts in words, what was offered and refused, one row per image."""
    summ = report.get("summary") or {}
    pdf.heading("Summary", 12)
    n_refused = summ.get("n_refused") or 0
    pdf.para(f"{summ.get('n_images', 0)} images, {summ.get('n_analysed', 0)} analysed: "
             f"{counts_phrase(summ)} (outside the training domain), {summ.get('n_errors', 0)} unreadable"
             f"{f'; {n_refused} file(s) refused at intake (listed below with their reasons)' if n_refused else ''}. "
             f"Results digest {report.get('results_digest', '-')}.")
    intake = (case or {}).get("intake")
    if isinstance(intake, dict):
        hidden = intake.get("hidden_skipped") or 0
        pdf.para(f"{intake.get('n_offered')} file(s) offered to the case: {intake.get('n_taken')} taken "
                 f"({intake.get('n_images')} distinct images, {intake.get('n_duplicates')} duplicates), "
                 f"{intake.get('n_refused')} refused"
                 + (f"; {hidden} hidden file(s) (such as .DS_Store) skipped." if hidden else "."), 8)
    table = [("#", "File", "SHA-256", "Conclusion", "Model score", "Raw call")]
    for i, im in enumerate(images, start=1):
        inp = im.get("input") or {}
        if "error" in im:
            table.append((i, inp.get("path"), inp.get("sha256") or "-", "error", im.get("error"), "-"))
        else:
            v, c = im.get("verdict") or {}, im.get("conclusion") or {}
            score = _fmt(v.get("p_fake")) + ("" if c.get("score_reliable") else " (unreliable)")
            table.append((i, inp.get("path"), inp.get("sha256"), c.get("label"), score, v.get("verdict")))
    pdf.rows(table, (7, 45, 60, 24, 30, CONTENT_W - 166), header=True, size=7)


def audit_rows(case: dict[str, Any]) -> list[tuple[str, str]]:
    """The audit head the report was built at and the latest signed anchor, as table rows."""
    head, anchor = case.get("audit_head"), case.get("audit_anchor")
    if not isinstance(head, dict):  # (an older or hand-made report: shown as it is)
        return [("Audit log head", str(head))] if head else []
    anchor = anchor if isinstance(anchor, dict) else {}
    rows = [("Last entry", f"#{head.get('seq')}"), ("Its hash (SHA-256 chain)", str(head.get("hash")))]
    if not anchor:
        return rows + [("Signed anchor", "none on record")]
    same = anchor.get("seq") == head.get("seq") and anchor.get("hash") == head.get("hash")
    gap = (head["seq"] - anchor["seq"]) if all(isinstance(x.get("seq"), int) for x in (head, anchor)) else "?"
    rows += [("Latest signed anchor", f"entry #{anchor.get('seq')} "
              + ("(the same entry: the head is vouched for)" if same else f"(the head is {gap} entries past it)")),
             ("Anchor hash", str(anchor.get("hash"))),
             ("Anchored", f"{anchor.get('anchored_utc')} (UTC)"
              + (f", after a {anchor['session']} session" if anchor.get("session") else "")
              + (f" by {anchor['actor']}" if anchor.get("actor") else ""))]
    asig = anchor.get("signature") if isinstance(anchor.get("signature"), dict) else {}
    if asig.get("fingerprint"):
        from .signing import group_fingerprint

        rows.append(("Anchor signed by key", group_fingerprint(str(asig["fingerprint"]))))
    return rows


def _case(pdf: ReportPDF, case: dict[str, Any], bundle: dict[str, Any]) -> None:
    """Case identity, notes and the audit head as readable tables."""
    pdf.heading("Case", 12)
    rows = [("Case", f"{case.get('id')}: {case.get('title')}")]
    if case.get("created_utc"):
        rows.append(("Opened", f"{case['created_utc']} by {case.get('created_by') or '-'}"))
    if case.get("tags"):
        rows.append(("Tags", ", ".join(map(str, case["tags"]))))
    rows += [(f"Note {n.get('created_utc', '')}", f"{n.get('actor', '')}: {n.get('text', '')}")
             for n in case.get("notes") or [] if isinstance(n, dict)]
    pdf.rows(rows, (40, CONTENT_W - 40))
    audit = audit_rows(case)
    if audit:
        pdf.heading("Audit log at the time of this report", 10)
        pdf.rows(audit, (40, CONTENT_W - 40))
        pdf.para(f"Check the case's log against this head with `synthcheck case verify {case.get('id')} "
                 f"--report {bundle.get('json_file') or 'REPORT.json'}`.", 8, colour=(90, 90, 90))


def _refused(pdf: ReportPDF, refused: list[Any]) -> None:
    """The files offered but refused at intake, each with its reason."""
    pdf.heading("Files refused at intake", 12)
    if not refused:
        pdf.para("No file was refused.", 8, colour=(90, 90, 90))
        return
    pdf.para("These files were offered but not taken into the case, so they were not analysed; each "
             "was recorded with its reason when it was refused.", 8)
    rows = [("#", "File", "Source", "Size", "SHA-256", "Reason", "Refused (UTC)")]
    for i, f in enumerate((f for f in refused if isinstance(f, dict)), start=1):
        size = f"{f['bytes']:,} B" if isinstance(f.get("bytes"), int) else "-"
        rows.append((i, f.get("name"), f.get("source"), size, f.get("sha256") or "-", f.get("reason"),
                     str(f.get("refused_utc") or "-")[:19].replace("T", " ")))
    pdf.rows(rows, (6, 34, 26, 14, 30, CONTENT_W - 130, 20), header=True, size=6.5)


def _image_pages(pdf: ReportPDF, i: int, im: dict[str, Any], model: dict[str, Any]) -> None:
    """One image's section: file, verdict, pictures, provenance, tiles, explanations, forensics."""
    inp = im.get("input") or {}
    # A new page only when the heading, file table and conclusion would not fit: a forced page
    # per image left the page before it mostly blank whenever a section ran a little over.
    pdf.heading(f"Image {i}: {inp.get('path')}", 13, keep_with=70, rule=True)
    if "error" in im:
        pdf.para(f"This file could not be analysed: {im.get('error')}", 9, colour=(170, 40, 30))
        return
    pdf.rows([("SHA-256", inp.get("sha256") or "- (in-memory input)"),
              ("Size", f"{inp.get('bytes'):,} bytes" if isinstance(inp.get("bytes"), int) else "-"),
              ("Format", f"{inp.get('format') or '-'} (mode {inp.get('mode')})"),
              ("Dimensions", f"{inp.get('width')} x {inp.get('height')} px")], (30, CONTENT_W - 30))
    v, c = im.get("verdict") or {}, im.get("conclusion") or {}
    pdf.set_font(pdf.family, "B", 14)
    pdf.set_text_color(*CONCLUSION_RGB.get(c.get("conclusion"), (60, 60, 60)))
    pdf.cell(0, 8, pdf.t(f"Conclusion: {c.get('label')}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.para(str(c.get("reason") or ""), 9)
    if isinstance(v.get("p_fake"), (int, float)):  # grey where the model cannot judge the image
        pdf.score_bar(float(v["p_fake"]), SCORE_BAR_RGB.get(c.get("conclusion"), (156, 163, 175)))
    pdf.para(f"{c.get('score_label')}; band {v.get('band_label')}; uncalibrated "
             f"{_fmt(v.get('p_fake_raw'))}.", 8, colour=(90, 90, 90))
    dom = im.get("domain") or {}
    if dom.get("reasons"):
        pdf.para("Why the model cannot judge this image:", 9, colour=(170, 40, 30))
        for reason in dom["reasons"]:
            pdf.para(f"- {reason}", 8)
    if dom.get("advisories"):
        pdf.para("Known bias of the model that applies to this image:", 9)
        for note in dom["advisories"]:
            pdf.para(f"- {note}", 8)
    pics = im.get("pictures") or {}
    pdf.pictures([(_picture(pics.get("original")), "The image (display copy)"),
                  (_picture(pics.get("model_input")),
                   f"What the model sees ({model.get('input_size')} px, enlarged)")], side=45)

    tiles = im.get("tiles")
    if isinstance(tiles, dict) and tiles.get("p_fake"):
        pdf.heading("Tile grid (native-resolution patches)", 10)
        pdf.para(f"{tiles.get('rows')} x {tiles.get('cols')} patches of {tiles.get('tile_px')} px: mean "
                 f"p_fake {_fmt(tiles.get('p_fake_mean'), 3)}, {_pct(tiles.get('share_fake'))} of patches "
                 f"at or above {tiles.get('threshold')} (values in percent; blue low, red high). The "
                 "conclusion rests on the whole-image score; the grid only shows where the patch "
                 "scores lean.", 8)
        if im.get("tile_note"):
            pdf.para(f"Note: {im['tile_note']}", 8)
        pdf.tile_grid(tiles)

    prov = im.get("provenance")
    pdf.heading("Provenance signals", 10)
    if not isinstance(prov, dict):
        pdf.para("Provenance reading is not available in this build.", 8, colour=(90, 90, 90))
    else:
        pdf.para(prov.get("summary") or "No provenance signals; their absence proves nothing "
                 "(metadata is easily stripped).", 9)
        signals = [s for s in prov.get("signals") or [] if isinstance(s, dict)]
        if signals:
            pdf.rows([("Source", "Field", "Value", "Meaning", "Strength")]
                     + [(s.get("source"), s.get("field"), pdf.t(s.get("value"), 240), s.get("meaning"),
                         s.get("strength")) for s in signals],
                     (22, 28, 50, CONTENT_W - 118, 18), header=True, size=7)
        for err in prov.get("errors") or []:
            pdf.para(f"- {err}", 8, colour=(90, 90, 90))

    ex = im.get("explanations") or {}
    methods = ex.get("methods") or {}
    if methods:
        reliable = ex.get("reliable", True)
        pdf.heading(ex.get("heading") or f"Explanations (for the class {ex.get('target', '-')})", 10,
                    keep_with=55)
        pdf.pictures([(_picture(m.get("overlay")),
                       m.get("title", name) + ("" if reliable else ": unreliable here"))
                      for name, m in methods.items()])
        rows = [("Method", "Deletion AUC (lower better)", "Random", "Insertion AUC (higher better)", "Random")]
        for name, m in methods.items():
            f = m.get("faithfulness") or {}
            rows.append((m.get("title", name), _fmt(f.get("deletion_auc")), _fmt(f.get("random_deletion_auc")),
                         _fmt(f.get("insertion_auc")), _fmt(f.get("random_insertion_auc"))))
        pdf.rows(rows, (40, 38, 26, 38, CONTENT_W - 142), header=True, size=7)
        for m in methods.values():
            if (m.get("trust") or {}).get("sentence"):
                pdf.para(m["trust"]["sentence"], 8)
    fz = im.get("forensics") or {}
    if fz:
        pdf.heading("Classical forensic views", 10, keep_with=55)
        pdf.pictures([(_picture((fz.get(k) or {}).get("picture")), cap) for k, cap in
                      (("ela", "Error level analysis"), ("spectrum", "Fourier spectrum (log)"),
                       ("noise", "Noise residual"), ("ghost", "JPEG ghosts (dark = changes least)"),
                       ("copy_move", "Copy-move: source green, copy red"),
                       ("thumbnail", "EXIF thumbnail | image | difference"))])
        facts = _forensic_facts(fz)
        if facts:
            pdf.rows(facts, (36, CONTENT_W - 36), size=7)


def _forensic_facts(fz: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per finding of the JPEG, double-save, ghost, copy-move and thumbnail views."""
    jp, dq, gh, cm, th = (fz.get(k) if isinstance(fz.get(k), dict) else {}
                          for k in ("jpeg", "double_jpeg", "ghost", "copy_move", "thumbnail"))
    rows = []
    if jp:
        rows.append(("JPEG structure", (
            f"estimated quality {jp.get('quality')} ({jp.get('encoder')}); {jp.get('subsampling')} "
            f"chroma; {'progressive' if jp.get('progressive') else 'baseline'}")
            if jp.get("is_jpeg") else str(jp.get("note"))))
        for tid, table in (jp.get("tables") or {}).items():
            rows.append((f"Quantisation table {tid}", " ".join(map(str, table))))
    if dq:
        rows.append(("Double compression", str(dq.get("note")) if not dq.get("applicable") else
                     f"likely saved twice; earlier quality about {dq.get('earlier_quality')}"
                     if dq.get("double") else "no sign of an earlier JPEG save"))
    if gh:
        ghosts = ", ".join(f"q{q} ({_pct(s)} of tiles)" for q, s in gh.get("ghosts") or [])
        own = f"regions with their own minimum: {ghosts}" if ghosts else "no region with its own minimum"
        rows.append(("JPEG ghosts", f"least change at quality {gh.get('min_quality')}; {own}"))
    if cm:
        clones = "; ".join(f"[{', '.join(map(str, c.get('source', [])))}] -> "
                           f"[{', '.join(map(str, c.get('target', [])))}], {c.get('matches')} matches"
                           for c in cm.get("clones") or [])
        rows.append(("Copy-move", f"{cm.get('n_clones', 0)} cloned region(s)"
                     + (f": {clones}" if clones else "")))
    if th:
        rows.append(("EXIF thumbnail", str(th.get("message"))))
    return rows


def write_pdf(report: dict[str, Any], path: str | os.PathLike, bundle: dict[str, Any] | None = None) -> Path:
    """Render ``report`` to ``path`` (atomically) and return the path."""
    return atomic_write_bytes(Path(path), render_pdf(report, bundle))
