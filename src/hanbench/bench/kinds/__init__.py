"""Bench kinds: one strategy module per ``[bench] kind``, found by name.

``hanbench.bench.kinds.emu`` builds the emulated premises; a ``twin`` or ``lab`` kind is added
by adding ``twin.py`` or ``lab.py`` here with the same two names (``VIRTUAL_TIME`` and
``assemble``, see :class:`~hanbench.bench.premises.Kind`). Nothing else changes: the bench,
the pytest plugin and the conformance suite only ever see a
:class:`~hanbench.bench.premises.Premises`.
"""

from __future__ import annotations

import importlib
from typing import cast

from hanbench.bench.bench_config import BenchKind
from hanbench.bench.premises import Kind
from hanbench.errors import BadInput


class KindUnavailable(BadInput):
    """The bench file names a kind this installation cannot assemble."""


def kind_strategy(kind: BenchKind) -> Kind:
    """The strategy module of ``kind``."""
    name = f"{__name__}.{kind.value}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise KindUnavailable(f"this hanbench cannot assemble a {kind} bench yet (no {name} module); "
                              "use an emu bench such as bench/emu.toml") from None
    return cast(Kind, module)
