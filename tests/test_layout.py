"""The package's shape: no import cycle (function-level imports included), one place for the
conclusion's wording, faces that hold no threshold arithmetic of their own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "synthcheck"


def _tool():
    """benchmarks/import_graph.py: the one import-graph reader (also prints the layers)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "benchmarks" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def import_graph() -> dict[str, set[str]]:
    return _tool().module_graph(PKG)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    return _tool().cycles(graph)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "synthcheck.reporting.signing" in graph and "synthcheck.analysis" in graph
    assert cycles(graph) == []


def test_top_entries_form_layers() -> None:
    """Files and folders of synthcheck/ import each other without a cycle, so each sits in one
    layer and imports only from lower ones; scoring sits below the analysis, faces on top."""
    s = _tool().summary(ROOT)
    assert s["cycles"] == [], s["cycles"]
    layer = {m: i for i, members in s["by_layer"].items() for m in members}
    assert layer["inference"] < layer["analysis"] < layer["reporting"] < layer["commands"] < layer["cli"]
    assert layer["imageio"] < layer["intake"] and layer["data"] > layer["intake"]


def test_signing_imports_no_renderer() -> None:
    deps = import_graph()["synthcheck.reporting.signing"]
    assert not deps & {"synthcheck.reporting.html", "synthcheck.reporting.pdf", "synthcheck.reporting.build"}


def test_only_the_analysis_words_the_conclusion() -> None:
    """Faces render the conclusion; none spells its labels or applies a threshold itself."""
    faces = [*ROOT.glob("pages/*.py"), *PKG.glob("dashboard/*.py"), PKG / "cli.py", *PKG.glob("commands/*.py"),
             *PKG.glob("api/**/*.py"), *PKG.glob("reporting/*.py"), *PKG.glob("cases/*.py")]
    wording = re.compile(r'"(Likely real|Likely synthetic|Cannot assess)"|AI-generated \(FAKE\)|Real photo \(REAL\)')
    arithmetic = re.compile(r"p_fake\s*>=\s*(?:thr|threshold|detector\.threshold|self\.threshold)")
    for path in faces:
        text = path.read_text(encoding="utf-8")
        assert not wording.search(text), f"{path.relative_to(ROOT)} words a conclusion itself"
        assert not arithmetic.search(text), f"{path.relative_to(ROOT)} applies a threshold itself"
