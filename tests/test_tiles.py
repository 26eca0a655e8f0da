"""Tile analysis of large images: bounded work, native pixels, a grid that follows the content."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from synthcheck.imageio import load_image
from synthcheck.tiles import tile_grid


class _LeftIsFake:
    """A stand-in detector: p_fake = mean red value of the patch (so we know the truth)."""

    input_size = 32

    def predict_arrays(self, arrays):
        from synthcheck.inference.base import Scores

        return [Scores(float(a[..., 0].mean() / 255), 0.0, (0.0, 0.0), 32, 32) for a in arrays]


def test_2000x1500_image_bounded_time_and_memory(default_detector):
    rng = np.random.default_rng(0)
    img = load_image(rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8))
    tracemalloc.start()
    t0 = time.perf_counter()
    grid = tile_grid(default_detector, img, max_grid=16)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (grid.rows, grid.cols) == (16, 16) and grid.p_fake.shape == (16, 16)
    assert elapsed < 10 and peak < 200 * 2**20
    assert all(r - left == 32 and b - t == 32 for left, t, r, b in grid.boxes)
    assert grid.boxes[-1][2] == 2000 and grid.boxes[-1][3] == 1500  # reaches the far corner


def test_grid_follows_content_and_uses_native_pixels():
    arr = np.zeros((256, 512, 3), np.uint8)
    arr[:, :256, 0] = 255  # left half "fake"
    grid = tile_grid(_LeftIsFake(), load_image(arr), max_grid=8)
    assert grid.cols == 8 and grid.rows == 8
    assert np.all(grid.p_fake[:, :4] == 1.0) and np.all(grid.p_fake[:, 4:] == 0.0)
    assert grid.share_fake == 0.5 and set(grid.to_dict()) >= {"rows", "cols", "p_fake", "tile_px"}


def test_small_images_have_no_grid(default_detector):
    assert tile_grid(default_detector, load_image(np.zeros((40, 40, 3), np.uint8))) is None


def test_tile_overlay_colours_follow_the_grid():
    from synthcheck.tiles import heat_colour, tile_overlay

    arr = np.zeros((200, 400, 3), np.uint8)
    arr[:, :200, 0] = 255  # left half red -> p_fake 1 from the stand-in detector
    img = load_image(arr)
    grid = tile_grid(_LeftIsFake(), img)
    pic = tile_overlay(img.image, grid, max_side=200)
    assert pic.shape == (100, 200, 3)
    left, right = pic[:, :80].reshape(-1, 3).mean(0), pic[:, 120:].reshape(-1, 3).mean(0)
    assert left[0] > left[2] and right[2] > right[0]  # red cells left, blue cells right
    assert heat_colour(0.0)[2] == 255 and heat_colour(1.0)[0] == 255 and heat_colour(0.5) == (255, 255, 255)
