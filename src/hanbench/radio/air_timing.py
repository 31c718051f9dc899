"""The honest air's knobs and where their defaults come from.

Kept apart from :mod:`hanbench.radio.air` (and free of zigpy) so that the bench file's typed
records can default to the same figures without loading a radio stack.
"""

from __future__ import annotations

import dataclasses

from hanbench.errors import BadInput
from hanbench.radio.mac import MacConstants

#: Silicon Labs' end-device-support plugin polls every 1 s while it expects data (Short Poll
#: Interval, SL_ZIGBEE_AF_PLUGIN_END_DEVICE_SUPPORT_SHORT_POLL_INTERVAL_SECONDS, default 1).
DEFAULT_POLL_INTERVAL_S = 1.0
#: The block cycle of a router-class device; see :class:`AirTiming`.
DEFAULT_BLOCK_PACING_S = 0.25


@dataclasses.dataclass(frozen=True)
class AirTiming:
    """The honest air's knobs; the 802.15.4 and Zigbee constants are in ``mac``.

    ``poll_interval_s``: how often a sleepy node's MAC polls its parent while it is awake.
    Default 1 s, the Short Poll Interval of Silicon Labs' end-device-support plugin. With it
    a sleepy device gets one block per poll: about 50 B/s with 50-byte blocks, the 47 B/s
    measured to a sleepy device (40-byte blocks every ~0.85 s, rbaron/b-parasite PR #192).

    ``block_pacing_s``: the time a device's application takes over an Image Block Response
    before it asks for the next block, for every node not given its own with
    :meth:`~hanbench.radio.air.VirtualAir.set_pacing`. Default 250 ms, which with the honest air's ~17 ms of
    frames per block gives 241 KB to a router-class device in about 21 minutes: the figure
    measured with zigbee2mqtt (about 150 B/s to a router, Koenkk/zigbee2mqtt#17374: a
    291,130-byte image at 48 % with 17 minutes to go), whose OTA server keeps 250 ms per block
    (image_block_response_delay, zigbee-herdsman-converters ``lib/ota.ts``). Devices alone
    are faster (a deCONZ trace of an IKEA router shows 66-74 ms per block,
    dresden-elektronik/deconz-ota-plugin#44; Hue bulbs ask at once, zigbee-herdsman#1846),
    and no GB figure is public (research notes, gbcs-domain section 5): a lab that times its
    devices sets the bench file's ``[air.block_pacing_ms]`` per device type.
    """

    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    block_pacing_s: float = DEFAULT_BLOCK_PACING_S
    mac: MacConstants = MacConstants()

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise BadInput(f"a sleepy node's poll interval must be > 0 s, got {self.poll_interval_s}")
        if self.block_pacing_s < 0:
            raise BadInput(f"a device's block pacing must be >= 0 s, got {self.block_pacing_s}")
