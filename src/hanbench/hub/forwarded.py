"""What the CH hands up to the DCC for every alert: the bytes as they came, read once.

The CH has to read every message a device sends up its tunnel (a response completes the
command waiting for it, an alert goes up), so it passes on what it read instead of the bytes
alone, and the DCC does not read them again. Bytes that are no GBCS message go up too, with
the reason, so the DCC can record that something unreadable arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hanbench.gbcs.frame import GbcsMessage


@dataclass(frozen=True)
class ForwardedAlert:
    """One alert on its way to the DCC: ``raw`` as it crossed the air (or as the CH signed
    it), ``message`` decoded from it, or ``None`` with ``error`` saying why it could not be."""

    raw: bytes
    message: GbcsMessage | None
    error: str = ""


AlertListener = Callable[[ForwardedAlert], None]
"""Called with every alert the CH forwards (a device's) or raises (its own)."""
