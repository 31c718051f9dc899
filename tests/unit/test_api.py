"""The scripting API: every public name resolves from ``hanbench`` itself, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hanbench
from hanbench import api


@pytest.mark.parametrize("name", api.__all__)
def test_every_public_name_is_reachable_from_the_package(name: str) -> None:
    assert getattr(hanbench, name) is getattr(api, name)


def test_what_supplier_automate_returns_is_public() -> None:
    from hanbench.dcc.automation import Action, AutomationOutcome, Branch

    assert (hanbench.AutomationOutcome, hanbench.AutomationAction, hanbench.AutomationBranch) == \
        (AutomationOutcome, Action, Branch)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'open_benches'"):
        hanbench.open_benches  # noqa: B018


def test_importing_a_low_layer_does_not_load_the_api() -> None:
    code = "import sys, hanbench.gbcs.image; print('hanbench.api' in sys.modules, 'zigpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]
