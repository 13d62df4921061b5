"""The package's shape, checked from its imports (see ARCHITECTURE.md).

* no import cycle inside ``fromscratch/`` (imports inside functions count too: a lazy import
  hides a cycle, it does not remove it);
* arrows point one way: the low layers never import a higher one (nothing low imports a codec,
  plots depend on algorithms and never the reverse);
* the notebooks and the README's code blocks import public names only (nothing starting with
  ``_``), since they are what readers copy.

Imports are read with :mod:`ast`, nothing is executed. ``from package import name`` counts as an
import of ``package.name`` when that is a module, else of ``package``; importing a module is not
counted as importing its parent packages (Python runs their ``__init__`` first, but that is how
packages work, not a design choice of ours).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fromscratch"

# Who may import whom: a module of a layer may import only modules of its own or lower layers.
# Layer numbers follow ARCHITECTURE.md; a name maps to the first prefix that matches it.
LAYERS = [
    ("fromscratch._files", 0),
    ("fromscratch.backend", 0),
    ("fromscratch.data", 1),
    ("fromscratch.bitstream", 1),
    ("fromscratch.container", 2),
    ("fromscratch.transforms", 3),
    ("fromscratch.entropy", 3),
    ("fromscratch.nn", 3),
    ("fromscratch.metrics", 3),
    ("fromscratch.codecs", 4),
    ("fromscratch.bench", 5),
    ("fromscratch.training", 5),
    ("fromscratch.classroom", 5),  # nbgrader over the notebooks; imports no codec
    ("fromscratch.closing", 5),  # the closing benchmark: every codec, every claim
    ("fromscratch.book", 5),  # nbclient/nbconvert over the notebooks; imports no codec
    ("fromscratch.figures", 5),  # the README's figures, over codecs, plots and closing
    ("fromscratch.cli", 6),
    ("fromscratch.__main__", 7),
    ("fromscratch", 6),  # the package's own __init__: the public API over the codecs
]
# Within a layer, these packages must not import each other (they are independent boxes).
INDEPENDENT = (
    "fromscratch.transforms",
    "fromscratch.entropy",
    "fromscratch.nn",
    "fromscratch.metrics",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every fromscratch module that ``path`` imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of names (first == last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer_of(name: str) -> tuple[str, int]:
    for prefix, layer in LAYERS:
        if name == prefix or name.startswith(prefix + "."):
            return prefix, layer
    raise AssertionError(f"{name} is in no layer: add it to LAYERS and to ARCHITECTURE.md")


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_import_reader_resolves_relative_and_from_imports(tmp_path):
    modules = all_modules()
    graph = import_graph()
    assert "fromscratch.codecs.base" in graph["fromscratch.codecs.raw"]  # from .base import ...
    assert "fromscratch.bitstream" in graph["fromscratch.codecs.raw"]  # from ..bitstream import
    assert "fromscratch.nn" in graph["fromscratch.codecs.balle2017.codec"]  # from ... import nn
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from fromscratch.codecs import base\n")
    assert imports_of("fromscratch.x", lazy, modules) == {"fromscratch.codecs.base"}


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_point_down_the_layers():
    wrong = []
    for name, targets in import_graph().items():
        prefix, layer = layer_of(name)
        for target in targets:
            target_prefix, target_layer = layer_of(target)
            if target_layer > layer or (
                target_prefix != prefix and prefix in INDEPENDENT and target_prefix in INDEPENDENT
            ):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against the layers (ARCHITECTURE.md):\n" + "\n".join(sorted(wrong))


def test_every_codec_family_has_a_map():
    for init in (PACKAGE / "codecs").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.splitlines()) >= 5, f"{init.parent.name}/__init__.py needs a map"


# --- what readers copy: notebooks and the README ---------------------------------------------


def private_imports(source: str) -> list[str]:
    """The fromscratch imports in ``source`` that name a module or object starting with '_'."""
    found = []
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: drop lines starting with % or ! and try again
        tree = ast.parse("\n".join(
            line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
        ))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith("fromscratch")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fromscratch"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [n for n in names if any(part.startswith("_") for part in n.split("."))]
    return found


def test_private_import_detector():
    assert private_imports("from fromscratch.codecs.jpeg import _encode_kernels as k") == [
        "fromscratch.codecs.jpeg._encode_kernels"
    ]
    assert private_imports("import fromscratch._files") == ["fromscratch._files"]
    assert private_imports("from fromscratch.x import _helper\n%matplotlib inline") == [
        "fromscratch.x._helper"
    ]
    assert private_imports("from fromscratch.codecs import get_codec\nimport numpy._core") == []


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebooks_import_public_names_only(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    found = [name for source in code for name in private_imports(source)]
    assert not found, f"{notebook.name} imports private names: {found}"


def test_readme_code_imports_public_names_only():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README shows no Python example any more"
    found = [name for block in blocks for name in private_imports(block)]
    assert not found, f"README examples import private names: {found}"
