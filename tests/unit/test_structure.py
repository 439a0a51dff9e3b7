"""The import graph of exporter/: no cycles, no upward imports, pure layers import no third-party code.

Every import counts, function-level ones included: a lazy import hides a cycle from the reader, it does
not remove it. The layers, bottom first (a module may import its own package and anything below it):
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "exporter"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("exporter.version", "exporter.durations", "exporter.model", "exporter.generated"),  # leaves
    ("exporter.managers", "exporter.store"),  # pure decisions; durable state of the jobs
    ("exporter.qbt",),  # the connection to qBittorrent, the mirror, the maindata merge
    ("exporter.collectors", "exporter.actions", "exporter.report", "exporter.history"),  # outputs, jobs
    ("exporter.http",),  # the server and every route
    ("exporter.config",),  # the only parsers of flags, environment and YAML
    ("exporter.app", "exporter.sandbox", "exporter.logs"),  # wiring; the throwaway qBittorrent; logging
    ("exporter.demo", "exporter.docsgen"),
    ("exporter.cli",),
)
# Third-party packages each group may import (stdlib is always allowed).
THIRD_PARTY: dict[str, frozenset[str]] = {
    "exporter.version": frozenset(),
    "exporter.generated": frozenset(),
    "exporter.durations": frozenset(),
    "exporter.model": frozenset(),
    "exporter.managers": frozenset(),
    "exporter.store": frozenset({"psycopg", "psycopg_pool"}),  # postgres.py only
    # urllib3: requests' transport; msgspec: the typed sync/maindata decoder (decode.py)
    "exporter.qbt": frozenset({"qbittorrentapi", "requests", "urllib3", "msgspec"}),
    "exporter.collectors": frozenset({"prometheus_client"}),
    "exporter.actions": frozenset({"apscheduler", "prometheus_client"}),
    "exporter.report": frozenset(),
    "exporter.history": frozenset(),
    "exporter.http": frozenset({"bcrypt", "prometheus_client"}),
    "exporter.config": frozenset({"yaml"}),
    "exporter.app": frozenset({"prometheus_client"}),
    "exporter.sandbox": frozenset({"qbittorrentapi"}),
    "exporter.logs": frozenset(),
    "exporter.demo": frozenset({"yaml"}),
    "exporter.docsgen": frozenset({"yaml", "prometheus_client"}),
    "exporter.cli": frozenset(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(exporter modules imported, top-level third-party packages imported) by one module."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    inner, outer = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            if target == "exporter" or target.startswith("exporter."):
                inner.add(target)
            elif target.split(".")[0] not in sys.stdlib_module_names and target != "__future__":
                outer.add(target.split(".")[0])
    inner.discard(name)
    return inner, outer


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    found = modules()
    known = set(found)
    edges, third = {}, {}
    for name, path in found.items():
        edges[name], third[name] = imports_of(name, path, known)
    return edges, third


def group_of(name: str) -> str:
    if name == "exporter":  # the package's empty __init__
        return "exporter.version"
    for layer in LAYERS:
        for group in layer:
            if name == group or name.startswith(group + "."):
                return group
    raise AssertionError(f"{name} belongs to no layer: add it to LAYERS in {__file__}")


def rank_of(name: str) -> int:
    group = group_of(name)
    return next(i for i, layer in enumerate(LAYERS) if group in layer)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a path that closes."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component) + [sorted(component)[0]])

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward(edges: dict[str, set[str]]) -> list[str]:
    out = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            same_group = group_of(source) == group_of(target)
            if not same_group and rank_of(target) >= rank_of(source):
                out.append(f"{source} -> {target}")
    return out


def test_every_module_has_a_layer():
    for name in modules():
        group_of(name)


def test_no_import_cycles():
    assert cycles(graph()[0]) == []


def test_no_upward_or_sideways_imports():
    assert upward(graph()[0]) == []


def test_each_layer_imports_only_its_third_party_packages():
    wrong = [
        f"{name} imports {pkg}"
        for name, pkgs in sorted(graph()[1].items())
        for pkg in sorted(pkgs - THIRD_PARTY[group_of(name)])
    ]
    assert wrong == []


def test_the_checks_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert upward({"exporter.managers.state": {"exporter.config.values"}}) == [
        "exporter.managers.state -> exporter.config.values"
    ]
    assert upward({"exporter.collectors.ratio": {"exporter.actions.metrics"}}) == [
        "exporter.collectors.ratio -> exporter.actions.metrics"
    ]


@pytest.mark.parametrize(
    "module",
    [
        "exporter.managers.control",
        "exporter.managers.ratio_index",
        "exporter.managers.completion",
        "exporter.model",
    ],
)
def test_importing_a_manager_loads_no_configuration_yaml_or_http_client(module):
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'qbittorrentapi', 'requests') "
        "or m.startswith('exporter.config') or m.startswith('exporter.qbt')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
