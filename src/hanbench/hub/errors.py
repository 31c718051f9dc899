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


class CommandNotDelivered(CheckFailed):
    """The CH could not hand a command to an awake device at all: the device has no tunnel
    open to the CH, is not on its network, or refused the transfer.

    Not a frame whose acknowledgement was lost: the device may have that one, so the CH
    keeps waiting for its response (the DCC's wait bounds it). Here the device cannot have
    it, and the sender learns so at once.
    """

    def __init__(self, target: EntityId, detail: str) -> None:
        self.target = target
        super().__init__(f"the CH could not deliver the command to {target}: {detail}")
