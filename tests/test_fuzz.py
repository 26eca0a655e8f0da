"""Mutation fuzzing of the intake: seeded truncations and byte flips of small images in every
format Pillow writes here, through the loader, ``synthcheck predict --json`` and the API.

Every mutant must become a verdict or one sentence: never a traceback, never a 500.
"""

from __future__ import annotations

import contextlib
import io
import json
import random

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, features

from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.cli import main
from synthcheck.imageio import ImageError, load_image
from synthcheck.inference import Detector
from synthcheck.models import create_model

MUTANTS_PER_SEED = 26
SEED = 20240601


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def seed_images() -> dict[str, bytes]:
    """One small image per supported format (animated ones with three frames), made now."""
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    frames = [Image.fromarray(np.roll(arr, 3 * i, axis=0)) for i in range(3)]
    im = frames[0]
    out = {
        "jpeg": _save(im, "JPEG", quality=90),
        "jpeg_progressive": _save(im, "JPEG", progressive=True),
        "png": _save(im, "PNG"),
        "png_palette": _save(im.convert("P"), "PNG", transparency=0),
        "gif": _save(im, "GIF"),
        "gif_animated": _save(im, "GIF", save_all=True, append_images=frames[1:], duration=40),
        "tiff": _save(im, "TIFF"),
        "tiff_lzw": _save(im, "TIFF", compression="tiff_lzw"),
        "bmp": _save(im, "BMP"),
        "apng": _save(im, "PNG", save_all=True, append_images=frames[1:]),
    }
    if features.check("webp"):
        out["webp"] = _save(im, "WEBP")
        out["webp_lossless"] = _save(im, "WEBP", lossless=True)
    with contextlib.suppress(KeyError, OSError, ValueError):  # when this Pillow cannot write MPO
        out["mpo"] = _save(im, "MPO", save_all=True, append_images=frames[1:])
    if features.check("avif"):
        with contextlib.suppress(KeyError, OSError, ValueError):
            out["avif"] = _save(im, "AVIF")
    return out


def mutants() -> list[tuple[str, bytes]]:
    """(name, bytes): seeded truncations, byte flips and both, per seed image."""
    rnd = random.Random(SEED)
    out = []
    for fmt, data in seed_images().items():
        for i in range(MUTANTS_PER_SEED):
            b = bytearray(data)
            kind = i % 3
            if kind != 1:  # truncate (anywhere, the header included)
                b = b[: rnd.randrange(1, len(b))]
            if kind != 0:  # flip 1-8 bytes
                for _ in range(rnd.randint(1, 8)):
                    b[rnd.randrange(len(b))] = rnd.randrange(256)
            out.append((f"{fmt}_{i:02d}.bin", bytes(b)))
    return out


MUTANTS = mutants()


def test_corpus_covers_the_formats() -> None:
    formats = {name.rsplit("_", 1)[0] for name, _ in MUTANTS}
    assert {"jpeg", "png", "gif_animated", "tiff", "bmp", "apng"} <= formats
    assert 250 <= len(MUTANTS) <= 500


def test_loader_never_lets_an_exception_escape() -> None:
    errors = 0
    for name, data in MUTANTS:
        try:
            loaded = load_image(data, name=name)
        except ImageError as exc:
            errors += 1
            msg = str(exc)
            assert msg.startswith(f"{name}: ") and "\n" not in msg and msg.endswith("."), msg
            assert "Traceback" not in msg and "struct" not in msg, msg
        else:
            assert loaded.image.mode == "RGB" and loaded.image.size[0] >= 1
            assert (loaded.width, loaded.height) == loaded.image.size
    assert errors > len(MUTANTS) // 4  # the fuzzer does break files


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    model = create_model("synthcnn_small")
    path = tmp_path_factory.mktemp("fuzz_ckpt") / "tiny.pt"
    atomic_torch_save(build_checkpoint(model), path)
    return str(path)


def test_cli_predict_json_gives_a_row_per_mutant(tmp_path, capsys, checkpoint) -> None:
    paths = []
    for name, data in MUTANTS:
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(str(p))
    code = main(["predict", "--json", "--checkpoint", checkpoint, *paths])
    out = capsys.readouterr()
    assert code in (0, 2), out.err[-2000:]
    assert "Traceback" not in out.err
    rows = json.loads(out.out)
    assert [r["path"] for r in rows] == paths
    for row in rows:
        if "error" in row:
            assert set(row) == {"path", "error"} and "\n" not in row["error"], row
        else:
            assert row["verdict"] in ("REAL", "FAKE") and 0.0 <= row["p_fake"] <= 1.0, row


def test_api_never_answers_500(checkpoint) -> None:
    detector = Detector.from_checkpoint(checkpoint)
    settings = Settings(max_upload_mb=4, max_files=8)
    with TestClient(create_app(settings, detector=detector)) as client:
        seen = set()
        for name, data in MUTANTS:
            r = client.post("/v1/verify", files=[("files", (name, data, "application/octet-stream"))])
            assert r.status_code < 500, (name, r.status_code, r.text[:300])
            body = r.json()  # always JSON, errors included
            seen.add(r.status_code)
            if r.status_code == 200:
                assert "verdict" in body[0] or "error" in body[0]
            else:
                assert body["status"] == r.status_code and body["error"], body
        # a batch mixing them keeps its order and one row per file
        batch = MUTANTS[:8]
        r = client.post("/v1/verify", files=[("files", (n, d, "application/octet-stream"))
                                             for n, d in batch])
        assert r.status_code < 500
    assert 200 in seen and 422 in seen
