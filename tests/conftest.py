"""The suite writes only under pytest's temporary folder, never into the checkout.

The bench tests of the suite record into ``bench/emu.toml``'s session record, which the file
keeps in ``sessions/`` beside the checkout, and Hypothesis keeps its example database and
caches in ``.hypothesis/`` of the working directory. Both are moved under this process's
base temporary folder (under pytest-xdist, each worker's own ``popen-gwN`` folder), unless
``--hanbench-sessions`` was given.
"""

from __future__ import annotations

import pytest
from hypothesis import configuration


@pytest.hookimpl(trylast=True)  # after pytest's own tmp_path plugin has set up the base folder
def pytest_configure(config: pytest.Config) -> None:
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]  # pytest's tmp_path plugin
    if config.getoption("hanbench_sessions") is None:
        config.option.hanbench_sessions = str(base / "sessions")
    configuration.set_hypothesis_home_dir(base / "hypothesis")
