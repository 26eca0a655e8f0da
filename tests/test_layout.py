"""The package's shape: no import cycle (function-level imports included), one place for the
conclusion's wording, faces that hold no threshold arithmetic of their own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "synthcheck"


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mods[".".join(parts)] = (f, is_pkg)
    return mods


def _imports(name: str, is_pkg: bool, node: ast.AST, mods: dict) -> set[str]:
    """The package modules one import statement needs (``from . import x`` needs only ``x``)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in mods}
    assert isinstance(node, ast.ImportFrom)
    if node.module == "__future__":
        return set()
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)] if node.level else []
    mod = ".".join(base + ([node.module] if node.module else []))
    subs = {f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods}
    if len(subs) == len(node.names):
        return subs
    return subs | ({mod} if mod in mods else set())


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, (path, is_pkg) in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= _imports(name, is_pkg, node, mods)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "synthcheck.reporting.signing" in graph and "synthcheck.analysis" in graph
    assert cycles(graph) == []


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
