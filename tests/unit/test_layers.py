"""The layer rules of README.md, read from the source: imports point downward only.

``gbcs`` is the floor (no asyncio, no zigpy); ``radio`` and ``hardware`` stand on it;
``devices`` and ``hub`` stand on ``radio`` and never import each other; the DCC stands on
``gbcs`` and reaches the CH only through ``dcc/hub_port.py``; nothing in the product imports
the twin except the twin bench kind.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "hanbench"
FLOOR = {"errors", "clock", "listeners", "timing"}

#: What each layer may import from hanbench, besides itself and FLOOR.
ALLOWED: dict[str, set[str]] = {
    "gbcs": set(),
    "radio": {"gbcs"},
    "hardware": {"gbcs"},
    "devices": {"radio", "gbcs"},
    "hub": {"radio", "gbcs"},
    "dcc": {"gbcs"},
}
#: Single modules that may cross one line, and which: the DCC's one interface to the CH.
EXCEPTIONS: dict[str, set[str]] = {"dcc/hub_port.py": {"hub"}}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)


def _hanbench_layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "hanbench" and len(parts) > 1 else None


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_what_lies_below_it(layer: str) -> None:
    wrong = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        allowed = {layer, *FLOOR, *ALLOWED[layer], *EXCEPTIONS.get(rel, set())}
        wrong += [f"{rel}:{line} imports {module}" for line, module in _imports(path)
                  if (target := _hanbench_layer(module)) is not None and target not in allowed]
    assert not wrong, "\n".join(wrong)


def test_gbcs_uses_neither_asyncio_nor_zigpy() -> None:
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
             for path in sorted((PACKAGE / "gbcs").rglob("*.py"))
             for line, module in _imports(path) if module.split(".")[0] in {"asyncio", "zigpy"}]
    assert not wrong, "\n".join(wrong)


def test_the_product_never_imports_the_twin_but_for_the_twin_bench_kind() -> None:
    wrong = [f"{rel}:{line} imports {module}"
             for path in sorted(PACKAGE.rglob("*.py"))
             if (rel := path.relative_to(PACKAGE).as_posix()).split("/")[0] != "twin" and rel != "bench/kinds/twin.py"
             for line, module in _imports(path) if _hanbench_layer(module) == "twin"]
    assert not wrong, "\n".join(wrong)
