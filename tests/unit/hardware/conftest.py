"""An emulated board on a real pty, backed by an in-memory device, for the hardware tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from board_backend import MemoryBackend
from hanbench.hardware.control import BoardControl
from hanbench.twin.board import EmulatedBoard


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
async def board(backend: MemoryBackend, tmp_path: Path) -> AsyncIterator[EmulatedBoard]:
    async with EmulatedBoard(backend, tmp_path, name="esme", reset_gap=0.1) as running:
        yield running


@pytest.fixture
async def control(board: EmulatedBoard) -> AsyncIterator[BoardControl]:
    async with BoardControl(str(board.path), name="esme", timeout=2.0, reset_timeout=5.0) as link:
        yield link
