"""The air capture's bytes: pcap headers, the synthesised 802.15.4/NWK/APS frame, the FCS,
timestamps on the bench clock, sequence numbers, and a file that is whole or absent."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
import zigpy.exceptions
import zigpy.types as t
from capture_support import crc16_by_the_standard, parse_frame, read_pcap
from test_air import BROADCAST, RecordingNode, air_with, nwk, packet

from hanbench.clock import BenchClock
from hanbench.errors import BadInput
from hanbench.radio.air import VirtualAir
from hanbench.radio.capture import AirCapture, fcs
from hanbench.radio.pcap import PcapTimeOutOfRange

pytestmark = pytest.mark.looptime

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
PAN = 0x1A62
HUB_IEEE = t.EUI64.convert("00:0b:57:ff:fe:00:00:01")
ESME_IEEE = t.EUI64.convert("00:db:12:34:56:78:91:00")
# ZCL OTA Query Next Image Request: cluster-specific, client to server, TSN 5, command 0x01,
# field control 0, manufacturer 0x1234, image type 0x0001, file version 0x00000001.
QUERY_NEXT_IMAGE = bytes.fromhex("01" "05" "01" "00" "3412" "0100" "01000000")


def hub_and_esme() -> tuple[RecordingNode, RecordingNode]:
    return RecordingNode(t.NWK(0x0000), HUB_IEEE), RecordingNode(t.NWK(0x1000), ESME_IEEE)

Step = tuple[float, t.ZigbeePacket]  # seconds to wait, then send


async def _send(air: VirtualAir, steps: Sequence[Step]) -> None:
    for delay, frame in steps:
        await asyncio.sleep(delay)
        try:
            await air.transmit(frame)
        except zigpy.exceptions.DeliveryError:
            pass  # a refused unicast was still put on the air


async def capture(path: Path | str, steps: Sequence[Step], *, start: dt.datetime = START) -> AirCapture:
    """Send ``steps`` on an air with the hub and the ESME, captured into ``path``."""
    air = air_with(*hub_and_esme())
    with AirCapture(path) as air_capture:
        air_capture.watch(air, BenchClock(start), pan_id=PAN)
        await _send(air, steps)
    return air_capture


def from_esme(payload: bytes = QUERY_NEXT_IMAGE) -> t.ZigbeePacket:
    return packet(0x1000, nwk(0x0000), payload)


async def test_the_file_is_libpcap_of_802_15_4_with_fcs(tmp_path: Path) -> None:
    await capture(tmp_path / "air.pcap", [(0, from_esme())])
    raw = (tmp_path / "air.pcap").read_bytes()
    assert raw[:24] == bytes.fromhex("d4c3b2a1" "0200" "0400" "00000000" "00000000" "ffff0000" "c3000000")
    pcap = read_pcap(tmp_path / "air.pcap")
    assert (pcap.magic, pcap.version, pcap.linktype, pcap.snaplen) == (0xA1B2C3D4, (2, 4), 195, 65535)
    assert len(pcap.records) == 1


async def test_a_unicast_frame_has_the_mac_nwk_and_aps_headers_a_zigbee_pro_stack_sends(tmp_path: Path) -> None:
    await capture(tmp_path / "air.pcap", [(0, from_esme())])
    frame = read_pcap(tmp_path / "air.pcap").records[0].data
    mac = "6188" "00" "621a" "0000" "0010"  # data, ack request, PAN ID compression, short/short; seq; PAN; dst; src
    nwk_header = ("4818" "0000" "0010" "1e" "00"  # data, version 2, discover route, dst IEEE, src IEEE; radius 30
                  "010000feff570b00" "009178563412db00")  # dst and src IEEE addresses, least octet first
    aps = "00" "01" "1900" "0901" "01" "00"  # data, unicast; dst ep 1; OTA cluster; SE profile; src ep 1; counter
    body = bytes.fromhex(mac + nwk_header + aps) + QUERY_NEXT_IMAGE
    assert frame[:-2] == body
    assert frame[-2:] == crc16_by_the_standard(body).to_bytes(2, "little")
    parsed = parse_frame(frame)
    assert parsed.fcs_ok and parsed.payload == QUERY_NEXT_IMAGE
    assert (parsed.cluster, parsed.profile, parsed.dst_endpoint, parsed.src_endpoint) == (0x0019, 0x0109, 1, 1)


def test_the_fcs_is_the_itu_crc_of_802_15_4() -> None:
    assert fcs(b"123456789") == (0x2189).to_bytes(2, "little")  # the published check value
    assert fcs(b"123456789") == crc16_by_the_standard(b"123456789").to_bytes(2, "little")
    assert fcs(b"") == b"\x00\x00"


async def test_records_are_stamped_with_the_bench_clock_not_the_run_time(tmp_path: Path) -> None:
    month = 30 * 86400
    await capture(tmp_path / "air.pcap", [(0, from_esme()), (month + 0.25, from_esme())])
    first, second = read_pcap(tmp_path / "air.pcap").records
    assert (first.seconds, first.micros) == (int(START.timestamp()), 0)
    assert (second.seconds, second.micros) == (int(START.timestamp()) + month, 250_000)
    assert first.captured == first.original == len(first.data)


async def test_broadcast_and_group_frames(tmp_path: Path) -> None:
    group = t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=0x0A0B)
    await capture(tmp_path / "air.pcap", [(0, packet(0x0000, BROADCAST)), (0, packet(0x0000, group))])
    broadcast, grouped = (parse_frame(r.data) for r in read_pcap(tmp_path / "air.pcap").records)
    assert broadcast.mac_control & 0x0020 == 0, "nothing acknowledges a broadcast"
    assert (broadcast.mac_dst, broadcast.nwk_dst, broadcast.nwk_dst_ieee) == (0xFFFF, 0xFFFF, None)
    assert (broadcast.delivery_mode, broadcast.dst_endpoint) == (0b10, 1)
    assert broadcast.nwk_src_ieee == HUB_IEEE.serialize()
    assert (grouped.mac_dst, grouped.nwk_dst) == (0xFFFF, 0xFFFD)
    assert (grouped.delivery_mode, grouped.group, grouped.dst_endpoint) == (0b11, 0x0A0B, None)
    assert grouped.fcs_ok and broadcast.fcs_ok


async def test_each_sender_numbers_its_frames_and_the_numbers_wrap(tmp_path: Path) -> None:
    steps = [(0, from_esme()) for _ in range(257)] + [(0, packet(0x0000, nwk(0x1000)))]
    await capture(tmp_path / "air.pcap", steps)
    frames = [parse_frame(r.data) for r in read_pcap(tmp_path / "air.pcap").records]
    esme = [(f.mac_sequence, f.nwk_sequence, f.aps_counter) for f in frames if f.nwk_src == 0x1000]
    assert esme[:2] == [(0, 0, 0), (1, 1, 1)] and esme[255:] == [(255, 255, 255), (0, 0, 0)]
    hub = [(f.mac_sequence, f.nwk_sequence, f.aps_counter) for f in frames if f.nwk_src == 0x0000]
    assert hub == [(0, 0, 0)]


async def test_a_unicast_to_a_node_not_on_the_air_is_still_on_the_capture(tmp_path: Path) -> None:
    await capture(tmp_path / "air.pcap", [(0, packet(0x0000, nwk(0x2222)))])
    (frame,) = (parse_frame(r.data) for r in read_pcap(tmp_path / "air.pcap").records)
    assert (frame.mac_dst, frame.nwk_dst, frame.nwk_dst_ieee) == (0x2222, 0x2222, None)


async def test_a_frame_longer_than_127_octets_is_written_whole_and_counted(tmp_path: Path) -> None:
    payload = bytes(range(150))
    done = await capture(tmp_path / "air.pcap", [(0, from_esme(payload)), (0, from_esme())])
    big, small = read_pcap(tmp_path / "air.pcap").records
    assert big.captured == big.original > 127 and parse_frame(big.data).payload == payload
    assert small.captured < 127
    assert (done.frames, done.oversized) == (2, 1)


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


async def test_the_file_appears_under_its_name_only_when_closed(tmp_path: Path) -> None:
    target = tmp_path / "air.pcap"
    air = air_with(*hub_and_esme())
    with AirCapture(target) as air_capture:
        air_capture.watch(air, BenchClock(START), pan_id=PAN)
        await air.transmit(from_esme())
        during, temporary = target.exists(), partials(tmp_path)
    assert not during and len(temporary) == 1 and temporary[0].startswith(".air.pcap.")
    assert partials(tmp_path) == [] and len(read_pcap(target).records) == 1


async def test_a_capture_that_cannot_be_written_leaves_nothing_and_does_not_disturb_the_air(tmp_path: Path) -> None:
    target = tmp_path / "air.pcap"
    hub, esme = hub_and_esme()
    air = air_with(hub, esme)
    air_capture = AirCapture(target)
    air_capture.watch(air, BenchClock(dt.datetime(1969, 12, 31, 23, 59, tzinfo=dt.UTC)), pan_id=PAN)
    await air.transmit(from_esme())  # stamped 1969: no pcap record can hold it
    await asyncio.sleep(0)
    assert hub.received, "the frame still reached the hub"
    with pytest.raises(PcapTimeOutOfRange, match="1969-12-31T23:59:00"):
        air_capture.close()
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_up_leaves_no_capture(tmp_path: Path) -> None:
    """A real write failure: the file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        from test_capture import capture, from_esme
        from hanbench.clock import run_virtual
        from hanbench.radio.pcap import PcapWriteFailed
        try:
            run_virtual(capture({str(tmp_path / "air.pcap")!r}, [(0, from_esme(bytes(100))) for _ in range(200)]))
        except PcapWriteFailed as exc:
            print("failed:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"failed: cannot write capture {tmp_path / 'air.pcap'}: File too large")
    assert list(tmp_path.iterdir()) == []


def test_a_capture_path_that_cannot_be_written_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="folder .*missing does not exist"):
        AirCapture(tmp_path / "missing" / "air.pcap")
    with pytest.raises(BadInput, match="is a folder; name a file"):
        AirCapture(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (Wireshark) installed")
async def test_wireshark_decodes_the_capture(tmp_path: Path) -> None:
    zdo = t.ZigbeePacket(src=nwk(0x0000), src_ep=0, dst=BROADCAST, dst_ep=0, tsn=7, profile_id=0x0000,
                         cluster_id=0x0036, data=t.SerializableBytes(bytes([7, 60, 1])))
    await capture(tmp_path / "air.pcap", [(0, from_esme()), (3600, zdo)])
    fields = ("wpan.fcs_ok", "wpan.dst_pan", "zbee_nwk.src64", "zbee_aps.cluster", "zbee_aps.zdp_cluster",
              "zbee_aps.profile", "zbee_zcl_general.ota.cmd.srv_rx.id", "frame.time_epoch", "frame.protocols")
    done = subprocess.run(["tshark", "-r", str(tmp_path / "air.pcap"), "-T", "fields", "-E", "separator=|",
                           *(arg for f in fields for arg in ("-e", f))],
                          capture_output=True, text=True, timeout=60, check=True)
    ota, permit_join = (dict(zip(fields, line.split("|"), strict=True)) for line in done.stdout.splitlines())
    assert ota["wpan.fcs_ok"] == "1" and permit_join["wpan.fcs_ok"] == "1"
    assert ota["wpan.dst_pan"] == "0x1a62"
    assert ota["zbee_nwk.src64"] == "00:db:12:34:56:78:91:00"
    assert (ota["zbee_aps.cluster"], ota["zbee_aps.profile"]) == ("0x0019", "0x0109")
    assert ota["zbee_zcl_general.ota.cmd.srv_rx.id"] == "0x01"  # Query Next Image Request
    assert ota["frame.protocols"] == "wpan:zbee_nwk:zbee_aps:zbee_zcl:zbee_zcl_general.ota"
    assert (permit_join["zbee_aps.zdp_cluster"], permit_join["zbee_aps.profile"]) == ("0x0036", "0x0000")
    assert float(permit_join["frame.time_epoch"]) == START.timestamp() + 3600
