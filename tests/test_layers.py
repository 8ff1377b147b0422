"""The one-way architecture, checked from source (ast, no imports run).

Layers, lowest first; a module may import only from its own layer or lower ones:

    core  <  models  <  align  <  eval  <  harness  <  cli
    plugins (baselines/, tasks/) may use core and the engines (models, align, eval), never harness or cli.

No two modules may import each other, directly or through a chain (imports inside functions count).
An import inside a function is allowed only to keep a light module light: the imported module must pull
in a heavy library (torch, transformers, ...) at import time, and the importing module must not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "baselines", "tasks")
LAYER = {"benchmark.core": 0, "benchmark.models": 1, "benchmark.align": 2, "benchmark.eval": 3,
         "benchmark.harness": 4, "benchmark.cli": 5, "benchmark.__main__": 5, "benchmark": 0}
PLUGIN_LAYER = 3.5  # above every engine, below harness
HEAVY = {"torch", "transformers", "trl", "peft", "datasets", "lm_eval", "pandas", "scipy", "numpy", "matplotlib",
         "accelerate", "safetensors", "tokenizers", "huggingface_hub", "ray", "nltk", "langdetect", "math_verify",
         "tqdm"}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (internal) or top-level package name (external)
    file: Path
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[module_name(path)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The longest known module that ``name`` (a module or ``module.attribute``) refers to."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def imports_of(mod: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    function_lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    function_lines.add(inner.lineno)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [f"{prefix}.{a.name}" for a in node.names] if prefix.split(".")[0] in PACKAGES else [prefix]
        else:
            continue
        for target in targets:
            top = target.split(".")[0]
            internal = _resolve(target, known) if top in PACKAGES else top
            if internal and internal != mod:
                out.append(Import(mod, internal, path, node.lineno, node.lineno in function_lines))
    return out


def layer_of(mod: str) -> float:
    if mod.split(".")[0] in ("baselines", "tasks"):
        return PLUGIN_LAYER
    best = max((k for k in LAYER if mod == k or mod.startswith(k + ".")), key=len)
    return LAYER[best]


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return known, [imp for mod, path in known.items() for imp in imports_of(mod, path, known)]


def _where(imp: Import) -> str:
    return f"{imp.file.relative_to(ROOT)}:{imp.line}: {imp.source} imports {imp.target}"


def test_no_import_from_a_higher_layer(graph):
    known, edges = graph
    bad = [f"{_where(e)} (layer {layer_of(e.source)} -> {layer_of(e.target)})" for e in edges
           if e.target in known and layer_of(e.target) > layer_of(e.source)]
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)


def test_plugins_use_only_core_and_engines(graph):
    known, edges = graph
    bad = [_where(e) for e in edges if e.target in known and layer_of(e.source) == PLUGIN_LAYER
           and e.target.startswith(("benchmark.harness", "benchmark.cli"))]
    assert not bad, "\n".join(bad)


def test_no_cycles_between_modules(graph):
    known, edges = graph
    adjacency: dict[str, list[Import]] = {}
    for e in edges:
        if e.target in known:
            adjacency.setdefault(e.source, []).append(e)
    state: dict[str, int] = {}
    stack: list[Import] = []
    cycles = []

    def visit(mod: str) -> None:
        state[mod] = 1
        for e in adjacency.get(mod, []):
            if state.get(e.target) == 1:
                start = next(i for i, s in enumerate(stack) if s.source == e.target) if any(
                    s.source == e.target for s in stack) else len(stack)
                cycles.append(" -> ".join(_where(s) for s in stack[start:] + [e]))
            elif e.target not in state:
                stack.append(e)
                visit(e.target)
                stack.pop()
        state[mod] = 2

    for mod in sorted(known):
        if mod not in state:
            visit(mod)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _heavy_modules(known: dict[str, Path], edges: list[Import]) -> set[str]:
    """Modules that import a heavy library at import time, directly or through other modules."""
    top_level = [e for e in edges if not e.in_function]
    heavy = {e.source for e in top_level if e.target in HEAVY}
    changed = True
    while changed:
        changed = False
        for e in top_level:
            if e.target in heavy and e.source not in heavy:
                heavy.add(e.source)
                changed = True
    return heavy


def test_imports_inside_functions_only_keep_light_modules_light(graph):
    known, edges = graph
    heavy = _heavy_modules(known, edges)
    bad = []
    for e in edges:
        if not e.in_function or e.target not in known:
            continue
        if e.source in heavy:
            bad.append(f"{_where(e)}: {e.source} is heavy already; import at the top")
        elif e.target not in heavy:
            bad.append(f"{_where(e)}: {e.target} is light; import at the top")
    assert not bad, "imports inside functions that hide nothing heavy:\n" + "\n".join(bad)


def test_the_command_line_is_light(graph):
    """``--help`` and ``list`` must not pay for torch: the CLI's own modules import no heavy library."""
    known, edges = graph
    heavy = _heavy_modules(known, edges)
    assert not sorted(m for m in known if m.startswith("benchmark.cli") and m in heavy)


def test_the_checker_sees_a_violation(tmp_path):
    """The checker itself: an upward import and a cycle in a hand-made package are found."""
    (tmp_path / "benchmark" / "core").mkdir(parents=True)
    (tmp_path / "benchmark" / "harness").mkdir()
    (tmp_path / "benchmark" / "core" / "a.py").write_text("from benchmark.harness.b import x\n")
    (tmp_path / "benchmark" / "harness" / "b.py").write_text("from benchmark.core import a\nx = 1\n")
    known = {"benchmark.core.a": tmp_path / "benchmark/core/a.py",
             "benchmark.harness.b": tmp_path / "benchmark/harness/b.py"}
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        edges = [imp for mod, path in known.items() for imp in imports_of(mod, path, known)]
    finally:
        ROOT = saved
    assert any(e.source == "benchmark.core.a" and e.target == "benchmark.harness.b" and e.line == 1 for e in edges)
    assert any(layer_of(e.target) > layer_of(e.source) for e in edges)
