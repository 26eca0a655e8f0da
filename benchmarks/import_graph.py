"""The package's import graph, at the level of its top entries (files and folders of synthcheck/).

Prints the number of nodes and links, the layers (longest import chain), each layer's members,
and any cycle. Imports inside functions count too (they are still dependencies); ``TYPE_CHECKING``
blocks do not. ``tests/test_one_of_each.py`` asserts there is no cycle.

    python benchmarks/import_graph.py [--repo DIR] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path


def node_of(module: str) -> str | None:
    """``synthcheck.a.b`` -> ``a`` (the top entry), None outside the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "synthcheck" and len(parts) > 1 else None


def _module_name(path: Path, pkg: Path) -> str:
    rel = path.relative_to(pkg.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _absolute(module: str, level: int, current: str, is_pkg: bool) -> str:
    if level == 0:
        return module
    base = current.split(".")
    base = base if is_pkg else base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def import_graph(pkg: Path) -> dict[str, set[str]]:
    """Top entry -> the top entries it imports (self-links left out)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(pkg.rglob("*.py")):
        current = _module_name(path, pkg)
        src = node_of(current) or "__init__"
        if src == "__init__":
            continue
        graph.setdefault(src, set())
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = _absolute(node.module or "", node.level, current, path.name == "__init__.py")
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names] if mod == "synthcheck" else [mod]
            for t in targets:
                dst = node_of(t)
                if dst and dst != src and ((pkg / dst).is_dir() or (pkg / f"{dst}.py").exists()):
                    graph[src].add(dst)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
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

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


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
