"""The package's import graph: services below the stages that use them, no import circles, and
no function-local import hiding one. Every import is read from the source (function-local ones
too), so a circle cannot hide behind a lazy import."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "impdist"
# Compiled modules: no source to parse, but imports of them are imports of modules, not packages.
EXTENSIONS = {"impdist.kernels._core", "impdist.kernels._cuda"}

# Lowest first. A module belongs to the layer of the longest prefix that names it; it may import
# its own layer (without a circle) and the layers below, never one above.
LAYERS: list[tuple[str, ...]] = [
    ("impdist._version", "impdist.errors", "impdist.domains", "impdist.extras", "impdist.tasks", "impdist.logs",
     "impdist.progress"),
    ("impdist.kernels",),
    ("impdist.io", "impdist.data"),
    ("impdist.io.executors",),
    ("impdist.models",),
    ("impdist.decoding",),
    ("impdist.judges",),
    ("impdist.metrics",),
    ("impdist.generate",),
    ("impdist.filters",),
    ("impdist.student",),
    ("impdist.serving",),
    ("impdist.evaluation",),
    ("impdist.distill", "impdist.run_config", "impdist.run", "impdist.hub", "impdist.cli", "impdist"),
]


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()
KNOWN = set(MODULES) | EXTENSIONS


def _owner(name: str) -> str:
    """The longest known module or package that `name` (a module, or a module's attribute) is in."""
    while name not in KNOWN and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


class Import:
    def __init__(self, source: str, target: str, line: int, local: bool, commented: bool):
        self.source, self.target, self.line, self.local, self.commented = source, target, line, local, commented

    def __repr__(self) -> str:
        where = "function-local " if self.local else ""
        return f"{MODULES[self.source].relative_to(ROOT.parent)}:{self.line}: {where}import of {self.target}"


def _comments(source: str) -> set[int]:
    """Lines that hold a comment."""
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            lines.add(tok.start[0])
    return lines


def _imports() -> list[Import]:
    found = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        comments = _comments(text)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        module_level = set()
        for node in tree.body:  # module level, including try/if blocks at the top
            for child in ast.walk(node):
                if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                    module_level.add(id(child))
                else:
                    break
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [s for s in subs if s in KNOWN] + ([base] if any(s not in KNOWN for s in subs) else [])
            else:
                continue
            local = id(node) not in module_level
            commented = bool({node.lineno, node.lineno - 1} & comments)
            for target in targets:
                if target.split(".")[0] == "impdist":
                    owner = _owner(target)
                    if owner != name and not (owner.startswith(name + ".") and path.name == "__init__.py"):
                        found.append(Import(name, owner, node.lineno, local, commented))
    return found


IMPORTS = _imports()


def _layer(name: str) -> int:
    best, layer = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), i
    assert layer is not None, f"{name} is in no layer: add it to LAYERS in {__file__}"
    return layer


def test_every_module_has_a_layer():
    for name in MODULES:
        _layer(name)


def test_no_import_runs_up_a_layer():
    upward = [imp for imp in IMPORTS if _layer(imp.target) > _layer(imp.source)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(map(repr, upward))


def test_no_import_circle():
    graph: dict[str, set[str]] = {}
    for imp in IMPORTS:
        graph.setdefault(imp.source, set()).add(imp.target)
    circles = _cycles(graph)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_function_local_imports_say_why():
    """A function-local import of impdist's own code is allowed only to keep start-up fast (the
    imported module loads a heavy optional dependency) and says so in a comment beside it."""
    silent = [imp for imp in IMPORTS if imp.local and not imp.commented]
    assert not silent, "function-local imports without a comment saying why:\n" + "\n".join(map(repr, silent))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle_and_an_upward_import():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _layer("impdist.kernels.lexical") < _layer("impdist.filters.chain") < _layer("impdist.cli")
    with pytest.raises(AssertionError, match="in no layer"):
        _layer("elsewhere.module")
