"""Every entry point survives the hostile corpus: a verdict or one clear sentence, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEFAULT_CHECKPOINT
from tests.hostile_corpus import build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("hostile"))


def _check(case, result: dict) -> None:
    if case.expect == "ok":
        assert "error" not in result, (case.name, result)
        assert result.get("verdict", "REAL") in ("REAL", "FAKE") and 0.0 <= result["p_fake"] <= 1.0
    else:
        msg = result.get("error", "")
        assert msg and "\n" not in msg and "Traceback" not in msg, (case.name, result)
        assert case.phrase in msg, (case.name, msg)


def test_package_predict_many(corpus, default_detector):
    results = default_detector.predict_many([c.path for c in corpus])
    assert len(results) == len(corpus)
    for case, (loaded, verdict, error) in zip(corpus, results, strict=True):
        row = {"error": error} if error else {"p_fake": verdict.p_fake}
        _check(case, row)
        if case.expect == "ok" and case.phrase:
            assert any(case.phrase in n for n in loaded.notes), (case.name, loaded.notes)


@pytest.mark.parametrize("fast", [True, False], ids=["onnx", "torch"])
def test_cli_over_the_corpus(corpus, fast):
    env = dict(os.environ)
    if not fast:
        env["SYNTHCHECK_NO_ONNX"] = "1"
    res = subprocess.run([sys.executable, "-m", "synthcheck", "predict", "--json",
                          "--checkpoint", str(DEFAULT_CHECKPOINT), *[str(c.path) for c in corpus]],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    rows = json.loads(res.stdout)
    assert [r["path"] for r in rows] == [str(c.path) for c in corpus]
    for case, row in zip(corpus, rows, strict=True):
        _check(case, row)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(arr=st.integers(0, 2**31).flatmap(
    lambda seed: st.tuples(st.integers(1, 48), st.integers(1, 48), st.sampled_from([1, 3, 4])).map(
        lambda s: np.random.default_rng(seed).integers(0, 256, s, dtype=np.uint8))))
def test_predict_on_random_arrays(arr, tiny_detector):
    v = tiny_detector.predict([arr if arr.shape[2] != 1 else arr[..., 0]])[0]
    assert 0.0 <= v.p_fake <= 1.0 and np.isfinite(v.logits).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_predict_many_on_random_bytes(data):
    from synthcheck.inference.onnx_backend import OnnxDetector

    det = OnnxDetector.for_checkpoint(DEFAULT_CHECKPOINT)
    (loaded, verdict, error), = det.predict_many([data])
    assert (error is None) == (verdict is not None)
    assert error is None or "\n" not in error


def test_slow_input_times_out_and_the_rest_still_run(monkeypatch, tmp_path, tiny_detector):
    import time

    from synthcheck.analysis import analyze
    from synthcheck.inference import decoding
    from tests.conftest import image_bytes

    real = decoding.load_image
    good = tmp_path / "good.png"
    good.write_bytes(image_bytes(np.zeros((8, 8, 3), np.uint8)))

    def slow(src, **kw):
        if str(src).endswith("slow.png"):
            time.sleep(5)
        return real(src, **kw)

    monkeypatch.setattr(decoding, "load_image", slow)
    t0 = time.perf_counter()
    results = tiny_detector.predict_many([tmp_path / "slow.png", good], timeout_s=0.3)
    assert time.perf_counter() - t0 < 3
    assert "took longer than 0.3 s" in results[0][2] and results[1][1] is not None
    # many inputs on the decode pool: every decode thread stuck on a slow file is replaced,
    # and every other input is still opened, in order
    names = [tmp_path / f"{i}slow.png" if i % 7 == 3 else good for i in range(40)]
    t0 = time.perf_counter()
    got = analyze(names, tiny_detector, timeout_s=0.3)
    assert time.perf_counter() - t0 < 15
    assert [a.error is not None for a in got] == [i % 7 == 3 for i in range(40)]
    assert all("took longer than 0.3 s" in a.error for a in got if a.error)
