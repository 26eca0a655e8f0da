"""Classical forensic views beside the model (no model needed): one module per view.

Pure functions from an image (anything :func:`synthcheck.imageio.load_image` accepts, a
:class:`~synthcheck.imageio.LoadedImage`, a PIL image or an HxW[x3] array) to numpy arrays and
numbers, at the image's own resolution, not the model's. :func:`forensic_views` gathers them
for reports, the CLI and the dashboard.

- ``ela``: error level analysis; ``spectrum``: Fourier spectrum; ``noise``: noise residual.
- ``jpeg_tables``: quantisation tables, IJG quality, subsampling, progressive.
- ``double_jpeg``: double compression from DCT histograms; ``ghost``: JPEG ghost maps.
- ``copy_move``: cloned regions by keypoint matching; ``thumbnail``: EXIF thumbnail vs image.
- ``region``: crop, zoom and the model's conclusion on a crop; ``compare``: difference of two.
"""

from __future__ import annotations

from ..imageio import as_loaded
from .compare import difference_map
from .copy_move import copy_move_view, detect_copy_move, draw_copy_move
from .double_jpeg import double_jpeg
from .ela import ela_difference, ela_view, error_level_analysis, stretch
from .ghost import ghost_mosaic, ghost_view, jpeg_ghost
from .images import as_rgb_array, enlarge_to, fit_size, jpeg_roundtrip, luminance, upscale_nearest
from .jpeg_tables import estimate_quality, jpeg_structure, jpeg_tables_view
from .noise import noise_residual, noise_view, residual_view
from .region import Box, crop, locator, roi_analysis, zoom
from .spectrum import azimuthal_average, fourier_spectrum, spectrum_summary, spectrum_view
from .thumbnail import exif_thumbnail, thumbnail_check, thumbnail_view
from .views import VIEWS, forensic_views

__all__ = [
    "VIEWS", "Box", "as_loaded", "as_rgb_array", "azimuthal_average", "copy_move_view",
    "crop", "detect_copy_move", "difference_map", "double_jpeg", "draw_copy_move", "ela_difference",
    "ela_view", "error_level_analysis", "estimate_quality", "exif_thumbnail", "fit_size",
    "forensic_views", "fourier_spectrum", "ghost_mosaic", "ghost_view",
    "jpeg_ghost", "jpeg_roundtrip", "jpeg_structure", "jpeg_tables_view", "locator", "luminance",
    "noise_residual", "noise_view", "residual_view", "roi_analysis",
    "spectrum_summary", "spectrum_view", "stretch", "thumbnail_check", "thumbnail_view",
    "enlarge_to", "upscale_nearest", "zoom",
]
