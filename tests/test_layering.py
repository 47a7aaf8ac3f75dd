"""The subpackages of fasthmr_ros form layers: no two of them import each other.

A pair that does (say `pipeline` and `decoders`) means a concept sits on the wrong side of the
line, and sooner or later an import cycle breaks at run time. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fasthmr_ros"


def _unit(path: Path) -> str:
    """The top-level subpackage (or module) of fasthmr_ros a file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def package_imports() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> the `file:line` places of such imports."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "fasthmr_ros" and len(parts) > 1 and parts[1] != source:
                    edges[(source, parts[1])].append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return edges


def test_no_two_subpackages_import_each_other() -> None:
    edges = package_imports()
    assert ("pipeline", "decoders") in edges  # the scan sees the imports it should
    cycles = {
        f"{a} <-> {b}": edges[(a, b)] + edges[(b, a)] for a, b in edges if a < b and (b, a) in edges
    }
    assert not cycles, cycles
