"""The package's import graph: which layer imports which, and whether any import cycles or points up.

    python tools/import_graph.py            # one line per layer edge, then the verdict
    python tools/import_graph.py --modules  # every module-level edge

Layers, bottom to top (a module may import its own layer and any layer below it, never one above):
core < targets < probes < report < engine < sandbox < cli. Every import counts, also those inside
functions and under TYPE_CHECKING: a lazy import is still a dependency.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "readiness"
LAYERS = ("core", "targets", "probes", "report", "engine", "sandbox", "cli")
#: top-level modules that are aliases of a module inside a layer (kept for the imports that name them)
ALIASES = {"expect": "core", "profile": "core", "kube": "targets", "process": "core", "plugin": "engine"}
#: top-level modules outside the layers: the package itself, its entry point and its build hook
OUTSIDE = {"__init__", "__main__", "_build"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("readiness")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.startswith("readiness"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
                found.add(f"{base}.*")  # marks `from package import submodule` for graph()
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py") if "_bundle" not in p.parts}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = imports_of(path)
        # `from package import submodule` depends on the submodule; the package is its parent, not a peer
        parents = {m.rpartition(".")[0] for m in found if m in modules and m.rpartition(".")[0] in found}
        own = {m for m in parents if f"{m}.*" in found and name.startswith(m + ".")}
        edges[name] = {m for m in found if m in modules and m != name and m not in own}
    return edges


def layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None
    head = parts[1]
    return ALIASES.get(head, head) if head not in OUTSIDE else None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    bad = []
    for src, targets in edges.items():
        a = layer(src)
        for dst in targets:
            b = layer(dst)
            # a package's __init__ importing its own submodules, or an alias naming its module, is fine
            if a in LAYERS and b in LAYERS and LAYERS.index(b) > LAYERS.index(a):
                bad.append((src, dst))
    return sorted(bad)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", action="store_true", help="print every module-level edge")
    args = parser.parse_args(argv)
    edges = graph()
    layer_edges: dict[str, set[str]] = defaultdict(set)
    for src, targets in edges.items():
        for dst in targets:
            a, b = layer(src), layer(dst)
            if a and b and a != b:
                layer_edges[a].add(b)
            if args.modules:
                print(f"{src} -> {dst}")
    for a in LAYERS:
        below = sorted(layer_edges.get(a, ()), key=LAYERS.index)
        print(f"{a:8} imports {', '.join(below) or 'nothing else of readiness'}")
    found_cycles, found_up = cycles(edges), upward(edges)
    for c in found_cycles:
        print("cycle: " + " -> ".join(c))
    for src, dst in found_up:
        print(f"upward import: {src} -> {dst}")
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports: "
          f"{len(found_cycles)} cycles, {len(found_up)} upward imports")  # fmt: skip
    return 1 if found_cycles or found_up else 0


if __name__ == "__main__":
    raise SystemExit(main())
