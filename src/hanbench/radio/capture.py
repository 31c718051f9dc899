"""A packet capture of the virtual air, for Wireshark: what a sniffer beside the premises sees.

:class:`AirCapture` watches one or more :class:`~hanbench.radio.air.VirtualAir` (one per
premises, one after the other, all into one file) and writes every frame a node puts on the
air to a pcap file of link type 195, IEEE 802.15.4 with FCS (:mod:`hanbench.radio.pcap`).
The air carries zigpy packets, which hold only what the application layer sees (addresses,
endpoints, profile, cluster and the ZCL/ZDO payload), so the layers below are synthesised
around that payload the way a Zigbee PRO stack frames it, with the addresses and sequence
numbers the air gave the frame:

* MAC: a data frame with PAN ID compression, 16-bit destination and source addresses, the
  sender's data sequence number, acknowledgement requested for unicasts, and the FCS (the
  ITU-T CRC-16 of IEEE 802.15.4, so Wireshark checks it). The air is one hop, so the MAC
  addresses are the NWK addresses (0xFFFF for broadcasts and group frames).
* NWK: a data frame of protocol version 2 (Zigbee PRO), destination and source short
  addresses, radius (the packet's, else 30), the sender's NWK sequence number, and the
  destination's and source's IEEE addresses whenever the air knows them, so Wireshark can
  name each node by its EUI-64 (the device's entity ID).
* APS: a data frame, unicast, broadcast or group delivery, endpoints (group address for a
  group frame), cluster, profile (0x0109 Smart Energy, 0x0000 for ZDO) and the sender's
  APS counter; or an APS acknowledgement, which names the acknowledged frame's endpoints,
  cluster, profile and counter. An APS fragment (the air sends a unicast longer than one
  frame as fragments) and its acknowledgement carry the extended header: fragmentation
  (first, or part of a fragmented frame), block number (the block count in the first), and
  in the acknowledgement the ACK bitfield; Wireshark puts the fragments back together.

On the honest air (:mod:`hanbench.radio.mac`) the capture also holds what a sniffer sees of
the MAC: every retransmission (the same MAC sequence number again), the MAC
acknowledgements (frame pending set when a polling node has a frame waiting), a sleepy
node's Data Requests, and the APS acknowledgements. The free air has none of these.

Unsecured: real GB HAN traffic is NWK-encrypted and SE application traffic APS-encrypted
with link keys from CBKE, so a sniffer on a real premises sees ciphertext. This capture
shows the plaintext the bench exchanged, since the virtual air models no network security
(its timing counts the security headers' octets all the same).

Every frame put on the air is written, including a unicast the air then refuses (its
destination asleep or gone) or loses on the link, as a sniffer beside the sender would see
it.

Frames above 127 octets: the honest air sends a unicast longer than one frame as APS
fragments and the CH's radio refuses one, but a broadcast, and any frame on the free air,
travels whole, however long. It is written whole anyway, so the payload can be read, and
counted in :attr:`AirCapture.oversized`; Wireshark decodes it normally.

Records are in the order the frames went on the air. The honest air decides an exchange
(its ACKs, an APS ACK, retries) when it starts, so it reports frames a little ahead of their
time; the capture holds each until the loop's clock has passed it, and writes what it holds
when it stops watching an air.

Timestamps are the bench clock's reading at the frame's loop time: a capture of a 30-day
virtual run spans 30 days of bench-clock dates, not the milliseconds it took. Each premises
of a pytest run starts its clock at the bench file's ``start`` again, so premises after
premises the capture's time goes back to the start; Wireshark shows the frames in file order.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import zigpy.types as t

from hanbench.clock import BenchClock
from hanbench.errors import HanbenchError
from hanbench.radio.air import AirFrame, FrameNumbers, Fragment, MacFrame, MacFrameKind, Station, VirtualAir
from hanbench.radio.mac import MAX_PSDU_OCTETS
from hanbench.radio.pcap import LINKTYPE_IEEE802_15_4_WITHFCS, PcapWriter

#: NWK radius when the packet leaves it to the stack: 2 * nwkMaxDepth (15) in Zigbee PRO.
DEFAULT_RADIUS = 30
#: MAC destination of broadcasts and group frames.
MAC_BROADCAST = 0xFFFF

# IEEE 802.15.4 MAC frame control: frame type (data, ack, command), frame pending, ack
# request, PAN ID compression, short destination address, frame version 2003, short source.
_MAC_DATA = 0x0001
_MAC_ACK = 0x0002
_MAC_COMMAND = 0x0003
_MAC_FRAME_PENDING = 0x0010
_MAC_ACK_REQUEST = 0x0020
_MAC_PAN_ID_COMPRESSION = 0x0040
_MAC_DST_SHORT = 0x0800
_MAC_SRC_SHORT = 0x8000
#: MAC command frame identifier of a Data Request.
_MAC_DATA_REQUEST = 0x04
# Zigbee NWK frame control: data frame, protocol version 2, route discovery enabled,
# destination IEEE present, source IEEE present.
_NWK_DATA_PRO = 0x0008
_NWK_DISCOVER_ROUTE = 0x0040
_NWK_DST_IEEE = 0x0800
_NWK_SRC_IEEE = 0x1000
# Zigbee APS frame control: frame type data or ack; delivery mode in bits 2-3.
_APS_UNICAST = 0x00
_APS_ACK = 0x02
_APS_BROADCAST = 0x08
_APS_GROUP = 0x0C
_APS_EXTENDED_HEADER = 0x80
# APS extended frame control: the fragmentation field.
_APS_FIRST_FRAGMENT = 0x01
_APS_LATER_FRAGMENT = 0x02

_UNICAST_MODES = (t.AddrMode.NWK, t.AddrMode.IEEE)


def fcs(mpdu: bytes) -> bytes:
    """The 802.15.4 FCS of ``mpdu``: ITU-T CRC-16 (x^16 + x^12 + x^5 + 1), reflected, initial
    value 0, sent least significant octet first (the CRC some call CRC-16/KERMIT)."""
    crc = 0
    for octet in mpdu:
        crc ^= octet
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def zigbee_frame(packet: t.ZigbeePacket, src: Station, dst: Station, numbers: FrameNumbers, *, pan_id: int,
                 fragment: Fragment | None = None) -> bytes:
    """``packet`` as a complete 802.15.4 frame (MAC, NWK and APS headers, payload, FCS).

    ``dst`` is the NWK destination: a node for a unicast, the broadcast address for a
    broadcast, 0xFFFD (every node with its receiver on) for a group frame. A ``fragment``
    (``packet`` holding its payload) gets the APS extended header.
    """
    assert packet.dst is not None
    unicast = packet.dst.addr_mode in _UNICAST_MODES
    nwk = _nwk_header(packet.radius, src, dst, numbers.nwk, unicast=unicast)
    mpdu = _mac_header(src.nwk, dst.nwk if unicast else MAC_BROADCAST, numbers.mac, pan_id, unicast=unicast) \
        + nwk + _aps_header(packet, numbers.aps, fragment) + packet.data.serialize()
    return mpdu + fcs(mpdu)


def aps_ack_frame(acked: t.ZigbeePacket, src: Station, dst: Station, numbers: FrameNumbers, *, pan_id: int,
                  fragment: Fragment | None = None) -> bytes:
    """The APS acknowledgement ``src`` sends back for ``acked``, as a complete 802.15.4 frame.

    It names the acknowledged frame's endpoints the other way round, its cluster, profile
    and APS counter (``numbers.aps``), and carries no payload; for a ``fragment``, the
    extended header naming the block acknowledged (ACK bitfield: that one block).
    """
    nwk = _nwk_header(0, src, dst, numbers.nwk, unicast=True)
    control = _APS_ACK | (_APS_EXTENDED_HEADER if fragment is not None else 0)
    aps = struct.pack("<BBHHBB", control, acked.src_ep or 0, acked.cluster_id, acked.profile_id,
                      acked.dst_ep or 0, numbers.aps)
    if fragment is not None:  # the block acknowledged, and the ACK bitfield of a window of one
        aps += bytes([_APS_FIRST_FRAGMENT if fragment.number == 0 else _APS_LATER_FRAGMENT, fragment.number, 0x01])
    mpdu = _mac_header(src.nwk, dst.nwk, numbers.mac, pan_id, unicast=True) + nwk + aps
    return mpdu + fcs(mpdu)


def mac_ack_frame(sequence: int, *, frame_pending: bool = False) -> bytes:
    """An 802.15.4 immediate acknowledgement of the frame with MAC ``sequence``."""
    mpdu = struct.pack("<HB", _MAC_ACK | (_MAC_FRAME_PENDING if frame_pending else 0), sequence)
    return mpdu + fcs(mpdu)


def data_request_frame(sequence: int, src: Station, dst: Station, *, pan_id: int) -> bytes:
    """A sleepy node's MAC Data Request to its parent, short addresses, ACK requested."""
    control = _MAC_COMMAND | _MAC_ACK_REQUEST | _MAC_PAN_ID_COMPRESSION | _MAC_DST_SHORT | _MAC_SRC_SHORT
    mpdu = struct.pack("<HBHHHB", control, sequence, pan_id, dst.nwk, src.nwk, _MAC_DATA_REQUEST)
    return mpdu + fcs(mpdu)


def _mac_header(src: int, dst: int, sequence: int, pan_id: int, *, unicast: bool) -> bytes:
    control = _MAC_DATA | _MAC_PAN_ID_COMPRESSION | _MAC_DST_SHORT | _MAC_SRC_SHORT
    if unicast:
        control |= _MAC_ACK_REQUEST
    return struct.pack("<HBHHH", control, sequence, pan_id, dst, src)


def _nwk_header(radius: int, src: Station, dst: Station, sequence: int, *, unicast: bool) -> bytes:
    control = _NWK_DATA_PRO | (_NWK_DISCOVER_ROUTE if unicast else 0)
    extended = b""
    if unicast and dst.ieee is not None:
        control |= _NWK_DST_IEEE
        extended += dst.ieee.serialize()
    if src.ieee is not None:
        control |= _NWK_SRC_IEEE
        extended += src.ieee.serialize()
    return struct.pack("<HHHBB", control, dst.nwk, src.nwk, radius or DEFAULT_RADIUS, sequence) + extended


def _aps_header(packet: t.ZigbeePacket, counter: int, fragment: Fragment | None = None) -> bytes:
    assert packet.dst is not None
    mode = packet.dst.addr_mode
    extended = _APS_EXTENDED_HEADER if fragment is not None else 0
    if mode == t.AddrMode.Group:
        head = struct.pack("<BH", _APS_GROUP | extended, int(packet.dst.address))
    else:
        delivery = _APS_UNICAST if mode in _UNICAST_MODES else _APS_BROADCAST
        head = struct.pack("<BB", delivery | extended, packet.dst_ep or 0)
    tail = _extended_header(fragment) if fragment is not None else b""
    return head + struct.pack("<HHBB", packet.cluster_id, packet.profile_id, packet.src_ep or 0, counter) + tail


def _extended_header(fragment: Fragment) -> bytes:
    """Extended frame control and block number: the first fragment carries the block count."""
    if fragment.number == 0:
        return bytes([_APS_FIRST_FRAGMENT, fragment.count])
    return bytes([_APS_LATER_FRAGMENT, fragment.number])


def frame_bytes(frame: AirFrame | MacFrame, *, pan_id: int) -> bytes:
    """The octets a sniffer records for ``frame`` (FCS included)."""
    if isinstance(frame, MacFrame):
        if frame.kind is MacFrameKind.ACK:
            return mac_ack_frame(frame.sequence, frame_pending=frame.frame_pending)
        assert frame.src is not None and frame.dst is not None
        return data_request_frame(frame.sequence, frame.src, frame.dst, pan_id=pan_id)
    if frame.aps_ack:
        return aps_ack_frame(frame.packet, frame.src, frame.dst, frame.numbers, pan_id=pan_id, fragment=frame.fragment)
    return zigbee_frame(frame.packet, frame.src, frame.dst, frame.numbers, pan_id=pan_id, fragment=frame.fragment)


class AirCapture:
    """Every frame of the airs it watches, in one pcap file (see the module docstring).

    Close it (or leave its ``with`` block, even by an exception: the capture of a failed
    session is the one worth reading) to get the file under its name. Should the file
    fail to be written, the air is not disturbed: nothing more is written, the partial
    file is removed at close, and close raises
    :class:`~hanbench.radio.pcap.PcapWriteFailed`.
    """

    def __init__(self, path: Path | str) -> None:
        self._writer = PcapWriter(path, LINKTYPE_IEEE802_15_4_WITHFCS)
        #: Frames written so far.
        self.frames = 0
        #: Of those, frames longer than an 802.15.4 PSDU (the air does not fragment).
        self.oversized = 0
        self._failure: HanbenchError | None = None
        self._order = itertools.count()
        self._flushes: dict[int, Callable[[], None]] = {}

    @property
    def path(self) -> Path:
        """The file the capture will be under once closed."""
        return self._writer.path

    def watch(self, air: VirtualAir, clock: BenchClock, *, pan_id: int) -> Callable[[], None]:
        """Capture every frame on ``air`` from now on, stamped by ``clock``; returns what
        stops it, writing the frames still held (closing the capture writes them too).

        ``pan_id`` is the network's PAN ID, for the MAC header (the air itself has none).
        """

        held: list[tuple[float, int, bytes]] = []

        def write_until(loop_time: float) -> None:
            while held and held[0][0] <= loop_time:
                at, _, octets = heapq.heappop(held)
                self._write(clock, at, octets)

        def observe(frame: AirFrame | MacFrame) -> None:
            heapq.heappush(held, (frame.loop_time, next(self._order), frame_bytes(frame, pan_id=pan_id)))
            # A frame is never reported for a time before the loop's clock: what is due is final.
            write_until(clock.loop.time())

        token = next(self._order)
        self._flushes[token] = lambda: write_until(float("inf"))
        remove = air.add_observer(observe)

        def stop() -> None:
            remove()
            flush = self._flushes.pop(token, None)
            if flush is not None:
                flush()

        return stop

    def _write(self, clock: BenchClock, loop_time: float, frame: bytes) -> None:
        if self._failure is not None:
            return
        try:
            self._writer.write(clock.at(loop_time), frame)
        except HanbenchError as exc:
            # Raised here it would reach the sender as if its transmission had failed.
            self._failure = exc
            self._writer.discard()
            return
        self.frames += 1
        self.oversized += len(frame) > MAX_PSDU_OCTETS

    def close(self) -> None:
        """Write the file under its name, or raise why it could not be written."""
        for flush in list(self._flushes.values()):
            flush()
        self._flushes.clear()
        if self._failure is not None:
            raise self._failure
        self._writer.close()

    def __enter__(self) -> AirCapture:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
