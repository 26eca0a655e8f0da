"""One analysis per image: the only place that applies the threshold, picks the band and words
the conclusion. Every face (CLI, API, dashboard pages, cases, HTML/PDF reports) renders an
:class:`Analysis` and re-derives nothing.

The rule, in plain words:

- ``p_fake`` is the model's calibrated score of the whole image, shrunk to its input size (the
  view it was trained and calibrated on).
- ``verdict`` is the model's raw call: FAKE when ``p_fake >= threshold``, else REAL. This is the
  only place a threshold is applied (:func:`synthcheck.bands.decide`); detectors only score, and
  explanations are computed towards this verdict, so a map always argues for the reported class.
- ``band`` places ``p_fake`` between the two band edges (likely real / uncertain / likely
  synthetic), or is ``out_of_domain`` when the domain check fails.
- ``conclusion`` is what a person should act on: **cannot_assess** when the image is outside the
  training domain (the score is then unreliable, whatever it says), else the band.
- The tile grid (large images) scores native-resolution patches. It shows *where* the model's
  patch scores lean; it never enters the conclusion. When the whole-image band and the band of
  the patches' mean differ, ``tile_note`` says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from .bands import band_for, band_label, decide
from .domain import DomainCheck
from .imageio import ImageError, LoadedImage, display_name
from .inference.decoding import DECODE_TIMEOUT_S, analysis_view, load_many
from .options import AnalysisOptions, OptionsError, check_seed, check_threshold
from .provenance import Provenance, empty_provenance, read_provenance
from .tiles import TileGrid, tile_grid

CONCLUSIONS: tuple[str, str, str, str] = ("likely_real", "uncertain", "likely_synthetic", "cannot_assess")
CONCLUSION_LABELS: dict[str, str] = {"likely_real": "Likely real", "uncertain": "Uncertain",
                                     "likely_synthetic": "Likely synthetic", "cannot_assess": "Cannot assess"}
CONCLUSION_MEANING: dict[str, str] = {
    "likely_real": "The model sees no sign of synthesis. This is not proof of authenticity.",
    "uncertain": "The model cannot tell. Do not report either way on this score.",
    "likely_synthetic": "The model sees strong signs of synthesis. Look for other evidence.",
    "cannot_assess": "The image is unlike anything the model learned from, so its score says "
                     "nothing reliable about this image.",
}
CONCLUSION_COLOURS: dict[str, str] = {"likely_real": "green", "uncertain": "orange",
                                      "likely_synthetic": "red", "cannot_assess": "gray"}
# The keys of :meth:`Analysis.to_record`, in order (``tiles``/``tile_note`` only when asked for):
# the one schema of a result record; scan rows and table rows are built from it.
RECORD_FIELDS: tuple[str, ...] = (
    "path", "sha256", "verdict", "p_fake", "model", "conclusion", "conclusion_label",
    "conclusion_reason", "threshold", "calibrated_p_fake", "uncalibrated_p_fake", "band",
    "in_domain", "domain_reasons", "advisories", "notes", "provenance", "provenance_summary")
TILE_FIELDS: tuple[str, ...] = ("tiles", "tile_note")
_PLACEHOLDER = Image.new("RGB", (1, 1))  # stands in for pixels dropped with keep_images=False
DEFAULT_BATCH = 256  # inputs per model call: ONNX Runtime and torch amortise their per-call cost
MAX_CHUNK_PIXELS = 64_000_000  # ...and a chunk is scored early once its images measure this many pixels
__all__ = ["CONCLUSIONS", "Analysis", "AnalysisOptions", "OptionsError", "analyze", "analyze_one",
           "check_seed", "check_threshold", "iter_analyze", "records", "summarize"]


def conclusion_of(band: str) -> str:
    """The conclusion for a band: ``out_of_domain`` -> ``cannot_assess``, else the band itself."""
    return "cannot_assess" if band == "out_of_domain" else band


def score_label(p_fake: float, verdict: str, threshold: float, reliable: bool) -> str:
    """The model's score in words, labelled unreliable where the model cannot judge (the one
    wording: :attr:`Analysis.score_label`, and every face that renders a stored record)."""
    if not reliable:
        return (f"Model score p_fake {p_fake:.3f} (raw call {verdict} at threshold "
                f"{threshold:g}): unreliable for this image")
    return f"p_fake {p_fake:.3f} (calibrated; raw call {verdict} at threshold {threshold:g})"


def record_score_label(rec: dict[str, Any]) -> str:
    """:func:`score_label` of a ``to_record`` dict (a stored case record, a report entry)."""
    return score_label(float(rec["p_fake"]), str(rec["verdict"]), float(rec["threshold"]),
                       rec.get("conclusion") != "cannot_assess")


UNRELIABLE_HERE = "unreliable here: the model cannot judge this image"


def map_caption(verdict: str | None, reliable: bool, method: str = "Grad-CAM") -> str:
    """The words under a map of the model's raw call: what it shows where the score can be
    trusted, else that it is unreliable here (never "evidence for" an out-of-domain call)."""
    if not reliable:
        return f"{method} of the model's raw call, {UNRELIABLE_HERE}"
    return f"{method}: evidence for {verdict} (red = strong)"


def explanations_heading(target: str | None, reliable: bool) -> str:
    """The heading over a set of explanation maps (pages and reports)."""
    if not reliable:
        return f"Explanations of the model's raw call, {UNRELIABLE_HERE}"
    return f"Explanations (for the class {target})" if target else "Explanations"


def conclusion_label(conclusion: str | None) -> str:
    """Human wording of a conclusion id (``"cannot_assess"`` -> ``"Cannot assess"``)."""
    return CONCLUSION_LABELS.get(conclusion or "", conclusion or "")


@dataclass
class Analysis:
    """Everything every face shows about one input; ``error`` set means it could not be read."""

    name: str
    model: str
    threshold: float
    band_edges: tuple[float, float]
    loaded: LoadedImage | None = field(default=None, repr=False)
    error: str | None = None
    verdict: str | None = None  # the model's raw call at ``threshold``
    p_fake: float | None = None  # calibrated
    p_fake_raw: float | None = None
    logits: tuple[float, float] | None = None
    band: str | None = None
    conclusion: str | None = None
    domain: DomainCheck | None = None
    provenance: Provenance | None = None
    tiles: TileGrid | None = None
    tile_note: str | None = None
    explanations: Any | None = None  # synthcheck.explain.ExplanationReport, on request

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def sha256(self) -> str | None:
        return self.loaded.sha256 if self.loaded is not None else None

    @property
    def headline(self) -> str:
        """The first words a person reads: the conclusion, or why the file could not be read."""
        return "Cannot read this file" if self.error else conclusion_label(self.conclusion)

    @property
    def reason(self) -> str:
        """One plain sentence under the headline: why this conclusion."""
        if self.error:
            return self.error
        if self.conclusion == "cannot_assess" and self.domain is not None:
            first = self.domain.reasons[0] if self.domain.reasons else ""
            more = len(self.domain.reasons) - 1
            tail = f" (And {more} more reason{'s' if more > 1 else ''}.)" if more > 0 else ""
            return f"The model cannot judge this image. {first}{tail}"
        return CONCLUSION_MEANING.get(self.conclusion or "", "")

    @property
    def score_reliable(self) -> bool:
        return self.ok and self.conclusion != "cannot_assess"

    @property
    def score_label(self) -> str:
        """The model's score in words, labelled unreliable where the model cannot judge."""
        if self.p_fake is None:
            return ""
        return score_label(self.p_fake, str(self.verdict), self.threshold, self.score_reliable)

    @property
    def map_caption(self) -> str:
        """The caption of this analysis's Grad-CAM (:func:`map_caption`)."""
        return map_caption(self.verdict, self.score_reliable)

    @property
    def advisories(self) -> list[str]:
        return list(self.domain.advisories) if self.domain is not None else []

    def to_record(self, path: str | None = None) -> dict[str, Any]:
        """The ``synthcheck predict --json`` record (see ``synthcheck.api.schemas.VerifyResult``).

        Original keys keep their meaning (``verdict`` is the model's raw call); ``conclusion``
        is the field to act on.
        """
        where = self.name if path is None else path
        if self.error is not None:
            return {"path": where, "error": self.error}
        assert self.loaded is not None and self.domain is not None and self.provenance is not None
        rec: dict[str, Any] = {  # keys in RECORD_FIELDS order (tests/test_one_of_each checks)
            "path": where,
            "sha256": self.loaded.sha256,
            "verdict": self.verdict,
            "p_fake": round(float(self.p_fake), 6),
            "model": self.model,
            "conclusion": self.conclusion,
            "conclusion_label": conclusion_label(self.conclusion),
            "conclusion_reason": self.reason,
            "threshold": self.threshold,
            "calibrated_p_fake": round(float(self.p_fake), 6),
            "uncalibrated_p_fake": round(float(self.p_fake_raw), 6),
            "band": self.band,
            "in_domain": self.domain.in_domain,
            "domain_reasons": list(self.domain.reasons),
            "advisories": list(self.domain.advisories),
            "notes": list(self.loaded.notes),
            "provenance": list(self.provenance.signals),
            "provenance_summary": self.provenance.summary,
        }
        if self.tiles is not None or self.tile_note is not None:
            rec["tiles"] = self.tiles.to_dict() if self.tiles is not None else None
            rec["tile_note"] = self.tile_note
        return rec

    def to_row(self) -> dict[str, Any]:
        """One flat table row (Batch page, triage CSV/JSON): the record plus file facts."""
        row: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
        row.update(name=self.name, error=self.error)
        if self.loaded is not None:
            row.update(width=self.loaded.width, height=self.loaded.height, format=self.loaded.format,
                       bytes=self.loaded.n_bytes, sha256=self.loaded.sha256, notes=list(self.loaded.notes))
        if self.ok and self.domain is not None:
            row.update(conclusion=self.conclusion, conclusion_label=conclusion_label(self.conclusion),
                       verdict=self.verdict, p_fake=round(float(self.p_fake), 6), band=self.band,
                       band_label=band_label(self.band or ""), in_domain=self.domain.in_domain,
                       domain_reasons=list(self.domain.reasons), advisories=list(self.domain.advisories))
        return row


ROW_FIELDS = ("name", "conclusion", "conclusion_label", "verdict", "p_fake", "band", "band_label",
              "in_domain", "domain_reasons", "advisories", "width", "height", "format", "bytes",
              "sha256", "notes", "error")


def summarize(analyses: Iterable[Analysis | dict[str, Any]]) -> dict[str, int]:
    """Counts by conclusion (cannot_assess on its own, never inside FAKE or REAL) and errors."""
    counts = dict.fromkeys(("n_images", "n_analysed", "n_errors", *(f"n_{c}" for c in CONCLUSIONS)), 0)
    for a in analyses:
        conclusion = a.get("conclusion") if isinstance(a, dict) else a.conclusion
        error = a.get("error") if isinstance(a, dict) else a.error
        counts["n_images"] += 1
        if error is not None:
            counts["n_errors"] += 1
        else:
            counts["n_analysed"] += 1
            if conclusion in CONCLUSIONS:
                counts[f"n_{conclusion}"] += 1
    return counts


def counts_phrase(counts: dict[str, int]) -> str:
    """Summary counts in words, cannot-assess on its own: '1 likely synthetic, 0 uncertain, ...'."""
    order = ("likely_synthetic", "uncertain", "likely_real", "cannot_assess")
    return ", ".join(f"{counts.get(f'n_{c}', 0)} {conclusion_label(c).lower()}" for c in order)


def provenance_for(loaded: LoadedImage, conclusion: str | None = None,
                   p_fake: float | None = None) -> Provenance:
    """Provenance of the original file behind ``loaded`` (none for pixel inputs); given the
    conclusion, the summary also says whether the metadata agrees with it."""
    if loaded.raw is None:
        return empty_provenance("the input was pixels, not the original file.")
    return read_provenance(loaded.raw, name=loaded.name, conclusion=conclusion, p_fake=p_fake)


def _tile_note(grid: TileGrid | None, p_fake: float, edges: tuple[float, float], in_domain: bool) -> str | None:
    if grid is None:
        return None
    whole, patches = band_for(p_fake, edges), band_for(grid.mean, edges)
    if whole == patches:
        return None
    lead = ("The model cannot judge the whole image, and its patch scores are no more reliable. "
            if not in_domain else "")
    return (f"{lead}The whole-image score ({p_fake:.3f}, {band_label(whole).lower()}) and the mean "
            f"of the {grid.rows * grid.cols} native-resolution patches ({grid.mean:.3f}, "
            f"{band_label(patches).lower()}) disagree. The conclusion rests on the whole-image "
            f"score; the grid only shows where the patch scores lean.")


def build_analyses(items: Sequence[tuple[str, LoadedImage]], scores: Sequence[Any], detector: Any,
                   options: AnalysisOptions) -> list[Analysis]:
    """The analyses of a batch of decoded, scored inputs (``options`` already resolved): the
    domain check runs on the whole batch (:meth:`synthcheck.domain.DomainModel.judge_many`)."""
    thr, edges = float(options.threshold), options.band_edges
    domains = detector.domain_model.judge_many([lo for _, lo in items],
                                               [v.feature_distance for v in scores],
                                               [v.jpeg_residual for v in scores])
    out = []
    for (name, loaded), score, domain in zip(items, scores, domains, strict=True):
        p_fake = float(score.p_fake)
        band = band_for(p_fake, edges, in_domain=domain.in_domain)
        conclusion = conclusion_of(band)
        a = Analysis(name=name, model=detector.model_name, threshold=thr, band_edges=edges,
                     loaded=loaded, verdict=decide(p_fake, thr), p_fake=p_fake,
                     p_fake_raw=float(score.p_fake_raw), logits=tuple(score.logits), band=band,
                     conclusion=conclusion, domain=domain,
                     provenance=provenance_for(loaded, conclusion, p_fake))
        if options.tiles:
            a.tiles = tile_grid(detector, loaded, threshold=thr)
            a.tile_note = _tile_note(a.tiles, a.p_fake, edges, domain.in_domain)
        if options.explain:
            from .explain import explain_all

            a.explanations = explain_all(detector, loaded, methods=options.explain, target=a.verdict,
                                         seed=options.seed,
                                         with_metrics=options.with_metrics,
                                         options=options.explain_options)
        out.append(a)
    return out


def build_analysis(name: str, loaded: LoadedImage, scores: Any, detector: Any,
                   options: AnalysisOptions) -> Analysis:
    """The analysis of one decoded, scored input (:func:`build_analyses` of one)."""
    return build_analyses([(name, loaded)], [scores], detector, options)[0]


Source = Any  # path, bytes, (name, bytes) upload, PIL image, array or LoadedImage


def _name_of(source: Source) -> str:
    if isinstance(source, LoadedImage):
        return source.name
    if isinstance(source, tuple) and len(source) == 2:
        return str(source[0])
    if isinstance(source, (bytes, bytearray)):
        return "<bytes>"
    return display_name(source) if isinstance(source, str) or hasattr(source, "__fspath__") else "<input>"


def _decodable(source: Source, name: str) -> tuple[Any, str | None]:
    """(what load_image takes, the name to give it) for one source."""
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], (bytes, bytearray)):
        return bytes(source[1]), name
    return source, None


def _reducer(detector: Any, opts: AnalysisOptions, keep_images: bool
             ) -> Callable[[LoadedImage], tuple[LoadedImage, Any]] | None:
    """:func:`synthcheck.inference.decoding.analysis_view` for this detector when nothing after scoring
    needs the full pixels (no kept images, tiles or explanations), else None."""
    if keep_images or opts.tiles or opts.explain or not hasattr(detector, "predict_arrays"):
        return None
    return lambda loaded: analysis_view(loaded, detector)


def iter_analyze(sources: Iterable[Source], detector: Any, options: AnalysisOptions | None = None, *,
                 names: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH,
                 keep_images: bool = True, timeout_s: float | None = None,
                 progress: Callable[[int], None] | None = None,
                 inline_decode: bool = False) -> Iterator[Analysis]:
    """Analyses in input order, decoded and scored ``batch_size`` at a time, or sooner once the
    chunk's inputs measure ``MAX_CHUNK_PIXELS`` (memory does not grow with the number of
    inputs). A bad input yields an :class:`Analysis` with ``error`` and never stops the others.

    Memory: decoding runs ahead within a pixel budget (:func:`synthcheck.inference.decoding.load_many`).
    With ``keep_images=False`` and neither tiles nor explanations, each image is reduced in its
    decode thread, right after decoding, to the model's input and the domain check's small copy
    (:func:`synthcheck.inference.decoding.analysis_view`: the same results, no full pixels kept); otherwise
    the full images live until their chunk is scored, and ``keep_images=False`` drops them then.
    ``progress(n_done)`` is called after each scored chunk. ``inline_decode`` decodes small files
    in this thread rather than on the decode pool (:func:`synthcheck.inference.decoding.load_many`): for
    callers whose processes are already the parallelism, such as scan workers.
    """
    opts = (options or AnalysisOptions()).resolved()
    limit = DECODE_TIMEOUT_S if timeout_s is None else timeout_s
    name_it = iter(names) if names is not None else None
    reduce = _reducer(detector, opts, keep_images)
    done = 0

    def flush(chunk: list[tuple[str, LoadedImage | None, Any, str | None]]) -> Iterator[Analysis]:
        good = [(name, lo) for name, lo, _, _ in chunk if lo is not None]
        if not good:
            built: Iterator[Analysis] = iter(())
        else:
            if reduce is not None:  # the model's inputs were made in the decode threads
                scores = detector.predict_arrays(np.stack([v for _, lo, v, _ in chunk if lo is not None]),
                                                 [(lo.width, lo.height) for _, lo in good])
            else:
                scores = detector.predict([lo for _, lo in good])
            built = iter(build_analyses(good, scores, detector, opts))
        for name, loaded, _, err in chunk:
            if loaded is None:
                yield Analysis(name, detector.model_name, opts.threshold, opts.band_edges, error=err)
                continue
            a = next(built)
            if not keep_images:
                a.loaded = loaded.with_changes(image=_PLACEHOLDER, raw=None)
            yield a

    names_of: deque[str] = deque()

    def decodable() -> Iterator[tuple[Any, str | None]]:
        for source in sources:
            name = next(name_it) if name_it is not None else _name_of(source)
            names_of.append(name)
            yield _decodable(source, name)

    chunk: list[tuple[str, LoadedImage | None, Any, str | None]] = []
    pixels = 0
    for out in load_many(decodable(), limit, reduce=reduce, inline=inline_decode):
        name = names_of.popleft()
        if isinstance(out, ImageError):
            chunk.append((name, None, None, str(out)))
        else:
            loaded, view = out if reduce is not None else (out, None)
            chunk.append((name, loaded, view, None))
            pixels += loaded.width * loaded.height  # the original's: the same chunks either way
        if len(chunk) >= batch_size or pixels >= MAX_CHUNK_PIXELS:
            yield from flush(chunk)
            done += len(chunk)
            chunk, pixels = [], 0
            if progress:
                progress(done)
    if chunk:
        yield from flush(chunk)
        if progress:
            progress(done + len(chunk))


def analyze(sources: Iterable[Source] | Source, detector: Any, options: AnalysisOptions | None = None,
            **kwargs: Any) -> list[Analysis]:
    """:func:`iter_analyze` as a list; a single path, bytes or image counts as one source."""
    if isinstance(sources, (str, bytes, bytearray, LoadedImage)) or hasattr(sources, "__fspath__"):
        sources = [sources]
    return list(iter_analyze(sources, detector, options, **kwargs))


def analyze_one(source: Source, detector: Any, options: AnalysisOptions | None = None,
                name: str | None = None) -> Analysis:
    """One input's analysis (an ``error`` analysis when it cannot be read)."""
    return analyze([source], detector, options, names=[name or _name_of(source)])[0]


def records(sources: Iterable[Source], detector: Any, options: AnalysisOptions | None = None,
            names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The ``synthcheck predict --json`` records of many inputs, in input order."""
    return [a.to_record() for a in iter_analyze(sources, detector, options, names=names, keep_images=False)]
