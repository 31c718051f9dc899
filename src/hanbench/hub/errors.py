"""Typed errors the Comms Hub raises to whoever sends through it.

They live here, at the CH's level, so that the CH raises them without importing the DCC
above it; :mod:`hanbench.dcc.hub_port` re-exports them as part of the DCC's interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hanbench.errors import CheckFailed

if TYPE_CHECKING:
    from hanbench.gbcs.entity import EntityId


class CommandNotRetrieved(CheckFailed):
    """The CH's queue for a sleepy device expired before the device fetched the command.

    A GSME that never wakes is the device's failure to collect, not the bench's fault, so
    this is a failed check rather than an infrastructure fault. The CH raises alert 0x819D
    "GSME Command Not Retrieved" for it, whose name this error shares.
    """

    def __init__(self, target: EntityId, detail: str = "") -> None:
        self.target = target
        super().__init__(f"the CH's queued command for {target} expired before the device fetched it"
                         + (f": {detail}" if detail else ""))
