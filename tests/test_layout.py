"""The package's shape: dependencies point one way, the base stays TensorFlow-free, benchmarks use public API.

Read from the source with ``ast`` (nothing is imported), so a wrong import
fails here with the module and line that made it. Module and class sizes are
not capped: a file is as long as its one job reads best.
"""

from __future__ import annotations

import ast
import pathlib

import pytest
from conftest import REPO

pytestmark = pytest.mark.unit

PACKAGE = pathlib.Path(REPO) / "infogan_tf"

# Lower layers never import higher ones: cli -> api -> serving / evaluation -> training -> data / model -> base.
LAYERS = {
    "architecture": 0,
    "config": 0,
    "dataconfig": 0,
    "latent": 0,
    "errors": 0,
    "fileio": 0,
    "presets": 0,
    "serving.signatures": 0,
    "data": 1,
    "model": 1,
    "visualize": 1,
    "training": 2,
    "serving": 3,
    "evaluation": 3,
    "api": 4,
    "cli": 5,
}
# Modules that a CLI imports before TensorFlow, to reject a bad flag in milliseconds.
TF_FREE = ("architecture", "config", "dataconfig", "latent", "errors", "fileio", "presets", "serving.signatures")


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _layer(module: str) -> int | None:
    """The layer of an infogan_tf module ('' is the package itself)."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    return None


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, infogan_tf module) of every import of our own modules, at any depth."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return [(line, name[len("infogan_tf.") :]) for line, name in out if name.startswith("infogan_tf.")]


def _own_module(name: str) -> str:
    """``data.pixels.to_unit_range`` -> ``data.pixels`` (the longest prefix that is a file or package)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = PACKAGE.joinpath(*parts[:n])
        if candidate.with_suffix(".py").is_file() or candidate.is_dir():
            return ".".join(parts[:n])
    return name


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_dependencies_point_one_way(path):
    module = _module_name(path)
    layer = _layer(module)
    if layer is None:
        return  # the package __init__
    tree = ast.parse(path.read_text())
    for line, name in _imports(tree, module):
        target = _own_module(name)
        target_layer = _layer(target)
        assert target_layer is not None and target_layer <= layer, (
            f"{path.name}:{line}: {module} (layer {layer}) imports {target} (layer {target_layer})"
        )


@pytest.mark.parametrize("module", TF_FREE)
def test_the_base_modules_import_no_tensorflow(module):
    path = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text())
    # Top-level imports only: a function may import TensorFlow when it is called.
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in ("tensorflow", "keras", "tensorflow_datasets"), f"{module} imports {name}"
            if name.startswith("infogan_tf."):
                assert _layer(_own_module(name[len("infogan_tf.") :])) == 0, f"{module} imports {name}"


BENCHMARKS = [
    path
    for folder in ("benchmarks", "experiments", "export", "examples")
    for path in sorted((pathlib.Path(REPO) / folder).glob("*.py"))
]


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_benchmarks_and_examples_use_public_api_only(path):
    """No private name of infogan_tf, no imports from tests/, no sys.path edits (they run as python -m)."""
    tree = ast.parse(path.read_text())
    assert "sys.path" not in path.read_text(), f"{path.name} edits sys.path"
    own_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("infogan_tf"):
                for a in node.names:
                    assert not a.name.startswith("_"), f"{path.name}:{node.lineno} imports {node.module}.{a.name}"
                    own_aliases.add(a.asname or a.name)
            assert node.module.split(".")[0] not in ("tests", "conftest", "local_cluster"), path.name
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("infogan_tf"):
                    own_aliases.add((a.asname or a.name).split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in own_aliases:
                pytest.fail(f"{path.name}:{node.lineno} uses the private name {node.attr}")
