"""pytest plugin for hanbench: markers ``hw`` and ``emu``, the ``--bench`` option, fixtures.

Registered through the ``pytest11`` entry point so that any project that installs hanbench
gets it without a conftest.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hw: needs a bench with real radios and boards")
    config.addinivalue_line("markers", "emu: needs the emulator's controls (virtual time, fault injection)")
