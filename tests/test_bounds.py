"""Bounded memory and time (issue 18, item 6): the decode lookahead's pixel budget, images
reduced in the decode thread with the same results, heavy API decodes off the event loop and
bounded, progress bars only on a terminal, and the server's header-read timeout."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthcheck.imageio import LoadedImage
from synthcheck.inference import decoding

REPO = Path(__file__).resolve().parent.parent


def _fake_loaded(name: str, side: int = 1000) -> LoadedImage:
    img = Image.new("RGB", (side, side))
    return LoadedImage(img, name, None, None, "PNG", "RGB", side, side)


def test_lookahead_never_holds_more_than_its_pixel_budget(monkeypatch) -> None:
    """Decoders race ahead of a slow caller, but stop once the untaken results hold the budget."""
    lock = threading.Lock()
    made, taken, peaks = [0], [0], []

    def fake_load(source, **kw):
        with lock:
            made[0] += 1
            peaks.append(made[0] - taken[0])  # images alive and not yet taken, this one included
        return _fake_loaded(str(source))

    monkeypatch.setattr(decoding, "load_image", fake_load)
    names = [f"img{i}" for i in range(40)]
    got = []
    for out in decoding.load_many(((n, None) for n in names), budget_px=3_000_000):
        time.sleep(0.01)  # a slow caller: without the budget all LOOKAHEAD inputs get decoded
        with lock:
            taken[0] += 1
        got.append(out.name)
    assert got == names  # in input order, every one
    # under 3 Mpx held when a decode starts (2 images), plus one per decode thread, plus this one
    assert max(peaks) <= 3 + decoding.DECODE_THREADS
    assert max(peaks) < decoding.LOOKAHEAD


def test_inputs_ahead_are_not_decoded_once_the_caller_stops(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(decoding, "load_image", lambda s, **kw: calls.append(s) or _fake_loaded(s, 8))
    it = decoding.load_many((f"x{i}", None) for i in range(200))
    next(it)
    it.close()
    time.sleep(0.2)
    assert len(calls) <= decoding.LOOKAHEAD + 1


def test_reduce_runs_in_the_decode_thread_and_its_bug_is_raised_as_is(monkeypatch) -> None:
    monkeypatch.setattr(decoding, "load_image", lambda s, **kw: _fake_loaded(s, 8))
    threads = []
    outs = list(decoding.load_many([("a", None), ("b", None)],
                                   reduce=lambda lo: threads.append(threading.current_thread().name)
                                   or lo.name))
    assert outs == ["a", "b"] and all(t.startswith("synthcheck-decode") for t in threads)

    def bug(lo):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        list(decoding.load_many([("a", None)], reduce=bug))


def _photo(w: int, h: int, seed: int = 0, fmt: str = "JPEG") -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(1, h // 16), max(1, w // 16), 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


SIZES = [(1999, 1333, "JPEG"), (3001, 211, "PNG"), (257, 1200, "JPEG"), (300, 300, "PNG"),
         (40, 40, "PNG"), (512, 255, "JPEG")]


def test_reduced_images_give_the_same_analysis(tiny_detector, monkeypatch) -> None:
    """keep_images=False reduces each image in its decode thread (the model's view and the
    domain check's copy only), and every record is the same as from the full image."""
    from synthcheck import analysis
    from synthcheck.analysis import AnalysisOptions, iter_analyze

    flat = Image.new("RGB", (900, 700), (200, 30, 30))
    buf = io.BytesIO()
    flat.save(buf, "PNG")
    sources = [(f"{w}x{h}.{fmt.lower()}", _photo(w, h, i, fmt)) for i, (w, h, fmt) in enumerate(SIZES)]
    sources.append(("flat.png", buf.getvalue()))
    opts = AnalysisOptions()
    full = [a.to_record() for a in iter_analyze(sources, tiny_detector, opts, keep_images=True)]
    seen: list[tuple[int, int]] = []
    real_build = analysis.build_analyses

    def spy(items, verdicts, detector, options):
        seen.extend(loaded.image.size for _, loaded in items)
        return real_build(items, verdicts, detector, options)

    monkeypatch.setattr(analysis, "build_analyses", spy)
    reduced = [a.to_record() for a in iter_analyze(sources, tiny_detector, opts, keep_images=False)]
    assert reduced == full
    assert max(max(s) for s in seen) <= 256  # no full image reached the analysis
    assert any(r["domain_reasons"] for r in full)  # the domain check had something to say


def test_analysis_view_keeps_the_original_facts(tiny_detector) -> None:
    from synthcheck.imageio import load_image

    loaded = load_image(_photo(1200, 800))
    small, view = decoding.analysis_view(loaded, tiny_detector)
    assert (small.width, small.height, small.sha256, small.raw) == (1200, 800, loaded.sha256, loaded.raw)
    assert small.image.size == (256, 171) and view.shape == (32, 32, 3)
    assert np.array_equal(view, tiny_detector.to_array(loaded))


# ---- API: heavy decodes off the event loop, bounded ----------------------------------------


def _big_png(side: int = 2500) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (90, 120, 150)).save(buf, "PNG")
    return buf.getvalue()  # small file, millions of pixels: a heavy decode


def test_heavy_decodes_leave_health_fast_and_are_bounded(tiny_detector, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from synthcheck.api import service
    from synthcheck.api.config import Settings
    from synthcheck.api.main import create_app

    release, lock = threading.Event(), threading.Lock()
    running, peak = [0], [0]
    real_load = service.load_image

    def slow_load(data, **kw):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            release.wait(10)  # blocks whichever thread decodes: must not be the event loop
            return real_load(data, **kw)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(service, "load_image", slow_load)
    png = _big_png()
    settings = Settings(heavy_pixels=1_000_000, heavy_decodes=2)
    with TestClient(create_app(settings, detector=tiny_detector)) as client:
        codes: list[int] = []

        def upload() -> None:  # tiles: the full image is kept, so it decodes in a thread
            r = client.post("/v1/verify?tiles=true", files=[("files", ("big.png", png, "image/png"))])
            codes.append(r.status_code)

        uploads = [threading.Thread(target=upload) for _ in range(4)]
        for t in uploads:
            t.start()
        deadline = time.monotonic() + 10
        while running[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time for the other two uploads to reach their decode
        health: list[int] = []
        probe = threading.Thread(target=lambda: health.append(client.get("/v1/health").status_code))
        probe.start()
        probe.join(5)
        answered_while_decoding = health == [200] and not release.is_set()
        release.set()
        for t in uploads:
            t.join(30)
        probe.join(10)
    assert answered_while_decoding
    assert peak[0] == 2  # 4 heavy uploads at once, 2 decode slots
    assert codes == [200] * 4


def test_heavy_uploads_decode_in_a_worker_process_with_the_same_record(tiny_detector) -> None:
    from fastapi.testclient import TestClient

    from synthcheck.api.config import Settings
    from synthcheck.api.main import create_app

    files = [("files", ("big.png", _big_png(1500), "image/png"))]
    records = []
    for heavy_pixels in (10**9, 1_000_000):  # a thread, then a worker process
        app = create_app(Settings(heavy_pixels=heavy_pixels), detector=tiny_detector)
        with TestClient(app) as client:
            r = client.post("/v1/verify", files=files)
            assert r.status_code == 200
            records.append(r.json())
            pool = client.app_state["heavy_decoder"]._pool  # the lifespan's, shared by requests
            assert (pool is not None and len(pool._processes) > 0) == (heavy_pixels == 1_000_000)
    assert records[0] == records[1]


def test_light_uploads_decode_off_the_event_loop(tiny_detector, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from synthcheck.api import service
    from synthcheck.api.config import Settings
    from synthcheck.api.main import create_app

    where: list[bool] = []
    real_load = service.load_image

    def spy(data, **kw):
        try:
            asyncio.get_running_loop()
            where.append(True)
        except RuntimeError:
            where.append(False)
        return real_load(data, **kw)

    monkeypatch.setattr(service, "load_image", spy)
    with TestClient(create_app(Settings(), detector=tiny_detector)) as client:
        r = client.post("/v1/verify", files=[("files", ("a.png", _photo(32, 32, fmt="PNG"), "image/png"))])
    assert r.status_code == 200 and where == [False]


def test_release_memory_works_on_glibc() -> None:
    from synthcheck.inference.decoding import release_memory

    if not os.path.exists("/lib/x86_64-linux-gnu/libc.so.6") and sys.platform != "linux":
        pytest.skip("malloc_trim is glibc's")  # never on this project's Linux CI
    assert release_memory() is True


# ---- progress bars: on a terminal, and nowhere else ----------------------------------------


def _predict(tmp_path: Path, stderr_tty: bool) -> tuple[str, str]:
    files = []
    for i in range(3):
        p = tmp_path / f"p{i}.png"
        p.write_bytes(_photo(32, 32, i, "PNG"))
        files.append(str(p))
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    cmd = [sys.executable, "-m", "synthcheck", "predict", "--json", *files]
    if not stderr_tty:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
        return out.stdout, out.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env, text=True)
    os.close(slave)
    err = b""
    while True:
        try:
            block = os.read(master, 4096)
        except OSError:  # the child closed its end
            break
        if not block:
            break
        err += block
    out = proc.communicate(timeout=120)[0]
    os.close(master)
    return out, err.decode("utf-8", "replace")


def test_predict_shows_a_bar_on_a_terminal_only(tmp_path) -> None:
    out, err = _predict(tmp_path, stderr_tty=True)
    assert len(json.loads(out)) == 3  # stdout is still the JSON alone
    assert "predict" in err and "3/3" in err
    out, err = _predict(tmp_path, stderr_tty=False)
    assert len(json.loads(out)) == 3 and err == ""


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_helper_bar_and_final_line() -> None:
    from synthcheck.progress import Progress

    tty = _Tty()
    with Progress("report images", stream=tty) as p:
        p(0, 4)
        p(4, 4)
    assert "report images" in tty.getvalue() and "4/4" in tty.getvalue()
    pipe = io.StringIO()
    with Progress("analysed", stream=pipe, final_line=True) as p:
        p(1, 3)
        p(3, 3)
    assert pipe.getvalue() == "analysed: 3/3\n"  # one line at the end, no bar
    pipe = io.StringIO()
    with Progress("predict", 3, stream=pipe) as p:
        p(3)
    assert pipe.getvalue() == ""


# ---- header-read timeout ---------------------------------------------------------------------


@pytest.fixture
def live_server(tiny_detector):
    import uvicorn

    from synthcheck.api.config import Settings
    from synthcheck.api.header_timeout import header_timeout_protocol
    from synthcheck.api.main import create_app

    config = uvicorn.Config(create_app(Settings(), detector=tiny_detector), host="127.0.0.1",
                            port=0, log_level="error", http=header_timeout_protocol(0.5))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield port
    server.should_exit = True
    thread.join(10)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except TimeoutError:
        return False


def _get_health(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while block := s.recv(4096):
            data += block
    return data


def test_half_sent_requests_are_closed_and_others_still_work(live_server) -> None:
    port = live_server
    silent = socket.create_connection(("127.0.0.1", port))
    half = socket.create_connection(("127.0.0.1", port))
    half.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # no blank line: headers never end
    assert _get_health(port).startswith(b"HTTP/1.1 200")  # meanwhile, a whole request works
    assert _closed_within(half, 3) and _closed_within(silent, 3)
    # on a kept-alive connection, half of the next request is cut too
    kept = socket.create_connection(("127.0.0.1", port))
    kept.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    kept.settimeout(5)
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    kept.sendall(b"GET /v1/hea")
    assert _closed_within(kept, 3)
    for s in (silent, half, kept):
        s.close()


def test_serve_uses_the_header_timeout(monkeypatch, tiny_detector) -> None:
    import uvicorn

    from synthcheck.cli import main
    from synthcheck.inference import Detector

    seen = {}
    monkeypatch.setattr(Detector, "from_checkpoint", classmethod(lambda cls, *a, **k: tiny_detector))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    assert main(["serve", "--header-timeout", "2.5"]) == 0
    assert seen["http"].header_timeout_s == 2.5 and seen["http"].__name__ == "HeaderTimeoutProtocol"
