"""REST API contract: TestClient on a tiny untrained model, plus one live uvicorn server."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from synthcheck.analysis import records
from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from synthcheck.bands import DEFAULT_THRESHOLD, decide
from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.explain.metrics.verdicts import CALLS
from synthcheck.inference import Detector
from synthcheck.models import create_model

PREDICT_KEYS = {"path", "sha256", "verdict", "p_fake", "model"}


def tiny_detector() -> Detector:
    m = create_model("synthcnn_small")
    return Detector(m, build_checkpoint(m))


def encode(fmt: str = "JPEG", size: tuple[int, int] = (32, 32), seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def cli_records(detector: Detector, data: bytes, name: str) -> dict:
    """What ``synthcheck predict --json`` prints for these bytes."""
    return records([(name, data)], detector, names=[name])[0]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return tiny_detector()


@pytest.fixture(scope="module")
def client(detector: Detector):
    settings = Settings(max_upload_mb=0.25, max_files=8)
    with TestClient(create_app(settings, detector=detector)) as c:
        yield c


def upload(client: TestClient, *parts: tuple[str, bytes, str], params: dict | None = None):
    return client.post("/v1/verify", files=[("files", p) for p in parts], params=params)


def test_verify_single_image_matches_predict_contract(client: TestClient, detector: Detector) -> None:
    data = encode()
    r = upload(client, ("cat.jpg", data, "image/jpeg"))
    assert r.status_code == 200
    (row,) = r.json()
    assert set(row) >= PREDICT_KEYS | {"band", "in_domain", "domain_reasons", "advisories"}
    assert row == cli_records(detector, data, "cat.jpg")  # the very object predict --json prints
    assert row["path"] == "cat.jpg"
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["model"] == detector.model_name
    expected = detector.predict([data])[0]
    assert row["threshold"] == DEFAULT_THRESHOLD  # the server's default threshold, printed
    assert row["verdict"] == decide(expected.p_fake, row["threshold"])
    assert row["p_fake"] == pytest.approx(expected.p_fake, abs=1e-5)


def test_verify_several_files_keeps_order_and_reports_bad_ones(client: TestClient) -> None:
    r = upload(client, ("a.png", encode("PNG", seed=1), "image/x-png"),
               ("broken.jpg", encode()[:40], "image/jpeg"),
               ("c.webp", encode("WEBP", (50, 20), seed=2), "application/octet-stream"))
    assert r.status_code == 200
    rows = r.json()
    assert [row["path"] for row in rows] == ["a.png", "broken.jpg", "c.webp"]
    assert set(rows[0]) >= PREDICT_KEYS and set(rows[2]) >= PREDICT_KEYS
    assert set(rows[1]) == {"path", "error"} and "corrupt" in rows[1]["error"]


@pytest.mark.parametrize("payload", [b"this is not an image", b"", encode()[:60]])
def test_corrupt_only_upload_is_422_json(client: TestClient, payload: bytes) -> None:
    r = upload(client, ("x.jpg", payload, "image/jpeg"))
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and body["error"]
    assert body["results"][0]["path"] == "x.jpg" and "error" in body["results"][0]


def test_wrong_type_is_415(client: TestClient) -> None:
    r = upload(client, ("notes.txt", b"hello", "text/plain"))
    assert r.status_code == 415 and "not accepted" in r.json()["error"]
    r = client.post("/v1/verify", json={"image": "abc"})
    assert r.status_code == 415 and r.json()["status"] == 415
    # an allowed declared type but content in a format outside the allowed list
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="ICO")
    r = upload(client, ("x.ico", buf.getvalue(), "application/octet-stream"))
    assert r.status_code == 415


def test_oversized_upload_is_413(client: TestClient) -> None:
    big = encode("PNG", (400, 400))  # ~480 kB of noise > 0.25 MB
    r = upload(client, ("big.png", big, "image/png"))
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_oversized_chunked_upload_is_413(client: TestClient) -> None:
    """No Content-Length: the streaming byte count stops it."""
    boundary = "synthcheckboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"b.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(40):
            yield b"\0" * 16384
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/v1/verify", content=body(),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["status"] == 413


def test_too_many_files_and_no_files(client: TestClient) -> None:
    parts = [(f"{i}.jpg", encode(seed=i), "image/jpeg") for i in range(9)]
    assert upload(client, *parts).status_code == 413
    r = client.post("/v1/verify", files={"other": ("a.jpg", encode(), "image/jpeg")})
    assert 400 <= r.status_code < 500 and "error" in r.json()


def test_concurrent_requests_are_batched(detector: Detector) -> None:
    settings = Settings(batch_max_wait_ms=20)
    images = [encode(seed=i) for i in range(48)]
    expected = [round(v.p_fake, 6) for v in detector.predict(images)]
    with TestClient(create_app(settings, detector=detector)) as c:
        def one(i: int) -> tuple[int, float]:
            r = c.post("/v1/verify", files={"files": (f"{i}.jpg", images[i], "image/jpeg")})
            assert r.status_code == 200, r.text
            return i, r.json()[0]["p_fake"]

        with ThreadPoolExecutor(12) as pool:
            got = dict(pool.map(one, range(len(images))))
        stats = c.get("/v1/health").json()["batcher"]
    assert [got[i] for i in range(len(images))] == pytest.approx(expected, abs=1e-5)
    assert stats["images"] == len(images)
    assert stats["batches"] < len(images)  # some model calls served several requests


def test_explain_gradcam_adds_png(client: TestClient) -> None:
    r = upload(client, ("a.jpg", encode(), "image/jpeg"), params={"explain": "gradcam"})
    assert r.status_code == 200, r.text
    row = r.json()[0]
    ex = row["explanation"]
    assert ex["method"] == "gradcam" and ex["target"] == row["verdict"]  # the analysis's class
    assert ex["faithfulness_call"] in CALLS and ex["trust_sentence"].startswith("gradcam ")
    png = Image.open(io.BytesIO(base64.b64decode(ex["map_png"])))
    assert png.format == "PNG" and png.size == (32, 32)
    Image.open(io.BytesIO(base64.b64decode(ex["overlay_png"]))).verify()


def test_explain_unknown_method_is_400(client: TestClient) -> None:
    r = upload(client, ("a.jpg", encode(), "image/jpeg"), params={"explain": "lime"})
    assert r.status_code == 400 and "explain" in r.json()["error"]


def test_model_health_openapi_and_404(client: TestClient, detector: Detector) -> None:
    m = client.get("/v1/model").json()
    assert m["name"] == detector.model_name and m["input_size"] == detector.input_size
    assert m["class_names"] == ["REAL", "FAKE"]
    h = client.get("/v1/health").json()
    assert h["status"] == "ok" and "batches" in h["batcher"]
    spec = client.get("/openapi.json").json()
    assert {"/v1/verify", "/v1/model", "/v1/health"} <= set(spec["paths"])
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["status"] == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_uvicorn_server(tmp_path) -> None:
    """``synthcheck serve`` on 127.0.0.1 answers real HTTP requests."""
    import httpx

    m = create_model("synthcnn_small")
    ckpt = tmp_path / "tiny.pt"
    atomic_torch_save(build_checkpoint(m), ckpt)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "synthcheck", "serve", "--port", str(port),
                             "--checkpoint", str(ckpt), "--max-upload-mb", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        data = encode()
        r = httpx.post(f"{base}/v1/verify", files=[("files", ("a.jpg", data, "image/jpeg")),
                                                   ("files", ("b.png", encode("PNG"), "image/png"))])
        assert r.status_code == 200
        rows = r.json()
        assert rows[0]["sha256"] == hashlib.sha256(data).hexdigest() and len(rows) == 2
        big = encode("PNG", (800, 800))
        assert httpx.post(f"{base}/v1/verify", files={"files": ("x.png", big, "image/png")}).status_code == 413
        assert httpx.get(f"{base}/v1/model").json()["sha256"] is not None
    finally:
        proc.terminate()
        proc.wait(10)
