"""The errors either end of a Smart Energy tunnel reports, for the hub and the devices alike.

Both ends refuse the same ways (a refused RequestTunnel, a TransferDataError, a message
for a tunnel that is not open, a payload over the receiver's maximum), so the errors are
defined once here, beside the cluster definitions in :mod:`hanbench.radio.se_clusters`.
"""

from __future__ import annotations

from hanbench.errors import BadInput, CheckFailed
from hanbench.radio.se_clusters import TransferDataStatus, TunnelStatus


class TunnelRefused(CheckFailed):
    """RequestTunnel was answered with a status other than SUCCESS."""

    def __init__(self, status: TunnelStatus) -> None:
        self.status = status
        super().__init__(f"the CH refused the tunnel: {status.name}")


class TransferDataRefused(CheckFailed):
    """One end of a tunnel refused a TransferData with TransferDataError.

    ``refused_by`` is ``"hub"`` or ``"device"``: whoever sent the TransferDataError.
    """

    def __init__(self, refused_by: str, tunnel_id: int, status: TransferDataStatus, detail: str) -> None:
        self.refused_by = refused_by
        self.tunnel_id = tunnel_id
        self.status = status
        super().__init__(f"the {refused_by} refused TransferData on tunnel {tunnel_id}: {status.name} ({detail})")


class NoTunnel(BadInput):
    """A message was to go over a tunnel that is not open: open the tunnel first."""


class MessageTooLarge(BadInput):
    """A message is larger than the receiving end's maximum incoming transfer size."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"a {size}-octet tunnel payload exceeds the receiver's maximum of {limit} octets")


def check_fits(size: int, limit: int) -> None:
    """Raise :class:`MessageTooLarge` if a ``size``-octet payload exceeds the receiver's ``limit``."""
    if size > limit:
        raise MessageTooLarge(size, limit)
