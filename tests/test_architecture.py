"""The layer order of docs/ARCHITECTURE.md holds: imports only go downward.

Every import of every module under ``gitsm/`` is read with ``ast``, including imports inside
functions (the lazy imports that keep ``import gitsm`` and the CLI's start cheap) and under
``if TYPE_CHECKING``: an import is a dependency wherever it is written, so all of them count. A
module may import a module of its own layer or of a lower one, never of a higher one, and no two
modules may import each other, directly or around a cycle.

The table below is the one in ARCHITECTURE.md (a test checks that they agree): a new module needs
a line in both.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gitsm"

LAYERS: list[list[str]] = [
    ["errors", "problems"],
    ["gitenv", "upstream", "plainpack", "plaingit", "memofile"],
    ["limits", "model", "labels", "manifest", "manifestlines", "paths", "retention", "passwords", "merge3",
     "mergedriver",
     "strict", "policy", "apimodel", "paramcheck", "schedule", "rotationstate", "rotationconfig",
     "serverpolicy", "replicas"],
    ["providers", "keys"],
    ["envelope", "quickmanifest", "quickopen", "quickread", "quickmemo", "quickbatch"],
    ["gitrepo"],
    ["history", "treefiles"],
    ["commitop"],
    ["store"],
    ["awsclient", "awserrors", "awsshapes"],
    ["sigformat", "sigverify"],
    ["verify", "verifyfiles", "verifymemo", "leaks", "hookinstall"],
    ["opcheck", "rangecheck", "signatures", "rotationcheck", "replicacheck"],
    ["materialize", "rotation", "serve"],
    ["cli"],
]  # fmt: skip
"""Layer by layer, lowest first: the first name after ``gitsm.`` of each module."""
OUTSIDE_THE_TABLE = {"gitsm": "awsclient", "gitsm.__main__": "cli"}
"""The package itself (``gitsm.client``/``init``/``SecretStore``, a facade beside awsclient that
imports the store lazily) and ``python -m gitsm`` (the CLI)."""
STANDARD_LIBRARY_ONLY = ["gitsm.gitenv", "gitsm.upstream", "gitsm.cli.locate", "gitsm.cli.syncfast",
                         "gitsm.cli.agent.launcher", "gitsm.cli.agent.paths", "gitsm.plaingit",
                         "gitsm.plainpack", "gitsm.limits", "gitsm.memofile"]  # fmt: skip
"""Modules of gitsm sync's quick path, of the agent's launcher and of get-secret-value's quick
read: the standard library and each other, nothing else."""


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = modules()


def imports(name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in module ``name``, anywhere in it. ``from X
    import Y`` counts as an import of ``X.Y`` when that is a module of the package, else of X."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


def layer(module: str) -> int:
    """The layer of a module of the package."""
    key = OUTSIDE_THE_TABLE.get(module) or module.split(".")[1]
    for i, names in enumerate(LAYERS):
        if key in names:
            return i
    raise AssertionError(f"{module} is in no layer: add it to docs/ARCHITECTURE.md and LAYERS")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


def test_no_module_imports_a_module_of_a_higher_layer() -> None:
    upward = [
        f"{module}:{line} imports {target} (layer {layer(target)} > {layer(module)})"
        for module in MODULES
        for target, line in imports(module)
        if target in MODULES and layer(target) > layer(module)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = {m: {t for t, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # a package's __init__ importing its own submodules is not a cycle of dependencies
    real = [c for c in cycles if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert real == []


def test_only_the_git_layer_imports_pygit2_and_only_the_cli_imports_typer() -> None:
    for module in MODULES:
        targets = {t.split(".")[0] for t, _ in imports(module)}
        if not module.startswith("gitsm.gitrepo"):
            assert "pygit2" not in targets, module
        if not module.startswith("gitsm.cli") and module != "gitsm.__main__":
            assert not targets & {"typer", "click"}, module
            assert not any(t.startswith("gitsm.cli") for t, _ in imports(module)), module


def test_the_quick_path_modules_use_the_standard_library_only() -> None:
    for module in STANDARD_LIBRARY_ONLY:
        for target, line in imports(module):
            top = target.split(".")[0]
            allowed = top in sys.stdlib_module_names or top == "__future__"
            allowed = allowed or target in STANDARD_LIBRARY_ONLY or target == "gitsm.errors"
            assert allowed, f"{module}:{line} imports {target}"


def documented_layers() -> list[list[str]]:
    """The layer table of docs/ARCHITECTURE.md's first code block: names in its first column, a
    cell ending with ',' continuing on the next line."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    block = text.split("```", 2)[1].splitlines()[1:]
    layers: list[list[str]] = []
    continued = False
    for line in block:
        cell = line[:28].strip()
        if not cell:
            continue
        names = [n.strip().removesuffix("/*").removesuffix("/") for n in cell.split(",")]
        names = [n for n in names if n]
        if continued:
            layers[-1] += names
        else:
            layers.append(names)
        continued = cell.endswith(",")
    return layers


def test_the_table_is_the_one_in_architecture_md() -> None:
    assert documented_layers() == LAYERS
