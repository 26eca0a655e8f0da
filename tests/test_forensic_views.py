"""The investigator's forensic views on images made here whose answer is known: JPEG tables at
known qualities, double saves, JPEG ghosts, cloned regions, EXIF thumbnails from another
picture, a region-of-interest score and a side-by-side compare."""

from __future__ import annotations

import base64
import io
import json
import struct

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from synthcheck import forensics as fx
from synthcheck.forensics.jpeg_tables import IJG, NON_STANDARD


def jpeg(img: np.ndarray | Image.Image, quality: int = 90, **kw) -> bytes:
    buf = io.BytesIO()
    (img if isinstance(img, Image.Image) else Image.fromarray(img)).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def decode(raw: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def twice(rgb: np.ndarray, q1: int, q2: int) -> bytes:
    return jpeg(decode(jpeg(rgb, q1)), q2)


# -- JPEG tables --------------------------------------------------------------------------
@pytest.mark.parametrize("quality", [5, 23, 50, 64, 75, 88, 95, 100])
def test_ijg_quality_is_recovered_from_the_tables(quality: int) -> None:
    s = fx.jpeg_structure(jpeg(skdata.chelsea(), quality))
    assert s["is_jpeg"] and abs(s["quality"] - quality) <= 1
    assert s["standard"] and s["chroma_standard"] and s["encoder"] == IJG
    assert len(s["tables"]["0"]) == 64 and len(s["tables"]["1"]) == 64


@pytest.mark.parametrize(("sub", "name"), [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_subsampling_and_progressive(sub: int, name: str) -> None:
    s = fx.jpeg_structure(jpeg(skdata.coffee(), 80, subsampling=sub, progressive=sub == 1))
    assert s["subsampling"] == name and s["progressive"] is (sub == 1)
    grey = fx.jpeg_structure(jpeg(Image.fromarray(skdata.camera()), 80))
    assert grey["components"] == 1 and grey["subsampling"].startswith("none") and grey["quality"] == 80


def test_non_standard_tables_are_named_so_with_a_nearby_estimate() -> None:
    luma = fx.jpeg_structure(jpeg(skdata.coffee(), 80))["tables"]["0"]
    odd = [min(255, v + (i % 3)) for i, v in enumerate(luma)]  # not a scaled IJG table
    buf = io.BytesIO()
    Image.fromarray(skdata.coffee()).save(buf, "JPEG", qtables=[odd, odd])  # no quality: kept as is
    s = fx.jpeg_structure(buf.getvalue())
    assert not s["standard"] and s["encoder"] == NON_STANDARD and 70 <= s["quality"] <= 80
    assert s["tables"]["0"] == odd


def test_non_jpeg_inputs_say_why() -> None:
    buf = io.BytesIO()
    Image.fromarray(skdata.coffee()).save(buf, "PNG")
    assert fx.jpeg_structure(buf.getvalue()) == {"is_jpeg": False, "note": "not a JPEG (PNG file)"}
    assert not fx.jpeg_structure(None)["is_jpeg"]
    assert not fx.jpeg_structure(b"\xff\xd8 garbage")["is_jpeg"]


# -- double compression -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_double_save_is_found_with_its_earlier_quality(name: str) -> None:
    rgb = getattr(skdata, name)()
    single = fx.double_jpeg(jpeg(rgb, 70))
    assert single["applicable"] and not single["double"] and single["earlier_quality"] is None
    down = fx.double_jpeg(twice(rgb, 90, 70))  # earlier save at a higher quality: the hard case
    assert down["double"] and abs(down["earlier_quality"] - 90) <= 4
    assert down["ratio"] < single["ratio"]
    up = fx.double_jpeg(twice(rgb, 70, 90))
    assert up["double"] and abs(up["earlier_quality"] - 70) <= 4


def test_double_jpeg_not_applicable() -> None:
    assert not fx.double_jpeg(None)["applicable"]
    assert "too small" in fx.double_jpeg(jpeg(skdata.coffee()[:40, :40]))["note"]


# -- JPEG ghosts --------------------------------------------------------------------------
def test_ghost_marks_a_region_saved_earlier_at_a_lower_quality() -> None:
    rgb = skdata.astronaut()
    forged = rgb.copy()
    forged[96:256, 192:352] = fx.jpeg_roundtrip(rgb, 60)[96:256, 192:352]  # a q60 region pasted in
    g = fx.jpeg_ghost(decode(jpeg(forged, 90)))
    assert g["min_quality"] == 90
    m60 = g["maps"][60]  # 16 px tiles: the region is tiles 6..15 x 12..21
    inside, outside = m60[7:15, 13:21].mean(), np.delete(m60, np.s_[5:17], axis=0).mean()
    assert inside < 0.2 * outside
    assert 60 in [q for q, _ in g["ghosts"]]
    clean = fx.jpeg_ghost(decode(jpeg(rgb, 90)))
    assert 60 not in [q for q, _ in clean["ghosts"]]
    view = fx.ghost_view(decode(jpeg(forged, 90)))
    assert view["image"].dtype == np.uint8 and max(view["image"].shape[:2]) <= 1000
    with pytest.raises(ValueError):
        fx.jpeg_ghost(rgb, qualities=[0, 50])


# -- copy-move ----------------------------------------------------------------------------
def clone(rgb: np.ndarray, src: tuple[int, int], dst: tuple[int, int], size: int, rot: int = 0) -> np.ndarray:
    out = rgb.copy()
    patch = rgb[src[1]:src[1] + size, src[0]:src[0] + size]
    out[dst[1]:dst[1] + size, dst[0]:dst[0] + size] = np.rot90(patch, rot)
    return out


def overlaps(box: list[int], x: int, y: int, size: int) -> bool:
    bx, by, bw, bh = box
    return bx < x + size and x < bx + bw and by < y + size and y < by + bh


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_clean_photos_have_no_clone(name: str) -> None:
    assert fx.detect_copy_move(decode(jpeg(getattr(skdata, name)(), 90)))["clones"] == []


@pytest.mark.parametrize(("name", "src", "dst", "size"), [
    ("astronaut", (120, 100), (360, 330), 100), ("coffee", (110, 80), (420, 250), 90),
    ("chelsea", (80, 60), (300, 180), 80)])
def test_a_cloned_region_is_found_with_its_offset(name, src, dst, size) -> None:
    forged = decode(jpeg(clone(getattr(skdata, name)(), src, dst, size), 92))
    res = fx.detect_copy_move(forged)
    assert len(res["clones"]) == 1
    c = res["clones"][0]
    assert abs(c["offset"][0] - (dst[0] - src[0])) <= 3 and abs(c["offset"][1] - (dst[1] - src[1])) <= 3
    assert overlaps(c["source"], *src, size) and overlaps(c["target"], *dst, size)
    assert c["matches"] >= 8 and abs(c["rotation_deg"]) < 2 and abs(c["scale"] - 1) < 0.05
    again = fx.detect_copy_move(forged)  # deterministic (reports are digested)
    assert again["clones"] == res["clones"] and np.array_equal(again["pairs"][0], res["pairs"][0])


def test_a_rotated_clone_is_found_and_large_images_work_on_a_smaller_copy() -> None:
    res = fx.detect_copy_move(clone(skdata.astronaut(), (120, 100), (360, 330), 100, rot=1))
    assert len(res["clones"]) == 1 and abs(abs(res["clones"][0]["rotation_deg"]) - 90) < 3
    big = np.kron(clone(skdata.coffee(), (110, 80), (420, 250), 90), np.ones((3, 3, 1), np.uint8))
    res = fx.detect_copy_move(big, max_side=900)
    assert res["scale"] == 0.5 and len(res["clones"]) == 1
    assert overlaps(res["clones"][0]["target"], 420 * 3, 250 * 3, 90 * 3)  # boxes in full-size pixels
    pic = fx.draw_copy_move(big, res)
    assert max(pic.shape[:2]) == 1024 and (pic != fx.fit_size(big, 1024)).any()


def test_copy_move_view_is_json_ready() -> None:
    view = fx.copy_move_view(clone(skdata.chelsea(), (80, 60), (300, 180), 80))
    assert view["n_clones"] == 1 and "pairs" not in view
    json.dumps({k: v for k, v in view.items() if k != "image"})


# -- EXIF thumbnail -----------------------------------------------------------------------
def exif_with_thumbnail(thumb: bytes) -> bytes:
    """An APP1 EXIF payload whose IFD1 points at ``thumb`` (Pillow writes no IFD1 itself)."""
    entry = lambda tag, typ, value: struct.pack("<HHII", tag, typ, 1, value)  # noqa: E731
    ifd0 = struct.pack("<H", 1) + entry(0x0112, 3, 1)  # Orientation = 1
    ifd1_at = 8 + len(ifd0) + 4
    thumb_at = ifd1_at + 2 + 3 * 12 + 4
    ifd1 = (struct.pack("<H", 3) + entry(0x0103, 3, 6) + entry(0x0201, 4, thumb_at)
            + entry(0x0202, 4, len(thumb)) + struct.pack("<I", 0))
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + struct.pack("<I", ifd1_at) + ifd1 + thumb


def thumb_of(rgb: np.ndarray) -> bytes:
    t = Image.fromarray(rgb)
    t.thumbnail((160, 120))
    return jpeg(t, 80)


def test_thumbnail_from_another_picture_differs() -> None:
    main = skdata.astronaut()
    own, other = thumb_of(main), thumb_of(skdata.coffee())
    raw = jpeg(main, 90, exif=exif_with_thumbnail(other))
    assert fx.exif_thumbnail(raw) == other
    r = fx.thumbnail_check(raw)
    assert r["status"] == "differs" and r["ssim"] < 0.3 and "differs from the image" in r["message"]
    same = fx.thumbnail_check(jpeg(main, 80, exif=exif_with_thumbnail(own)))
    assert same["status"] == "matches" and same["ssim"] > 0.85
    edited = main.copy()
    edited[300:420, 60:200] = skdata.coffee()[:120, :140]  # pasted in after the camera
    local = fx.thumbnail_check(jpeg(edited, 90, exif=exif_with_thumbnail(own)))
    assert local["status"] == "differs" and local["largest_local_diff"] > 48
    view = fx.thumbnail_view(raw)
    assert view["image"].shape == (107, 3 * 160 + 8, 3) and view["status"] == "differs"


def test_no_or_broken_thumbnail_is_said_plainly() -> None:
    assert fx.thumbnail_check(jpeg(skdata.coffee()))["status"] == "no_thumbnail"
    assert fx.thumbnail_view(None)["image"] is None
    broken = exif_with_thumbnail(thumb_of(skdata.coffee()))[:-40]  # thumbnail cut short
    assert fx.exif_thumbnail(jpeg(skdata.coffee(), exif=broken)) is None


# -- regions, zoom, ROI score, compare ---------------------------------------------------
def test_box_crop_zoom_and_locator() -> None:
    rgb = skdata.coffee()
    assert fx.Box(-5, 390, 100, 100).clamped(600, 400) == fx.Box(0, 390, 100, 10)
    assert fx.crop(rgb, fx.Box(10, 20, 30, 40)).shape == (40, 30, 3)
    assert np.array_equal(fx.crop(rgb, fx.Box(10, 20, 30, 40)), rgb[20:60, 10:40])
    z = fx.zoom(rgb[:4, :4], 4)
    assert z.shape == (16, 16, 3) and np.array_equal(z[::4, ::4], rgb[:4, :4])
    with pytest.raises(ValueError):
        fx.zoom(rgb, 0)
    loc = fx.locator(rgb, fx.Box(0, 0, 300, 200), 300)
    assert loc.shape == (200, 300, 3) and tuple(loc[50, 0]) == (255, 0, 0) != tuple(loc[50, 160])


def test_roi_score_is_the_one_analysis_of_the_crop(default_detector) -> None:
    from synthcheck.analysis import AnalysisOptions, analyze_one

    photo = jpeg(skdata.astronaut(), 90)
    box = fx.Box(100, 50, 32, 32)
    opts = AnalysisOptions(threshold=0.4)
    a = fx.roi_analysis(photo, box, default_detector, opts, name="astro.jpg")
    assert a.ok and a.name == "astro.jpg [crop x=100, y=50, 32x32 px]"
    assert (a.loaded.width, a.loaded.height) == (32, 32)
    direct = analyze_one(decode(photo)[50:82, 100:132], default_detector, opts)
    assert (a.p_fake, a.conclusion, a.threshold) == (direct.p_fake, direct.conclusion, 0.4)
    big = fx.roi_analysis(photo, fx.Box(0, 0, 400, 400), default_detector, opts)
    assert big.conclusion == "cannot_assess"  # a big crop is still out of the model's domain


def test_difference_map_of_two_images() -> None:
    a = skdata.coffee()
    b = a.copy()
    b[100:150, 200:260] = 255 - b[100:150, 200:260]
    d = fx.difference_map(a, b)
    assert d["same_size"] and d["changed_box"] == [200, 100, 60, 50]
    assert 0 < d["changed_share"] < 0.02 and d["ssim"] < 1 and d["image"].max() == 255
    same = fx.difference_map(a, a.copy())
    assert same["changed_share"] == 0 and same["changed_box"] is None and same["ssim"] == 1.0
    other = fx.difference_map(a, skdata.chelsea())
    assert not other["same_size"] and other["image"] is None and "600 x 400 px against 451 x 300 px" in other["note"]


# -- all views together and in the report -------------------------------------------------
def test_forensic_views_all_and_subset() -> None:
    raw = jpeg(clone(skdata.chelsea(), (80, 60), (300, 180), 80), 85)
    views = fx.forensic_views(raw)
    assert list(views) == list(fx.VIEWS)
    numbers = {k: {kk: vv for kk, vv in v.items() if kk != "image"} for k, v in views.items()}
    json.dumps(numbers)
    assert numbers["jpeg"]["quality"] == 85 and numbers["copy_move"]["n_clones"] == 1
    assert numbers["thumbnail"]["status"] == "no_thumbnail" and views["jpeg"]["image"] is None
    pixels = fx.forensic_views(decode(raw), views=["jpeg", "ela"])
    assert list(pixels) == ["jpeg", "ela"] and not pixels["jpeg"]["is_jpeg"]
    with pytest.raises(ValueError, match="unknown forensic view"):
        fx.forensic_views(raw, views=["ela", "magic"])


def test_report_carries_the_new_views(default_detector, tmp_path, monkeypatch) -> None:
    from synthcheck.reporting.build import build_report
    from synthcheck.reporting.html import render_html

    monkeypatch.setenv("SYNTHCHECK_HOME", str(tmp_path))
    raw = jpeg(clone(skdata.chelsea(), (80, 60), (300, 180), 80), 85,
               exif=exif_with_thumbnail(thumb_of(skdata.coffee())))
    rep = build_report([("forged.jpg", raw)], default_detector, methods=[])
    fz = rep["images"][0]["forensics"]
    assert fz["copy_move"]["n_clones"] == 1 and fz["thumbnail"]["status"] == "differs"
    assert fz["jpeg"]["quality"] == 85 and fz["jpeg"]["picture"] is None
    for name in ("copy_move", "ghost", "thumbnail"):
        assert Image.open(io.BytesIO(base64.b64decode(fz[name]["picture"]))).format == "PNG"
    html = render_html(rep)
    for text in ("1 cloned region(s)", "Quantisation table 0", "estimated quality 85",
                 "JPEG ghosts", "differs from the image", "no sign of an earlier JPEG save"):
        assert text in html
    again = build_report([("forged.jpg", raw)], default_detector, methods=[])
    assert again["results_digest"] == rep["results_digest"]
