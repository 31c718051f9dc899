"""The radio link between two nodes on the virtual air: delay, loss and traffic counters.

A link models what one 802.15.4 hop costs a frame: a fixed propagation/processing
latency, the airtime of the frame at the O-QPSK 2.4 GHz bit rate, and a probability that
the frame (with all its MAC/APS retries) never arrives. The default model costs nothing so
unit tests run at loop speed; benchmarks and fault-injection tests switch the costs on.

Airtime is computed from the bytes a real frame would put on the air. The overhead this
module adds to the APS payload (``ZigbeePacket.data``) is, per frame:

======================  =====  ============================================================
layer                   bytes  what
======================  =====  ============================================================
PHY                     6      preamble 4, SFD 1, PHR 1
MAC                     11     frame control 2, sequence 1, PAN ID 2, short dst 2,
                               short src 2, FCS 2
NWK                     8      frame control 2, dst 2, src 2, radius 1, sequence 1
NWK security            18     auxiliary header 14 (control 1, counter 4, source IEEE 8,
                               key sequence 1) and MIC 4; every Zigbee PRO frame carries it
APS                     8      frame control 1, dst endpoint 1, cluster 2, profile 2,
                               src endpoint 1, counter 1
======================  =====  ============================================================

so :data:`FRAME_OVERHEAD_OCTETS` = 51. APS fragmentation of payloads above the 127-byte PSDU
is not modelled: a large payload is costed as one long frame.
"""

from __future__ import annotations

import dataclasses
import random

from hanbench.errors import BadInput

#: 802.15.4 O-QPSK in the 2.4 GHz band.
BITRATE_2_4_GHZ_BPS = 250_000

#: Octets a frame carries on the air besides its APS payload (see the module docstring).
FRAME_OVERHEAD_OCTETS = 6 + 11 + 8 + 18 + 8


def frame_octets(payload_octets: int) -> int:
    """Octets on the air for a frame whose APS payload is ``payload_octets`` long."""
    return FRAME_OVERHEAD_OCTETS + payload_octets


@dataclasses.dataclass(frozen=True)
class LinkModel:
    """Costs of one directed hop. The default is free: no delay, no airtime, no loss.

    ``latency_s`` is added to every frame. ``bitrate_bps`` switches airtime on: a frame
    then also takes ``frame_octets(len(data)) * 8 / bitrate_bps`` seconds, and frames on the
    same link queue behind each other (the channel is busy while one is on the air).
    ``loss`` is the probability that a frame is lost for good, i.e. after the retries the
    MAC and APS layers would have made.
    """

    latency_s: float = 0.0
    bitrate_bps: float | None = None
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_s < 0:
            raise BadInput(f"link latency must be >= 0 s, got {self.latency_s}")
        if self.bitrate_bps is not None and self.bitrate_bps <= 0:
            raise BadInput(f"link bit rate must be > 0 bit/s, got {self.bitrate_bps}")
        if not 0.0 <= self.loss <= 1.0:
            raise BadInput(f"link loss probability must be within [0, 1], got {self.loss}")

    @classmethod
    def radio(cls, *, latency_s: float = 0.0, loss: float = 0.0) -> LinkModel:
        """A link that charges 2.4 GHz airtime, plus the given latency and loss."""
        return cls(latency_s=latency_s, bitrate_bps=BITRATE_2_4_GHZ_BPS, loss=loss)

    def airtime_s(self, payload_octets: int) -> float:
        """Seconds a frame with this APS payload occupies the channel (0 if not modelled)."""
        if self.bitrate_bps is None:
            return 0.0
        return frame_octets(payload_octets) * 8 / self.bitrate_bps


@dataclasses.dataclass
class LinkStats:
    """Traffic counters of one directed link, for benchmarks and the session record."""

    frames: int = 0
    octets: int = 0
    lost: int = 0


class Link:
    """One directed hop in use: its model, its own seeded loss draw, its counters.

    Each link draws losses from its own ``random.Random`` seeded from the air's seed and the
    two end points, so whether frame *n* on a link is lost does not depend on traffic
    elsewhere on the air: a fixed seed drops the same frames on every run.
    """

    def __init__(self, model: LinkModel, seed: str) -> None:
        self.model = model
        self.stats = LinkStats()
        self._random = random.Random(seed)
        self.busy_until = 0.0

    def send(self, payload_octets: int, now: float) -> float | None:
        """Account for one frame starting at loop time ``now``.

        Returns the loop time at which the frame arrives, or ``None`` if it is lost.
        """
        self.stats.frames += 1
        self.stats.octets += frame_octets(payload_octets)
        # Draw on every frame, so the loss pattern depends only on the frame's index.
        lost = self._random.random() < self.model.loss
        start = max(now, self.busy_until)
        end_of_airtime = start + self.model.airtime_s(payload_octets)
        self.busy_until = end_of_airtime
        if lost:
            self.stats.lost += 1
            return None
        return end_of_airtime + self.model.latency_s
