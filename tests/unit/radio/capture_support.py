"""Reading a capture back the way a dissector does, from the published layouts alone.

Written from pcap-savefile(5), IEEE 802.15.4 (MAC frame format, FCS) and the Zigbee
specification (NWK and APS frame formats), not from :mod:`hanbench.radio.capture`, so a
test that compares the two checks the capture against the standards, not against itself.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class PcapFile:
    magic: int
    version: tuple[int, int]
    zone: int
    sigfigs: int
    snaplen: int
    linktype: int
    records: tuple[PcapRecord, ...]


@dataclasses.dataclass(frozen=True)
class PcapRecord:
    seconds: int
    micros: int
    captured: int
    original: int
    data: bytes


def read_pcap(path: Path) -> PcapFile:
    raw = path.read_bytes()
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", raw, 0)
    records, offset = [], 24
    while offset < len(raw):
        seconds, micros, captured, original = struct.unpack_from("<IIII", raw, offset)
        data = raw[offset + 16:offset + 16 + captured]
        assert len(data) == captured, f"record at {offset} is cut short"
        records.append(PcapRecord(seconds, micros, captured, original, data))
        offset += 16 + captured
    return PcapFile(magic, (major, minor), zone, sigfigs, snaplen, linktype, tuple(records))


def crc16_by_the_standard(octets: bytes) -> int:
    """IEEE 802.15.4 FCS: G(x) = x^16 + x^12 + x^5 + 1 on a register cleared to zero, each
    octet fed least significant bit first; the register's r0 is the first bit sent, so the
    value, read as a number, is the register bit-reversed."""
    register = 0
    for octet in octets:
        for i in range(8):
            feedback = ((octet >> i) & 1) ^ (register >> 15)
            register = ((register << 1) & 0xFFFF) ^ (0x1021 if feedback else 0)
    return int(f"{register:016b}"[::-1], 2)


@dataclasses.dataclass(frozen=True)
class ZigbeeFrame:
    """The fields of a MAC data frame carrying a Zigbee NWK data frame and an APS data frame
    (or an APS acknowledgement, which has the same fields and no payload)."""

    mac_control: int
    mac_sequence: int
    pan_id: int
    mac_dst: int
    mac_src: int
    nwk_control: int
    nwk_dst: int
    nwk_src: int
    radius: int
    nwk_sequence: int
    nwk_dst_ieee: bytes | None
    nwk_src_ieee: bytes | None
    aps_control: int
    dst_endpoint: int | None
    group: int | None
    cluster: int
    profile: int
    src_endpoint: int
    aps_counter: int
    payload: bytes
    fcs: int
    fcs_ok: bool

    @property
    def delivery_mode(self) -> int:
        return (self.aps_control >> 2) & 0b11

    @property
    def aps_ack(self) -> bool:
        """APS frame type 0b10: an acknowledgement."""
        return self.aps_control & 0b11 == 0b10


@dataclasses.dataclass(frozen=True)
class MacCommandOrAck:
    """An 802.15.4 frame with no Zigbee payload: an acknowledgement (frame type 0b010) or a
    MAC command (0b011) such as the Data Request (command identifier 0x04)."""

    mac_control: int
    mac_sequence: int
    mac_dst: int | None
    mac_src: int | None
    command: int | None
    fcs_ok: bool

    @property
    def is_ack(self) -> bool:
        return self.mac_control & 0b111 == 0b010

    @property
    def frame_pending(self) -> bool:
        return bool(self.mac_control & 0x0010)

    @property
    def is_data_request(self) -> bool:
        return self.mac_control & 0b111 == 0b011 and self.command == 0x04


def parse_any(frame: bytes) -> ZigbeeFrame | MacCommandOrAck:
    """A data frame as :func:`parse_frame` reads it; an ACK or a short-addressed MAC command."""
    mac_control, mac_sequence = struct.unpack_from("<HB", frame, 0)
    fcs_ok = crc16_by_the_standard(frame[:-2]) == struct.unpack_from("<H", frame, len(frame) - 2)[0]
    frame_type = mac_control & 0b111
    if frame_type == 0b010:
        assert len(frame) == 5, "an immediate ACK is frame control, sequence and FCS"
        return MacCommandOrAck(mac_control, mac_sequence, None, None, None, fcs_ok)
    if frame_type == 0b011:
        assert (mac_control >> 6) & 1 and (mac_control >> 10) & 0b11 == 2 and (mac_control >> 14) & 0b11 == 2
        _, mac_dst, mac_src, command = struct.unpack_from("<HHHB", frame, 3)
        return MacCommandOrAck(mac_control, mac_sequence, mac_dst, mac_src, command, fcs_ok)
    return parse_frame(frame)


def parse_frame(frame: bytes) -> ZigbeeFrame:
    """Short-addressed, PAN-ID-compressed MAC data frames only: what the capture writes."""
    mac_control, mac_sequence, pan_id, mac_dst, mac_src = struct.unpack_from("<HBHHH", frame, 0)
    assert mac_control & 0b111 == 1, "not a MAC data frame"
    assert (mac_control >> 6) & 1 and (mac_control >> 10) & 0b11 == 2 and (mac_control >> 14) & 0b11 == 2
    offset = 9
    nwk_control, nwk_dst, nwk_src, radius, nwk_sequence = struct.unpack_from("<HHHBB", frame, offset)
    offset += 8
    dst_ieee = src_ieee = None
    if nwk_control & 0x0800:
        dst_ieee, offset = frame[offset:offset + 8], offset + 8
    if nwk_control & 0x1000:
        src_ieee, offset = frame[offset:offset + 8], offset + 8
    aps_control = frame[offset]
    offset += 1
    dst_endpoint = group = None
    if (aps_control >> 2) & 0b11 == 0b11:
        (group,), offset = struct.unpack_from("<H", frame, offset), offset + 2
    else:
        dst_endpoint, offset = frame[offset], offset + 1
    cluster, profile, src_endpoint, aps_counter = struct.unpack_from("<HHBB", frame, offset)
    offset += 6
    (fcs,) = struct.unpack_from("<H", frame, len(frame) - 2)
    return ZigbeeFrame(mac_control, mac_sequence, pan_id, mac_dst, mac_src, nwk_control, nwk_dst, nwk_src, radius,
                       nwk_sequence, dst_ieee, src_ieee, aps_control, dst_endpoint, group, cluster, profile,
                       src_endpoint, aps_counter, frame[offset:-2], fcs, crc16_by_the_standard(frame[:-2]) == fcs)
