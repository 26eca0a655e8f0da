"""``synthcheck explain-eval``: the JSON contract, resume, stratified sampling, the beats-random
rule and the statistics behind the tie groups (tiny N, few random maps: seconds, not minutes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthcheck.evaluation.explanations import (
    BenchConfig,
    MetricSettings,
    evaluate,
    read_exclusions,
    sample_images,
)
from synthcheck.evaluation.explanations.sampling import label_of
from synthcheck.evaluation.explanations.stats import pairwise, tie_groups
from synthcheck.explain.base import Explainer
from synthcheck.explain.metrics import beats_random, random_bounds
from synthcheck.explain.metrics.sanity import cascade_stages, cascading_randomisation_check

CONTROL = Path(__file__).resolve().parent.parent / "synthcheck" / "selfcheck_images"
FAST = MetricSettings(n_random=5, n_steps=8, road_percentiles=(30, 70))
LIME_FAST = {"lime": {"num_samples": 32}}


def small_config(**kw) -> BenchConfig:
    base = {"methods": ("gradcam", "lime"), "seed": 0, "settings": FAST, "sanity_images": 2,
            "sanity_stages": 2, "method_options": LIME_FAST}
    return BenchConfig(**{**base, **kw})


@pytest.fixture
def control_copy(tmp_path: Path) -> Path:
    """The bundled control images (24 REAL, 24 FAKE CIFAKE test files) in a REAL/FAKE folder."""
    dest = tmp_path / "data"
    for label in ("REAL", "FAKE"):
        shutil.copytree(CONTROL / label, dest / label)
    return dest


def test_beats_random_rule() -> None:
    rand_del, rand_ins = [0.5, 0.6, 0.7, 0.8, 0.9], [0.5, 0.6, 0.7, 0.8, 0.9]
    lo, hi = random_bounds(rand_del, rand_ins)
    assert lo == pytest.approx(0.52) and hi == pytest.approx(0.88)  # numpy's linear quantiles
    assert beats_random(0.4, 0.95, rand_del, rand_ins)
    assert not beats_random(0.4, 0.85, rand_del, rand_ins)  # deletion alone is not enough
    assert not beats_random(0.6, 0.95, rand_del, rand_ins)  # nor is insertion alone
    assert not beats_random(lo, 0.95, rand_del, rand_ins)  # equal to the bound does not beat it
    assert beats_random(0.55, 0.85, rand_del, rand_ins, quantile=0.75)
    with pytest.raises(ValueError):
        random_bounds([], [0.5])


def test_rate_plot_with_every_image_passing() -> None:
    """k = n: the Wilson interval ends at exactly 1 and the plot draws (no negative error bar)."""
    from synthcheck.evaluation.explanations.report import rates_png
    from synthcheck.evaluation.explanations.stats import rate

    every, none = rate([True] * 47), rate([False] * 9)
    assert every["ci95"][1] == 1.0 and none["ci95"][0] == 0.0
    result = {"methods": {"a": {"beats_random": every}, "b": {"beats_random": none}}}
    assert rates_png(result).startswith(b"\x89PNG")


def test_stats_pairwise_and_tie_groups() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=60)
    values = {"m": {"good": {i: v + 1.0 for i, v in enumerate(base)},
                    "good_too": {i: v + 1.0 + rng.normal(0, 0.01) for i, v in enumerate(base)},
                    "bad": {i: v for i, v in enumerate(base)}}}
    rows = pairwise(values, {"m": True})
    by_pair = {(r["a"], r["b"]): r for r in rows}
    assert by_pair["good", "bad"]["significant"] and by_pair["good", "bad"]["better"] == "good"
    assert by_pair["good_too", "bad"]["better"] == "good_too"
    assert not by_pair["good", "good_too"]["significant"] and by_pair["good", "good_too"]["better"] is None
    means = {m: float(np.mean(list(v.values()))) for m, v in values["m"].items()}
    groups = tie_groups(means, rows, "m", True)
    assert sorted(groups[0]) == ["good", "good_too"] and groups[1] == ["bad"]
    lower = pairwise(values, {"m": False})  # lower is better: the direction flips
    assert {(r["a"], r["b"]): r for r in lower}["good", "bad"]["better"] == "bad"


def test_stratified_sampling_in_domain_and_exclusions(default_detector, control_copy: Path, tmp_path: Path) -> None:
    s = sample_images(default_detector, [control_copy], 6, seed=1)
    assert s.stratified and s.per_class == {"REAL": 3, "FAKE": 3}
    assert [x.label for x in s.samples] == ["REAL", "FAKE"] * 3  # interleaved: every prefix is balanced
    assert all(x.in_domain and x.verdict in ("REAL", "FAKE") and x.array.shape == (32, 32, 3) for x in s.samples)
    assert [x.sha256 for x in sample_images(default_detector, [control_copy], 6, seed=1).samples] == \
        [x.sha256 for x in s.samples]  # the seed fixes the sample
    assert [x.name for x in sample_images(default_detector, [control_copy], 6, seed=2).samples] != \
        [x.name for x in s.samples]
    odd = sample_images(default_detector, [control_copy], 5, seed=1)
    assert odd.per_class == {"REAL": 3, "FAKE": 2}
    # exclusions: a CIFAKE-style TSV of relative paths (header line skipped)
    real = sorted((control_copy / "REAL").iterdir())
    tsv = tmp_path / "twins.tsv"
    tsv.write_text("test_file\tidentical_train_file\n" + "".join(f"REAL/{p.name}\ttrain/x.jpg\n" for p in real[2:]))
    assert read_exclusions(tsv) == [f"REAL/{p.name}" for p in real[2:]]
    ex = sample_images(default_detector, [control_copy], 8, seed=1, exclude=read_exclusions(tsv))
    assert ex.n_excluded == len(real) - 2 and ex.per_class == {"REAL": 2, "FAKE": 4}  # only 2 REAL left
    assert {x.name.rsplit("/", 1)[-1] for x in ex.samples if x.label == "REAL"} == {p.name for p in real[:2]}
    # a plain folder: no strata
    plain = tmp_path / "plain"
    plain.mkdir()
    for p in real[:4]:
        shutil.copy(p, plain / p.name)
    flat = sample_images(default_detector, [plain], 3)
    assert not flat.stratified and len(flat.samples) == 3 and flat.samples[0].label is None
    assert label_of("a/b/fake/x.jpg") == "FAKE" and label_of("x.jpg") is None


def test_contract_resume_and_interruption(default_detector, control_copy: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = Explainer.explain_arrays

    def counted(self, *a, **kw):
        calls["n"] += 1
        return original(self, *a, **kw)

    monkeypatch.setattr(Explainer, "explain_arrays", counted)
    cache = tmp_path / "cache"
    cfg = small_config()

    # a run killed after its second image leaves two finished images in the cache
    def stop_after_two(done: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(default_detector, control_copy, cfg, n=4, cache_dir=cache, progress=stop_after_two)
    first_calls = calls["n"]
    assert first_calls > 0
    result, run = evaluate(default_detector, control_copy, cfg, n=4, cache_dir=cache)
    # the re-run computes only images 3 and 4: 2 methods + lime's second seed, + cascade (2 stages x 2 methods)
    # on the sanity images, which were the first two (already done)
    assert run.work["maps_computed"] == 2 * 3 and run.work["sanity_computed"] == 0
    assert run.work["random_computed"] == 2 and run.work["figures_computed"] == 2 * 2

    # the JSON contract
    assert {"n_images", "seed", "model", "methods", "pairwise", "agreement"} <= set(result)
    assert result["n_images"] == 4 and result["seed"] == 0 and result["model"]["sha256"]
    assert "verdict" in result["target"]
    for m in ("gradcam", "lime"):
        entry = result["methods"][m]
        for k in ("deletion_auc", "insertion_auc", "deletion_auc_logit", "insertion_auc_logit", "road_morf",
                  "road_lerf", "stability", "seconds_per_image"):
            assert set(entry[k]) >= {"mean", "ci95"}, k
        for k in ("beats_random", "sanity_pass"):
            assert set(entry[k]) >= {"rate", "ci95", "n"}
            lo, hi = entry[k]["ci95"]
            assert 0.0 <= lo <= entry[k]["rate"] <= hi <= 1.0
        lo, hi = entry["deletion_auc"]["ci95"]
        assert lo <= entry["deletion_auc"]["mean"] <= hi
    assert result["methods"]["lime"]["sanity_pass"]["n"] == 2
    assert result["methods"]["gradcam"]["stability"]["mean"] is None  # deterministic
    assert -1.0 <= result["methods"]["lime"]["stability"]["mean"] <= 1.0
    assert {r["metric"] for r in result["pairwise"]} >= {"deletion_auc_logit", "beats_random"}
    assert all({"a", "b", "p", "p_holm", "significant", "better"} <= set(r) for r in result["pairwise"])
    assert set(result["agreement"]["spearman"]["gradcam"]) == {"lime"}
    assert sorted(sum(result["tie_groups"]["insertion_auc_logit"], [])) == ["gradcam", "lime"]
    json.dumps(result)

    # a second full run computes nothing new
    calls["n"] = 0
    again, run2 = evaluate(default_detector, control_copy, cfg, n=4, cache_dir=cache)
    assert calls["n"] == 0
    assert run2.work["maps_computed"] == run2.work["figures_computed"] == run2.work["sanity_computed"] == 0
    assert again["methods"] == result["methods"]


def test_cli_writes_json_csv_html(control_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from synthcheck.cli import main

    out = tmp_path / "out"
    code = main(["explain-eval", str(control_copy), "--n", "2", "--methods", "gradcam,occlusion", "--random-maps",
                 "4", "--steps", "4", "--sanity-images", "0", "--option", "occlusion.stride=4", "--out", str(out),
                 "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "explain_eval.json").read_text())
    assert printed["methods"].keys() == saved["methods"].keys() == {"gradcam", "occlusion"}
    assert saved["config"]["method_options"] == {"occlusion": {"stride": 4}}
    assert saved["methods"]["gradcam"]["sanity_pass"]["n"] == 0
    html = (out / "explain_eval.html").read_text()
    assert html.count("data:image/png;base64,") >= 5 and "Tie groups" in html
    assert (out / "explain_eval.csv").read_text().count("\n") == 1 + 2 * 2


def test_cascading_check_flags_a_map_that_ignores_the_weights(default_detector) -> None:
    from synthcheck.explain.base import AttributionContext

    class ImageOnly(Explainer):
        name = "image_only"
        signed = False

        def _attribute(self, ctx: AttributionContext) -> np.ndarray:
            return ctx.arrays.mean(-1).astype(np.float32)

    img = np.asarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3)), np.uint8)
    stages = cascade_stages(default_detector.model, 3)
    assert stages[0] == ["fc"] and len(stages[-1]) == 9 and stages[1][-1] == "fc"
    bad = ImageOnly(default_detector).explain_arrays(img[None], target=1)[0]
    res = cascading_randomisation_check(default_detector, img, ImageOnly, explanation=bad, stages=stages)
    assert not res.passed and res.similarities == pytest.approx([1.0] * 3)
    good = ImageOnly(default_detector).explain_arrays(img[None], target=1)[0]
    good.map = np.zeros_like(good.map)  # a map the model's weights made differently
    good.map[0, 0] = 1.0
    assert cascading_randomisation_check(default_detector, img, ImageOnly, explanation=good, stages=stages).passed
