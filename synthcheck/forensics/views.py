"""All forensic views of one image at once, for reports, the CLI and the dashboard.

Each view is ``{"image": uint8 HxWx3 picture or None, ...JSON numbers}``; the picture is at
the image's size for pixel views (ELA, spectrum, noise) and at most about 1000 px for
drawings (ghost mosaic, copy-move, thumbnail strip).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..imageio import as_loaded
from .copy_move import copy_move_view
from .double_jpeg import double_jpeg
from .ela import ela_view
from .ghost import ghost_view
from .jpeg_tables import jpeg_tables_view
from .noise import noise_view
from .spectrum import spectrum_summary
from .thumbnail import thumbnail_view

# name -> view of (rgb pixels, original file bytes or None, ELA quality)
VIEWS: dict[str, Callable[[np.ndarray, bytes | None, int], dict[str, Any]]] = {
    "ela": lambda rgb, raw, q: ela_view(rgb, q),
    "spectrum": lambda rgb, raw, q: spectrum_summary(rgb),
    "noise": lambda rgb, raw, q: noise_view(rgb),
    "jpeg": lambda rgb, raw, q: jpeg_tables_view(raw),
    "double_jpeg": lambda rgb, raw, q: {"image": None, **double_jpeg(raw)},
    "ghost": lambda rgb, raw, q: ghost_view(rgb),
    "copy_move": lambda rgb, raw, q: copy_move_view(rgb),
    "thumbnail": lambda rgb, raw, q: thumbnail_view(raw),
}


def forensic_views(image: Any, quality: int = 90, views: Iterable[str] | None = None) -> dict[str, Any]:
    """The views named in ``views`` (default all of :data:`VIEWS`, in that order) of ``image``.

    Numbers: ``ela`` (``ela_mean``/``ela_max``, 0..255 units), ``spectrum``
    (``high_freq_ratio``, ``spectral_peakiness``), ``noise`` (``noise_std``), ``jpeg`` (tables,
    estimated quality, encoder, subsampling, progressive), ``double_jpeg`` (double save and
    earlier quality), ``ghost`` (error curve, ghost qualities), ``copy_move`` (cloned regions),
    ``thumbnail`` (EXIF thumbnail against the image). File-based views need the original bytes
    (a path, bytes or :class:`~synthcheck.imageio.LoadedImage`); pixel inputs say so.
    """
    names = list(VIEWS) if views is None else list(views)
    unknown = [n for n in names if n not in VIEWS]
    if unknown:
        raise ValueError(f"unknown forensic view {unknown[0]!r}; choose from {', '.join(VIEWS)}")
    loaded = as_loaded(image)
    rgb = np.asarray(loaded.image, dtype=np.uint8)
    return {name: VIEWS[name](rgb, loaded.raw, int(quality)) for name in names}
