"""Inputs that are not regular files, names that are not UTF-8, bounded reads and API errors."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from synthcheck.checkpoint import build_checkpoint
from synthcheck.cli import main
from synthcheck.imageio import ImageError, load_image, read_bounded
from synthcheck.inference import Detector
from synthcheck.intake import Candidate, Rejection, iter_intake
from synthcheck.models import create_model
from tests.conftest import image_bytes

PNG = image_bytes(np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8))
needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"),
                                 reason="FIFOs and /dev/zero are POSIX")


def _within(seconds: float, fn, *args):
    """``fn(*args)`` in a thread; fails (instead of hanging the suite) past ``seconds``."""
    box: dict = {}

    def run() -> None:
        try:
            box["out"] = fn(*args)
        except BaseException as exc:  # handed back below
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn.__name__} still running after {seconds} s"
    if "exc" in box:
        raise box["exc"]
    return box["out"], time.monotonic() - start


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    root = tmp_path / "evidence"
    root.mkdir()
    (root / "good.png").write_bytes(PNG)
    os.mkfifo(root / "pipe.jpg")
    os.symlink("/dev/zero", root / "zero.jpg")
    return root


@needs_posix
def test_loader_refuses_fifo_and_device_link_by_type(odd_folder: Path) -> None:
    for name, kind in (("pipe.jpg", "FIFO"), ("zero.jpg", "character device")):
        def load(path=odd_folder / name, kind=kind):
            with pytest.raises(ImageError, match=kind) as err:
                load_image(path)
            return str(err.value)

        msg, took = _within(5, load)
        assert took < 1 and "not a regular file" in msg and "\n" not in msg


@needs_posix
def test_intake_folder_with_fifo_and_device_link_does_not_hang(odd_folder: Path) -> None:
    items, took = _within(10, lambda: list(iter_intake([odd_folder])))
    assert took < 2
    good = [i.name for i in items if isinstance(i, Candidate)]
    bad = {i.name: i.reason for i in items if isinstance(i, Rejection)}
    assert good == ["good.png"]
    assert "FIFO" in bad["pipe.jpg"] and "not a regular file" in bad["pipe.jpg"]
    assert "symbolic link" in bad["zero.jpg"]


@needs_posix
def test_intake_paths_named_directly_are_refused_by_type(odd_folder: Path) -> None:
    paths = [odd_folder / "pipe.jpg", odd_folder / "zero.jpg", odd_folder / "good.png"]
    items, _ = _within(10, lambda: list(iter_intake(paths)))
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Rejection", "Rejection", "Candidate"]
    assert "FIFO" in items[0].reason and "character device" in items[1].reason


@needs_posix
def test_cli_predict_refuses_fifo_and_device_link(odd_folder: Path, capsys) -> None:
    paths = [str(odd_folder / n) for n in ("pipe.jpg", "zero.jpg", "good.png")]
    code, _ = _within(60, main, ["predict", "--json", *paths])
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert code == 2 and "Traceback" not in out.err
    assert "FIFO" in rows[0]["error"] and "character device" in rows[1]["error"]
    assert rows[2]["verdict"] in ("REAL", "FAKE")


def test_reads_stop_one_byte_past_the_limit(tmp_path: Path, monkeypatch) -> None:
    """Even when ``stat`` under-reports the size (a file still growing), at most limit+1 bytes
    are read and the file is refused."""
    path = tmp_path / "big.png"
    path.write_bytes(PNG + b"\0" * 10_000)
    real_stat, real_read = os.stat, os.read
    asked = []

    def small_stat(p, *a, **kw):
        st = real_stat(p, *a, **kw)
        return os.stat_result((st.st_mode, *st[1:6], 10, *st[7:]))

    def counting_read(fd, n):
        asked.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(os, "stat", small_stat)
    monkeypatch.setattr(os, "read", counting_read)
    out = read_bounded(path, 1000)
    assert isinstance(out, str) and "over the" in out
    assert sum(asked) <= 1001
    monkeypatch.undo()
    with pytest.raises(ImageError, match="over the"):
        load_image(path, max_bytes=1000)
    assert load_image(path).width == 32  # trailing bytes after IEND are fine


def test_name_that_is_not_utf8_is_escaped_and_handled(tmp_path: Path, capsys) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xff.png"
    try:
        with open(raw, "wb") as f:
            f.write(PNG)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    path = os.fsdecode(raw)  # surrogate-escaped str, what os.listdir gives
    loaded = load_image(path)
    assert loaded.name.endswith("caf\\xff.png") and loaded.width == 32
    loaded.name.encode("utf-8")  # printable and storable
    with pytest.raises(ImageError) as err:
        load_image(path + ".missing")
    str(err.value).encode("utf-8")
    items = list(iter_intake([tmp_path]))
    assert [i.name for i in items] == ["caf\\xff.png"] and isinstance(items[0], Candidate)
    items = list(iter_intake([raw]))  # a bytes path is taken too
    assert isinstance(items[0], Candidate) and items[0].name == "caf\\xff.png"
    assert items[0].data == PNG
    code = main(["predict", "--json", path])
    out = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in out.err
    assert json.loads(out.out)[0]["verdict"] in ("REAL", "FAKE")


class _BrokenDetector(Detector):
    broken = True

    def to_array(self, image):
        if self.broken:
            raise RuntimeError("a bug")
        return super().to_array(image)


def test_api_unexpected_error_is_json_500_and_the_next_request_works() -> None:
    model = create_model("synthcnn_small")
    det = _BrokenDetector(model, build_checkpoint(model))
    with TestClient(create_app(Settings(), detector=det)) as client:  # raises if it escaped
        files = [("files", ("a.png", PNG, "image/png"))]
        r = client.post("/v1/verify", files=files)
        assert r.status_code == 500 and r.headers["content-type"] == "application/json"
        assert r.json() == {"error": "internal error: RuntimeError", "status": 500}
        assert r.headers.get("connection") != "close"
        det.broken = False
        r = client.post("/v1/verify", files=files)
        assert r.status_code == 200 and r.json()[0]["verdict"] in ("REAL", "FAKE")


def test_api_bad_file_is_4xx_json() -> None:
    model = create_model("synthcnn_small")
    with TestClient(create_app(Settings(), detector=Detector(model, build_checkpoint(model)))) as c:
        r = c.post("/v1/verify", files=[("files", ("x.png", PNG[:50], "image/png"))])
        assert r.status_code == 422 and "truncated or corrupt" in r.json()["results"][0]["error"]
