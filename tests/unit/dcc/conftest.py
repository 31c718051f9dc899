"""Fixtures of the DCC tests: the bench key store, a seeded in-memory inventory, a fake CH
and DCCs over them. The names they are built from live in :mod:`dcc_support`."""

from __future__ import annotations

import pytest

from dcc_support import KEYS, FakeHub, loop_clock, seed

from hanbench.dcc.dcc import Dcc
from hanbench.dcc.inventory import Inventory
from hanbench.gbcs.keystore import KeyStore


@pytest.fixture
def keystore() -> KeyStore:
    return KeyStore(KEYS)


@pytest.fixture
def inventory() -> Inventory:
    inv = seed(Inventory(":memory:"))
    yield inv
    inv.close()


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
async def make_dcc(inventory: Inventory, keystore: KeyStore, hub: FakeHub):
    made: list[Dcc] = []

    def make(policy: str = "mp207", **kwargs: object) -> Dcc:
        dcc = Dcc(inventory, keystore, hub, policy, loop_clock, **kwargs)  # type: ignore[arg-type]
        made.append(dcc)
        return dcc

    yield make
    for dcc in made:
        await dcc.aclose()
