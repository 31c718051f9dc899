"""A capture of real emu sessions: the OTA transfer and the tunnelled CS06 are on it, frame
by frame, on the bench clock, with the honest air's MAC and APS acknowledgements and the
GSME's polls; Wireshark finds nothing malformed in it; ``hanbench run --capture`` writes one
for a whole run; a lab bench refuses."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import shutil
import struct
import subprocess
import sys
import itertools
from collections import Counter
from pathlib import Path

import pytest
from capture_support import MacCommandOrAck, ZigbeeFrame, parse_any, parse_frame, read_pcap

from hanbench import open_bench
from hanbench.bench.bench import CaptureUnavailable
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.gbcs.gbt import Block, Reassembly, is_block
from hanbench.radio.mac import MAX_PSDU_OCTETS

pytestmark = pytest.mark.looptime

ROOT = Path(__file__).resolve().parents[3]
HUB_NWK, ESME_NWK, GSME_NWK = 0x0000, 0x1000, 0x1001  # the CH's coordinator; bench/emu.toml's first devices
OTA, TUNNELING = 0x0019, 0x0704
IMAGE_BLOCK_REQUEST, IMAGE_BLOCK_RESPONSE, UPGRADE_END_REQUEST = 0x03, 0x05, 0x06
TRANSFER_DATA_TO_CLIENT, TRANSFER_DATA_TO_SERVER = 0x01, 0x02  # the tunnel's command IDs each way
DEVICE_ANNOUNCE = 0x0013
GBCS_GENERAL_CIPHERING = 0xDD  # the ACB's MAC envelope, around every command


def emu_config(tmp_path: Path) -> BenchConfig:
    """bench/emu.toml with its session record in ``tmp_path``."""
    return dataclasses.replace(load_bench(ROOT / "bench" / "emu.toml"), sessions=tmp_path / "sessions")


def bench_file(tmp_path: Path, name: str = "emu.toml") -> Path:
    """``bench/<name>`` copied unchanged into ``tmp_path/bench``, its key store and images
    linked beside it, so its ``../sessions`` is ``tmp_path/sessions``."""
    (tmp_path / "bench").mkdir()
    for folder in ("fixtures", "firmware_images"):
        (tmp_path / folder).symlink_to(ROOT / folder, target_is_directory=True)
    path = tmp_path / "bench" / name
    path.write_bytes((ROOT / "bench" / name).read_bytes())
    return path


@dataclasses.dataclass(frozen=True)
class Zcl:
    """A captured ZCL frame: who sent it to whom, and its command."""

    frame: ZigbeeFrame
    server_to_client: bool
    command: int
    body: bytes


def zcl(frame: ZigbeeFrame) -> Zcl:
    control = frame.payload[0]
    header = 5 if control & 0x04 else 3  # manufacturer code present
    return Zcl(frame, bool(control & 0x08), frame.payload[header - 1], frame.payload[header:])


async def test_an_esme_update_is_on_the_capture_block_by_block(tmp_path: Path) -> None:
    config = emu_config(tmp_path)
    target = tmp_path / "esme.pcap"
    async with open_bench(config, capture=target) as bench:
        supplier, esme = bench.supplier, bench.device("esme")
        image = bench.image(esme, 2)
        await supplier.update_firmware(image, [esme])
        alert = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
        await supplier.activate_firmware(esme, alert.calculated_hash)
        assert esme.state.running_version == 2
        assert not target.exists(), "the capture gets its name when the bench closes"
        size, end = len(image), bench.now()
    pcap = read_pcap(target)
    everything = [parse_any(r.data) for r in pcap.records]
    assert all(f.fcs_ok for f in everything)
    frames = [f for f in everything if isinstance(f, ZigbeeFrame) and not f.aps_ack]

    by_cluster = Counter((f.profile, f.cluster) for f in frames)
    assert by_cluster[(0x0109, OTA)] > 2 * (size // 50)  # a request and a response per block, and more
    assert by_cluster[(0x0109, TUNNELING)] >= 4  # tunnel set-up, CS06, its response and the alerts
    assert by_cluster[(0x0000, 0x0005)] > 0  # ZDO Active Endpoints of the interview

    ota = [zcl(f) for f in frames if f.cluster == OTA]
    responses = [z for z in ota if z.server_to_client and z.command == IMAGE_BLOCK_RESPONSE
                 and z.frame.nwk_dst == ESME_NWK]
    requests = [z for z in ota if not z.server_to_client and z.command == IMAGE_BLOCK_REQUEST
                and z.frame.nwk_src == ESME_NWK]
    assert len(requests) == len(responses) == -(-size // 50)
    offset = 0
    for response in responses:  # status SUCCESS, manufacturer, type, version, offset, length, data
        status, _, _, version, at, length = struct.unpack_from("<BHHIIB", response.body)
        assert (status, version, at) == (0, 2, offset)
        offset += length
    assert offset == size, "the blocks on the capture add up to the image"
    assert any(not z.server_to_client and z.command == UPGRADE_END_REQUEST for z in ota)

    tunnel = [zcl(f) for f in frames if f.cluster == TUNNELING]
    to_esme = [z for z in tunnel if z.server_to_client and z.command == TRANSFER_DATA_TO_CLIENT
               and z.frame.nwk_dst == ESME_NWK]
    from_esme = [z for z in tunnel if not z.server_to_client and z.command == TRANSFER_DATA_TO_SERVER
                 and z.frame.nwk_src == ESME_NWK]
    assert to_esme and from_esme
    # The CS06 is longer than one frame: the CH sends it in GBCS General Block Transfer blocks,
    # one frame each, which the ESME acknowledges block by block, as through a stick.
    blocks = [Block.decode(z.body[2:]) for z in to_esme if is_block(z.body[2:])]
    cs06 = [b for b in blocks if b.routing.originator_counter == blocks[-1].routing.originator_counter]
    assert len(cs06) > 1 and [b.block_number for b in cs06] == list(range(1, len(cs06) + 1)) and cs06[-1].last
    reassembly = Reassembly(cs06[0].routing, 100_000)
    message = [reassembly.add(b) for b in cs06][-1]
    assert message is not None and message[0] == GBCS_GENERAL_CIPHERING, "the CS06 in the ACB's MAC envelope"
    acks = [Block.decode(z.body[2:]) for z in from_esme if is_block(z.body[2:])]
    assert [b.block_number_ack for b in acks if b.is_ack][-len(cs06):] == [b.block_number for b in cs06]
    assert all(len(r.data) <= MAX_PSDU_OCTETS for r in pcap.records), "the ESME's alerts go as APS fragments"
    assert all(z.frame.nwk_src_ieee == bytes.fromhex("00DB123456789100")[::-1] for z in from_esme)

    stamps = [dt.datetime.fromtimestamp(r.seconds + r.micros / 1e6, dt.UTC) for r in pcap.records]
    assert stamps == sorted(stamps)
    # The last frames are the MAC and APS ACKs of the answer the script had just read.
    assert config.start <= stamps[0] and stamps[-1] - end < dt.timedelta(milliseconds=50)

    # The honest air, as a sniffer sees it: every unicast is followed by the receiver's ACK of
    # its MAC sequence number (no loss here, so nothing between them and no retries) ...
    for sent, after in itertools.pairwise(everything):
        if isinstance(sent, ZigbeeFrame) and sent.mac_control & 0x0020:
            assert isinstance(after, MacCommandOrAck) and after.is_ack and after.mac_sequence == sent.mac_sequence
    # ... zigpy asks for an APS ACK on every reply, so the ESME acknowledges each block ...
    aps_acks = [f for f in everything if isinstance(f, ZigbeeFrame) and f.aps_ack
                and (f.nwk_src, f.cluster) == (ESME_NWK, OTA)]
    assert len(aps_acks) >= len(responses) and aps_acks[0].payload == b""
    # ... and the sleepy GSME is reached only through its Data Requests to the CH.
    polls = [f for f in everything if isinstance(f, MacCommandOrAck) and f.is_data_request]
    assert polls and all((f.mac_src, f.mac_dst) == (GSME_NWK, HUB_NWK) for f in polls)
    to_gsme = [i for i, f in enumerate(everything) if isinstance(f, ZigbeeFrame) and f.nwk_dst == GSME_NWK]
    assert to_gsme
    for index in to_gsme:  # each came after a poll whose ACK said a frame was pending
        before = everything[:index]
        poll = max(i for i, f in enumerate(before) if isinstance(f, MacCommandOrAck) and f.is_data_request)
        ack = everything[poll + 1]
        assert isinstance(ack, MacCommandOrAck) and ack.is_ack and ack.frame_pending


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (Wireshark) installed")
async def test_wireshark_finds_nothing_malformed_in_a_session_capture(tmp_path: Path) -> None:
    config = emu_config(tmp_path)
    target = tmp_path / "session.pcap"
    async with open_bench(config, capture=target) as bench:
        supplier = bench.supplier
        for device in (bench.device("esme"), bench.device("gsme")):
            await supplier.update_firmware(bench.image(device, 2), [device])
        for device in (bench.device("esme"), bench.device("gsme")):
            alert = await supplier.wait_alert(0x8F72, device=device, timeout=3600)
            await supplier.activate_firmware(device, alert.calculated_hash)
    fields = ("frame.protocols", "wpan.frame_type", "wpan.fcs_ok", "_ws.malformed", "_ws.expert.severity")
    done = subprocess.run(["tshark", "-r", str(target), "-T", "fields", "-E", "separator=|",
                           *(arg for f in fields for arg in ("-e", f))],
                          capture_output=True, text=True, timeout=120, check=True)
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in done.stdout.splitlines()]
    assert len(rows) == len(read_pcap(target).records)
    assert [r for r in rows if r["_ws.malformed"] or r["wpan.fcs_ok"] != "1"] == []
    warning = 0x00600000  # Wireshark's PI_WARN; errors are above it
    assert [r for r in rows if any(int(s, 0) >= warning for s in r["_ws.expert.severity"].split(",") if s)] == []
    kinds = Counter(int(r["wpan.frame_type"], 16) for r in rows)
    assert kinds[1] and kinds[2] and kinds[3]  # data frames, ACKs, Data Requests
    assert any(r["frame.protocols"].endswith("zbee_zcl_general.ota") for r in rows)
    assert any("zbee_zcl_se.tun" in r["frame.protocols"] for r in rows)


def test_every_premises_of_a_run_goes_into_one_capture(tmp_path: Path) -> None:
    bench = bench_file(tmp_path)
    target = tmp_path / "run.pcap"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hanbench")), "run", "--bench", str(bench), "--capture", str(target),
         "-k", "awake_meter_class and esme or rsa_distributes_supplier_activates and esme"],
        capture_output=True, text=True, cwd=tmp_path, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    records = read_pcap(target).records
    frames = [f for f in (parse_any(r.data) for r in records) if isinstance(f, ZigbeeFrame)]
    assert f"hanbench: air capture of {len(records)} frames" in done.stdout
    assert f"in {target}" in done.stdout
    # the ESME joins each premises once: two tests, two premises, one file
    announces = [f for f in frames if (f.profile, f.cluster, f.nwk_src) == (0x0000, DEVICE_ANNOUNCE, ESME_NWK)]
    assert len(announces) == 2
    assert {f.cluster for f in frames if f.profile == 0x0109} >= {OTA, TUNNELING}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_the_twin_air_is_captured_with_the_stick_network_pan(tmp_path: Path) -> None:
    target = tmp_path / "twin.pcap"

    async def open_twin() -> tuple[int, set[str]]:
        async with open_bench(bench_file(tmp_path, "twin.toml"), capture=target) as bench:
            return bench.comms_hub.app.state.network_info.pan_id, {str(d.id) for d in bench.devices}

    pan_id, devices = asyncio.run(open_twin())
    frames = [parse_frame(r.data) for r in read_pcap(target).records]
    assert frames and all(f.fcs_ok and f.pan_id == pan_id for f in frames)
    announced = {f.nwk_src_ieee[::-1].hex("-").upper() for f in frames
                 if f.nwk_src_ieee is not None and (f.profile, f.cluster) == (0x0000, DEVICE_ANNOUNCE)}
    assert announced == devices


def test_a_lab_bench_cannot_be_captured(tmp_path: Path) -> None:
    config = dataclasses.replace(load_bench(ROOT / "bench" / "lab-example.toml"), sessions=tmp_path / "sessions")

    async def open_lab() -> None:
        async with open_bench(config, capture=tmp_path / "lab.pcap"):
            pass

    with pytest.raises(CaptureUnavailable, match="capture the real air with a sniffer; hanbench cannot see it"):
        asyncio.run(open_lab())
    assert os.listdir(tmp_path) == []


def test_hanbench_run_refuses_a_capture_it_cannot_write_before_it_starts(tmp_path: Path) -> None:
    bench = bench_file(tmp_path)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hanbench")), "run", "--bench", str(bench),
         "--capture", str(tmp_path / "missing" / "run.pcap")],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == f"error: cannot write capture {tmp_path / 'missing' / 'run.pcap'}: folder " \
                          f"{tmp_path / 'missing'} does not exist\n"
    assert done.stdout == "" and not (tmp_path / "sessions").exists()
