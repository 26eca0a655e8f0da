"""The work behind ``POST /v1/verify``: read uploads, decode, batch-predict, explain.

Handlers stay parse -> call -> schema; everything here takes keyword-only arguments.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from typing import Any

import numpy as np
from fastapi import HTTPException, UploadFile
from PIL import Image
from starlette.concurrency import run_in_threadpool

from ..analysis import AnalysisOptions, OptionsError, build_analysis, check_threshold
from ..bands import DEFAULT_EDGES, validate_edges
from ..imageio import ImageError, LoadedImage, load_image, png_base64
from ..inference import Detector
from ..inference.base import BaseDetector
from ..inference.decoding import analysis_view, release_memory
from .batcher import MicroBatcher
from .config import GENERIC_TYPES, Settings
from .heavy import HeavyDecoder

TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
                "image/x-ms-bmp": "image/bmp", "image/x-bmp": "image/bmp", "image/tif": "image/tiff"}


def _declared_type(upload: UploadFile) -> str:
    ctype = (upload.content_type or "").split(";")[0].strip().lower()
    return TYPE_ALIASES.get(ctype, ctype)


def check_uploads(*, files: list[UploadFile], settings: Settings) -> None:
    """Request-level checks: count, declared types (415) and sizes (413)."""
    if not files:
        raise HTTPException(400, "no files: send one or more 'files' parts.")
    if len(files) > settings.max_files:
        raise HTTPException(413, f"{len(files)} files is over the limit of {settings.max_files} per request.")
    allowed = {t.lower() for t in settings.allowed_types}
    for i, f in enumerate(files):
        ctype = _declared_type(f)
        if ctype not in allowed and ctype not in GENERIC_TYPES:
            raise HTTPException(415, f"{f.filename or f'file {i + 1}'}: type {ctype!r} is not "
                                     f"accepted; allowed: {', '.join(sorted(allowed))}.")
        if f.size is not None and f.size > settings.max_upload_bytes:
            raise HTTPException(413, f"{f.filename or f'file {i + 1}'}: file is over the "
                                     f"{settings.max_upload_mb:g} MB limit.")


def declared_pixels(data: bytes) -> int:
    """Pixels the file's header declares (read without decoding; 0 when it cannot be read:
    :func:`load_image` then gives the error)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                return int(img.width) * int(img.height)
    except Exception:  # not an image, or a header Pillow refuses: not a heavy decode
        return 0


def _decode(data: bytes, name: str, settings: Settings, detector: Detector, reduce: bool = False,
            heavy: bool = False) -> tuple[LoadedImage, np.ndarray]:
    """(loaded, model input) for one upload, blocking (run in a worker thread). ``reduce``
    keeps only what an analysis without tiles or explanations needs
    (:func:`synthcheck.inference.decoding.analysis_view`); after a heavy one the freed pixels go back to
    the system (:func:`synthcheck.inference.decoding.release_memory`)."""
    loaded = load_image(data, name=name, max_pixels=settings.max_pixels,
                        max_bytes=settings.max_upload_bytes)
    if not reduce:
        return loaded, detector.to_array(loaded)
    out = analysis_view(loaded, detector)
    del loaded
    if heavy:
        release_memory()
    return out


def _format_allowed(loaded: LoadedImage, settings: Settings) -> bool:
    fmt = (loaded.format or "").lower()
    allowed = {t.split("/")[-1].lower() for t in settings.allowed_types}
    return fmt in allowed or (fmt == "jpeg" and "jpg" in allowed) or (fmt == "mpo" and "jpeg" in allowed)


async def read_and_decode(*, files: list[UploadFile], settings: Settings, detector: Detector,
                          reduce: bool = False, heavy: HeavyDecoder | None = None
                          ) -> list[tuple[str, LoadedImage | None, np.ndarray | None, str | None]]:
    """(name, loaded, model array, error) per upload; undecodable files get an error string.

    No decode runs on the event loop. One whose header declares more than
    ``settings.heavy_pixels`` pixels first takes one of the server's ``settings.heavy_decodes``
    slots (``heavy``, shared by all requests), and, when only the analysis view is kept
    (``reduce``, see :func:`_decode`), runs in one of its worker processes; every other decode
    runs in a worker thread.
    """
    slots = heavy.slots if heavy is not None else asyncio.Semaphore(settings.heavy_decodes)
    in_process = heavy is not None and reduce and type(detector).to_array is BaseDetector.to_array
    out = []
    for i, f in enumerate(files):
        name = f.filename or f"upload-{i + 1}"
        data = await f.read()
        try:
            if declared_pixels(data) <= settings.heavy_pixels:
                loaded, arr = await run_in_threadpool(_decode, data, name, settings, detector, reduce)
            elif in_process:
                async with slots:
                    loaded, arr = await heavy.decode(data, name, max_pixels=settings.max_pixels,
                                                     max_bytes=settings.max_upload_bytes,
                                                     input_size=detector.input_size)
            else:
                async with slots:
                    loaded, arr = await run_in_threadpool(_decode, data, name, settings, detector,
                                                          reduce, True)
        except ImageError as exc:
            out.append((name, None, None, str(exc)))
            continue
        if not _format_allowed(loaded, settings):
            raise HTTPException(415, f"{name}: {loaded.format} images are not accepted; allowed: "
                                     f"{', '.join(sorted(settings.allowed_types))}.")
        out.append((name, loaded, arr, None))
    return out


def explanation_payload(*, detector: Detector, loaded: LoadedImage, method: str,
                        target: str) -> dict[str, Any]:
    """One explanation map towards ``target`` (the analysis's verdict) as base64 PNGs (8-bit map
    and a colour overlay), blocking."""
    from ..explain import explain_all
    from ..explain.metrics.verdicts import map_trust
    from ..explain.visual import overlay

    report = explain_all(detector, loaded, (method,), target=target)
    ex = next(iter(report.explanations.values()))
    m = np.asarray(ex.map, dtype=np.float32)
    if ex.signed:
        lim = float(np.abs(m).max()) or 1.0
        m8 = np.clip((m / lim + 1.0) * 127.5, 0, 255).astype(np.uint8)
    else:
        lo, hi = float(m.min()), float(m.max())
        m8 = np.clip((m - lo) / ((hi - lo) or 1.0) * 255.0, 0, 255).astype(np.uint8)
    image = detector.to_array(loaded)
    trust = map_trust(ex.method, report.faithfulness.get(ex.method))
    return {"method": ex.method, "target": ex.target, "p_target": round(float(ex.p_target), 6),
            "signed": bool(ex.signed), "faithfulness_call": trust["call"],
            "trust_sentence": trust["sentence"], "map_png": png_base64(m8),
            "overlay_png": png_base64(overlay(image, ex.map))}


def analysis_options(*, threshold: float | None, band_low: float | None, band_high: float | None,
                     tiles: bool, settings: Settings) -> AnalysisOptions:
    """The request's analysis options (threshold by default the server's setting); 400 with one
    sentence when any is out of range."""
    edges = (DEFAULT_EDGES[0] if band_low is None else band_low,
             DEFAULT_EDGES[1] if band_high is None else band_high)
    threshold = settings.threshold if threshold is None else threshold
    opts = AnalysisOptions(threshold=threshold, band_edges=edges, tiles=tiles)
    try:
        validate_edges(edges)
        if threshold is not None:
            check_threshold(threshold)
    except (OptionsError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return opts


async def verify(*, files: list[UploadFile], explain: str | None, settings: Settings,
                 detector: Detector, batcher: MicroBatcher, state: Any,
                 options: AnalysisOptions | None = None) -> list[dict[str, Any]]:
    """Per upload: the ``synthcheck predict --json`` record (plus ``explanation`` on request),
    built by :func:`synthcheck.analysis.build_analysis` like every other face.

    Why this is not :func:`synthcheck.analysis.iter_analyze`: that pipeline blocks a thread per
    call and batches one caller's inputs, while a server must decode off the event loop under
    a shared heavy-decode limit and batch the model across concurrent requests (the
    :class:`MicroBatcher`). Only decoding and batching differ; scores become an analysis (the
    threshold, band, conclusion, domain check and provenance) through the same function."""
    from .limits import mark_submitted

    if explain is not None and explain not in settings.explain_methods:
        raise HTTPException(400, f"explain={explain!r} is not offered; choose one of "
                                 f"{', '.join(settings.explain_methods)}.")
    try:
        opts = (options or AnalysisOptions(threshold=settings.threshold)).resolved()
    except OptionsError as exc:
        raise HTTPException(400, str(exc)) from exc
    check_uploads(files=files, settings=settings)
    items = await read_and_decode(files=files, settings=settings, detector=detector,
                                  reduce=not opts.tiles and explain is None,
                                  heavy=getattr(state, "heavy_decoder", None))
    good = [(name, loaded, arr) for name, loaded, arr, err in items if err is None]
    verdicts: list[Any] = []
    mark_submitted(state, batcher)
    if good:
        arrays = np.stack([arr for _, _, arr in good])
        verdicts = await batcher.submit(arrays, [(lo.width, lo.height) for _, lo, _ in good])
    it = iter(verdicts)
    results: list[dict[str, Any]] = []
    for name, loaded, _, err in items:
        if err is not None:
            results.append({"path": name, "error": err})
            continue
        analysis = build_analysis(name, loaded, next(it), detector, opts)
        row = analysis.to_record()
        if explain is not None:
            row["explanation"] = await run_in_threadpool(
                explanation_payload, detector=detector, loaded=loaded, method=explain,
                target=analysis.verdict)
        results.append(row)
    return results
