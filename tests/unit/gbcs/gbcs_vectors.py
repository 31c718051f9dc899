"""The RTDS GBCS vectors and the entities they name, shared by the GBCS message tests."""

from __future__ import annotations

from pathlib import Path

from fixture_files import RTDS, RTDS_KEYS
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.keystore import KeyStore

VECTORS = RTDS / "gbcs"
KEYS = KeyStore(RTDS_KEYS)
DCC = EntityId.parse("90-B3-D5-1F-30-00-00-02")
ESME = EntityId.parse("00-DB-12-34-56-78-90-A0")
GSME = EntityId.parse("00-DB-12-34-56-78-90-A1")
CHF = EntityId.parse("00-DB-12-34-56-78-90-A2")
PPMID = EntityId.parse("00-DB-12-34-56-78-90-A4")
HCALCS = EntityId.parse("00-DB-12-34-56-78-90-A5")


def vector_files() -> list[Path]:
    """Every RTDS GBCS vector in the fixtures, sorted."""
    return sorted(VECTORS.glob("*/*.HEX"))


def read_vector(name: str) -> bytes:
    (path,) = VECTORS.glob(f"*/{name}")
    return bytes.fromhex(path.read_text().strip())
