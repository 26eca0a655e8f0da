"""The package's import graph, at the level of its top entries (files and folders of synthcheck/).

Prints the number of nodes and links, the layers (longest import chain), each layer's members,
and any cycle, from the module-level graph (imports inside functions count too: they are still
dependencies). ``tests/test_layout.py`` asserts that neither graph has a cycle.

    python benchmarks/import_graph.py [--repo DIR] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path


def node_of(module: str) -> str | None:
    """``synthcheck.a.b`` -> ``a`` (the top entry), None outside the package or for the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "synthcheck" and len(parts) > 1 else None


def _modules(pkg: Path) -> dict[str, tuple[Path, bool]]:
    mods = {}
    for f in pkg.rglob("*.py"):
        parts = list(f.relative_to(pkg.parent).with_suffix("").parts)
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


def module_graph(pkg: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (function-level imports included)."""
    mods = _modules(pkg)
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


def import_graph(pkg: Path) -> dict[str, set[str]]:
    """Top entry (file or folder of the package) -> the top entries it imports."""
    graph: dict[str, set[str]] = {}
    for mod, deps in module_graph(pkg).items():
        src = node_of(mod)
        if src is None:
            continue
        graph.setdefault(src, set()).update(d for d in map(node_of, deps) if d and d != src)
    return graph


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Layer of each node: 0 imports nothing of the package, else 1 + its highest import."""
    memo: dict[str, int] = {}

    def layer(v: str, seen: frozenset[str]) -> int:
        if v in memo:
            return memo[v]
        deps = [w for w in graph.get(v, ()) if w not in seen]
        memo[v] = 1 + max((layer(w, seen | {v}) for w in deps), default=-1)
        return memo[v]

    return {v: layer(v, frozenset()) for v in graph}


def summary(repo: Path) -> dict[str, object]:
    pkg = repo / "synthcheck"
    graph = import_graph(pkg)
    lay = layers(graph)
    flat = sorted(p.stem for p in pkg.glob("*.py") if p.stem not in ("__init__", "__main__"))
    return {"nodes": len(graph), "links": sum(len(v) for v in graph.values()),
            "layers": max(lay.values()) + 1 if lay else 0, "flat_modules": len(flat),
            "cycles": cycles(graph),
            "by_layer": {i: sorted(v for v, k in lay.items() if k == i) for i in sorted(set(lay.values()))}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    s = summary(Path(args.repo))
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(f"{s['nodes']} files and folders, {s['links']} import links, {s['layers']} layers, "
          f"{s['flat_modules']} flat modules, {len(s['cycles'])} cycle(s)")
    for i, members in s["by_layer"].items():
        print(f"  layer {i:2d}: {', '.join(members)}")
    for c in s["cycles"]:
        print(f"  cycle: {' <-> '.join(c)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
