"""The IEEE 802.15.4 MAC of the honest air: one shared 2.4 GHz channel, CSMA-CA, ACKs, retries.

:class:`Channel` is the radio channel of one premises. Every frame any node of the premises
sends takes its turn on it, so N transfers in one premises share the one 250 kbit/s channel.
A transmission goes the way an 802.15.4-2006 MAC sends it (section 7.5.1.4, unslotted
CSMA-CA, and 7.5.6.4, retransmissions):

1. back off a random number of unit backoff periods in ``[0, 2**BE - 1]``, BE starting at
   macMinBE; then a clear channel assessment (CCA). Busy: BE grows up to macMaxBE and the
   node backs off again, at most macMaxCSMABackoffs times, then reports a channel access
   failure. Idle: turn the radio round (aTurnaroundTime) and send;
2. a frame that asks for an acknowledgement gets the receiver's ACK aTurnaroundTime after
   its end. Without one within macAckWaitDuration the sender retries from step 1, at most
   macMaxFrameRetries times;
3. after the exchange the channel is kept for the inter-frame spacing: LIFS after a frame
   longer than aMaxSIFSFrameSize, else SIFS.

Every figure is the standard's default; :class:`MacConstants` names them with their sources.
The O-QPSK PHY sends 62.5 ksymbol/s, 2 symbols per octet (250 kbit/s).

What is simplified, and why it does not change a transfer's time:

* No collisions. An exchange is decided when its sender starts it: backoffs, losses and
  retries are drawn at once and the channel reserves their airtime. A node that starts
  later sends in a gap the exchange fits in; when its CCA falls in a gap too short for it,
  it waits for the frame already decided rather than collide with it (a real channel loses
  a few such frames per thousand at this load, and the node that waits may be the other).

Octets on the air, per frame (the Zigbee PRO frame formats; see :func:`data_frame_octets`):

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
                               src endpoint 1, counter 1 (the same for an APS ACK)
APS security            9      auxiliary header 5 (control 1, counter 4) and MIC 4: Smart
                               Energy frames are APS-encrypted with the link key
======================  =====  ============================================================

A MAC ACK is 11 octets (PHY 6, frame control 2, sequence 1, FCS 2), a Data Request 18 (PHY
6, MAC header 9 with short addresses, command 1, FCS 2). A unicast payload longer than one
frame holds goes as APS fragments (:func:`aps_fragment_octets` each, behind the 3-octet APS
extended header), one frame and one APS ACK per fragment (see :mod:`hanbench.radio.air`).
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections.abc import Callable
from typing import NamedTuple

#: O-QPSK in the 2.4 GHz band: 62.5 ksymbol/s (802.15.4-2006 section 6.5.3.2).
SYMBOL_S = 16e-6
#: 2 symbols per octet: 250 kbit/s.
OCTET_S = 2 * SYMBOL_S
BITRATE_2_4_GHZ_BPS = 250_000

PHY_OCTETS = 6
MAC_DATA_OCTETS = 11
NWK_OCTETS = 8
NWK_SECURITY_OCTETS = 18
APS_OCTETS = 8
APS_SECURITY_OCTETS = 9
#: Octets a Zigbee data frame carries besides its APS payload, without APS security.
FRAME_OVERHEAD_OCTETS = PHY_OCTETS + MAC_DATA_OCTETS + NWK_OCTETS + NWK_SECURITY_OCTETS + APS_OCTETS
#: An immediate acknowledgement: PHY 6, frame control 2, sequence 1, FCS 2.
ACK_OCTETS = PHY_OCTETS + 5
#: A MAC Data Request command with short addresses: PHY 6, MAC header 9, command 1, FCS 2.
DATA_REQUEST_OCTETS = PHY_OCTETS + 12
#: aMaxSIFSFrameSize: an MPDU up to this long is followed by SIFS, a longer one by LIFS.
MAX_SIFS_FRAME_OCTETS = 18
#: aMaxPHYPacketSize: the longest MPDU (MAC frame with FCS).
MAX_PSDU_OCTETS = 127


#: The longest APS payload one frame carries without APS security: 127 - 11 - 8 - 18 - 8 = 82, the
#: figure EmberZNet's emberMaximumApsPayloadLength gives and its node descriptor announces.
MAX_APS_PAYLOAD_OCTETS = MAX_PSDU_OCTETS - MAC_DATA_OCTETS - NWK_OCTETS - NWK_SECURITY_OCTETS - APS_OCTETS


def max_aps_payload_octets(*, aps_secured: bool) -> int:
    """The longest APS payload one frame carries, with or without APS security (9 octets less)."""
    return MAX_APS_PAYLOAD_OCTETS - (APS_SECURITY_OCTETS if aps_secured else 0)


#: The APS extended header of a fragment: extended frame control, block number, ACK bitfield.
APS_FRAGMENT_HEADER_OCTETS = 3


def aps_fragment_octets(*, aps_secured: bool) -> int:
    """The APS payload one fragment of a longer message carries: one frame's, less the
    extended header, so a full fragment fills an MPDU of :data:`MAX_PSDU_OCTETS`."""
    return max_aps_payload_octets(aps_secured=aps_secured) - APS_FRAGMENT_HEADER_OCTETS


def data_frame_octets(payload_octets: int, *, aps_secured: bool = False) -> int:
    """Octets on the air of a Zigbee data frame whose APS payload is ``payload_octets`` long."""
    return FRAME_OVERHEAD_OCTETS + (APS_SECURITY_OCTETS if aps_secured else 0) + payload_octets


def aps_ack_octets(*, aps_secured: bool = False) -> int:
    """Octets on the air of an APS acknowledgement (an APS frame with no payload)."""
    return data_frame_octets(0, aps_secured=aps_secured)


def airtime_s(octets: int) -> float:
    """Seconds ``octets`` (PHY header included) take on the air at 250 kbit/s."""
    return octets * OCTET_S


@dataclasses.dataclass(frozen=True)
class MacConstants:
    """The 802.15.4 and Zigbee PRO figures the honest air uses, each the standard's default.

    802.15.4-2006 Table 86 (MAC PIB) and Table 85 (MAC constants): ``min_be`` macMinBE 3,
    ``max_be`` macMaxBE 5, ``max_csma_backoffs`` macMaxCSMABackoffs 4, ``max_frame_retries``
    macMaxFrameRetries 3, ``unit_backoff_s`` aUnitBackoffPeriod 20 symbols, ``cca_s`` the CCA
    detection time 8 symbols (section 6.9.9), ``turnaround_s`` aTurnaroundTime 12 symbols,
    ``ack_wait_s`` macAckWaitDuration = aUnitBackoffPeriod + aTurnaroundTime + phySHRDuration
    + 6 * phySymbolsPerOctet = 20 + 12 + 10 + 12 = 54 symbols, ``sifs_s``/``lifs_s``
    macMinSIFSPeriod 12 and macMinLIFSPeriod 40 symbols.

    Zigbee PRO, as EmberZNet implements it: ``aps_ack_wait_s`` the APS ACK timeout, 50 ms per
    hop times EMBER_MAX_HOPS 30 plus 100 ms for the terminal's security (apscAckWaitDuration,
    1.6 s); ``aps_max_retries`` apscMaxFrameRetries 3; ``indirect_timeout_s`` how long a
    parent holds a frame for a sleepy child that does not poll (EZSP_CONFIG_INDIRECT_-
    TRANSMISSION_TIMEOUT, 7,680 ms for stack profile 2).
    """

    min_be: int = 3
    max_be: int = 5
    max_csma_backoffs: int = 4
    max_frame_retries: int = 3
    unit_backoff_s: float = 20 * SYMBOL_S
    cca_s: float = 8 * SYMBOL_S
    turnaround_s: float = 12 * SYMBOL_S
    ack_wait_s: float = 54 * SYMBOL_S
    sifs_s: float = 12 * SYMBOL_S
    lifs_s: float = 40 * SYMBOL_S
    aps_ack_wait_s: float = 1.6
    aps_max_retries: int = 3
    indirect_timeout_s: float = 7.68


@dataclasses.dataclass
class ChannelStats:
    """What the channel carried, for benchmarks and tests."""

    frames: int = 0          #: MPDUs sent, first attempts and retries, ACKs not included
    acks: int = 0            #: MAC acknowledgements sent
    retries: int = 0         #: MAC retransmissions
    access_failures: int = 0  #: transmissions given up after macMaxCSMABackoffs busy CCAs
    busy_s: float = 0.0      #: seconds the channel was reserved


class Sent(NamedTuple):
    """How one MAC transmission (with its retries) ended.

    ``acked``: the sender holds an acknowledgement (always True for a frame that asks for
    none, once it is on the air). ``done_at``: when the sender knows. ``received_at``: when
    the receiver first had the whole frame, ``None`` if never. A named tuple: one is made for
    every MPDU, ACK and poll, and a tuple is built for a fifth of a frozen dataclass's cost.
    """

    acked: bool
    done_at: float
    received_at: float | None
    attempts: int


FrameHook = Callable[[float, int], None]
"""Called as ``hook(start_time, attempt)`` for each frame (or ACK) the channel puts on the air."""

LossDraw = Callable[[int], bool]
"""Called as ``lost(octets)`` for each frame (or ACK) of ``octets`` on the air: whether the
receiver misses it. A link's :meth:`~hanbench.radio.link.Link.lost` is one."""


#: How many reservations a channel keeps before it forgets those that ended (see Channel).
_FORGET_ABOVE = 32


class Channel:
    """The one radio channel of a premises; see the module docstring.

    ``random`` draws the backoffs, so a fixed seed gives the same timings on every run.
    ``clock`` is the loop's time: reservations that ended before it are forgotten (a send
    may be decided for a later time, an APS ACK or a retry, but never for an earlier one).
    Forgetting only keeps the lists short (a reservation that ended before the clock lies
    before any send's start, and changes no decision), so it waits until
    ``_FORGET_ABOVE`` reservations are kept rather than read the clock on every send.
    """

    def __init__(self, constants: MacConstants, rng: random.Random, clock: Callable[[], float]) -> None:
        self.constants = constants
        self.stats = ChannelStats()
        self._randrange = rng.randrange
        self._clock = clock
        # Reserved (start, end) intervals, sorted, not overlapping.
        self._starts: list[float] = []
        self._ends: list[float] = []
        # What every acknowledged frame adds after its own airtime: the turnaround and the ACK.
        self._ack_s = airtime_s(ACK_OCTETS)
        self._ack_span_s = constants.turnaround_s + self._ack_s

    def send(self, now: float, octets: int, *, acked: bool, frame_lost: LossDraw, ack_lost: LossDraw,
             on_frame: FrameHook | None = None, on_ack: FrameHook | None = None) -> Sent:
        """Send one MPDU of ``octets`` from loop time ``now``, with CSMA-CA and, if ``acked``,
        the MAC's retries; ``frame_lost``/``ack_lost`` draw whether each attempt and each ACK
        is lost, ``on_frame``/``on_ack`` (if given) are told of every frame put on the air.

        The whole exchange is decided here, in one call: one send costs the loop nothing but
        the caller's wait for ``done_at``."""
        c = self.constants
        stats = self.stats
        if len(self._ends) > _FORGET_ABOVE:
            self._forget_before(self._clock())
        frame_s = octets * OCTET_S
        span = frame_s + self._ack_span_s if acked else frame_s
        spacing = c.lifs_s if octets - PHY_OCTETS > MAX_SIFS_FRAME_OCTETS else c.sifs_s
        received_at: float | None = None
        at = now
        attempts = 1 + (c.max_frame_retries if acked else 0)
        for attempt in range(attempts):
            start, at = self._access(at, span + spacing)
            if start is None:
                stats.access_failures += 1
                return Sent(False, at, received_at, attempt + 1)
            stats.frames += 1
            if attempt:
                stats.retries += 1
            if on_frame is not None:
                on_frame(start, attempt)
            end = start + frame_s
            lost = frame_lost(octets)
            if not lost and received_at is None:
                received_at = end
            if not acked:
                self._reserve(start, end + spacing)
                return Sent(True, end, received_at, attempt + 1)
            if lost:  # no ACK comes: the channel is free again once the frame ends
                self._reserve(start, end)
                at = end + c.ack_wait_s
                continue
            ack_start = end + c.turnaround_s
            stats.acks += 1
            if on_ack is not None:
                on_ack(ack_start, attempt)
            if ack_lost(ACK_OCTETS):  # the sender retries once its ACK wait is over
                self._reserve(start, start + span)
                at = end + c.ack_wait_s
                continue
            self._reserve(start, start + span + spacing)
            return Sent(True, ack_start + self._ack_s, received_at, attempt + 1)
        return Sent(False, at, received_at, attempts)

    def _access(self, now: float, duration: float) -> tuple[float | None, float]:
        """Unslotted CSMA-CA from ``now`` for a transmission that keeps the channel
        ``duration`` once started: (its start, the time CSMA ended), or (None, the time of
        the channel access failure)."""
        c = self.constants
        randrange, unit_backoff_s, cca_s, turnaround_s = self._randrange, c.unit_backoff_s, c.cca_s, c.turnaround_s
        starts, ends = self._starts, self._ends
        be, busy, at = c.min_be, 0, now
        while True:
            at += randrange(1 << be) * unit_backoff_s
            start = at + cca_s + turnaround_s
            # The first reservation that overlaps [at, start + duration), if any: reservations
            # are sorted and disjoint, so it is the first one still running at ``at``.
            blocking = bisect.bisect_right(ends, at)
            if blocking == len(starts) or starts[blocking] >= start + duration:
                return start, start
            if starts[blocking] < at + cca_s:  # on the air during the CCA: busy
                busy += 1
                if busy > c.max_csma_backoffs:
                    return None, at + cca_s
                be = min(be + 1, c.max_be)
                at += cca_s
            else:
                # Idle at the CCA, but a frame another node decided on starts before this one
                # could end: on a real channel one of them would wait for the other. Here
                # this one does, without counting a busy CCA.
                at = ends[blocking]

    def _forget_before(self, now: float) -> None:
        ended = bisect.bisect_right(self._ends, now)
        if ended:
            del self._starts[:ended], self._ends[:ended]

    def _reserve(self, start: float, end: float) -> None:
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, end)
        self.stats.busy_s += end - start
