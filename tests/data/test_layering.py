"""data/ and models/ sit below trainables/: neither imports it (issue 11)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import distributed_bo

PACKAGE = Path(distributed_bo.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["data", "models"])
def test_package_does_not_import_trainables(package: str) -> None:
    files = sorted((PACKAGE / package).glob("*.py"))
    assert files
    for path in files:
        bad = {n for n in _imports(path) if n.startswith("distributed_bo.trainables")}
        assert not bad, f"{path.name} imports {sorted(bad)}"
