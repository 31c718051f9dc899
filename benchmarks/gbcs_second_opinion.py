"""A second opinion on the GBCS traffic of one whole emulated session.

Runs the conformance suite on the emu bench with an air capture (``hanbench run --capture``),
takes every GBCS message out of the Smart Energy tunnel frames in the pcap (TransferData in
both directions, bare or in a GB-HRGP PUT / GET-RESPONSE, or put back together from its GBCS
General Block Transfer blocks, as of the frame of its last block), and for each one checks that the
project's decoders read it (frame, then its use case) and that it re-encodes to the very
same bytes: frame from the decoded frame, payload from the decoded record. Every message GBCS
MACs (every command, every non-critical response and alert) must carry a MAC, and each MAC is
checked with the bench's key store (``--keystore``, default the bench file's): one that does not
verify, or is missing, fails, unless it is a command its target refused as GBCS requires (the
next message the target sends is its 0x8F3D alert: the conformance suite sends such commands on
purpose, and this checks the device's side of them too). Any message that fails a check is
printed and the script exits 1.

When tshark is installed, Wireshark's own GBCS dissector reads the same pcap and must find
the same messages (frame number, message code, CRA flag, originator counter); without
tshark that cross-check is skipped and the script says so.

    .venv/bin/python benchmarks/gbcs_second_opinion.py [--pcap FILE] [-k EXPR] [--bench FILE] [--keystore DIR]

``--pcap FILE`` reads an existing capture instead of running a session. Counts are printed;
nothing is timed.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hanbench.bench.bench_file import load_bench
from hanbench.errors import HanbenchError
from hanbench.gbcs.alerts import decode_alert
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.frame import Cra, GbcsMessage, decode_message, encode_message
from hanbench.gbcs.gbt import MAX_BLOCKS, Block, GbtError, Reassembly, is_block
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.protection import MacCheck, check_mac, mac_required
from hanbench.gbcs.use_cases import payload_of, read_payload
from hanbench.radio.gb_hrgp import HrgpFrame

ROOT = Path(__file__).resolve().parents[1]
TUNNELING = 0x0704
SMART_ENERGY = 0x0109
TRANSFER_DATA = {False: 0x02, True: 0x01}  # client-to-server, server-to-client
_PCAP_MAGIC = 0xA1B2C3D4


@dataclass(frozen=True)
class Captured:
    """One GBCS message as it crossed the air: pcap frame number (from 1) and its bytes."""

    frame: int
    message: bytes


def pcap_frames(path: Path) -> list[bytes]:
    """The packets of a classic little-endian pcap file (what :mod:`hanbench.radio.pcap` writes)."""
    data = path.read_bytes()
    if len(data) < 24 or struct.unpack_from("<I", data)[0] != _PCAP_MAGIC:
        raise SystemExit(f"{path} is not a little-endian pcap file")
    frames, at = [], 24
    while at < len(data):
        _, _, captured, _ = struct.unpack_from("<IIII", data, at)
        frames.append(data[at + 16:at + 16 + captured])
        at += 16 + captured
    return frames


@dataclass(frozen=True)
class ApsData:
    """An APS data frame's cluster, profile and payload; for an APS fragment, its sender and
    APS counter (the message's key), whether it is the first, and its block number (the block
    count in the first)."""

    cluster: int
    profile: int
    payload: bytes
    fragment: tuple[bytes, int, bool, int] | None = None


def zcl_of(psdu: bytes) -> ApsData | None:
    """The APS payload of an 802.15.4 / Zigbee NWK / APS data frame, else None.

    Reads the headers by their frame-control flags (IEEE 802.15.4-2003 short addressing with
    PAN ID compression, Zigbee PRO NWK with optional IEEE addresses, APS data frames with the
    extended header of a fragment), which is all the capture of the virtual air contains.
    """
    body = psdu[:-2]  # FCS
    mac_fc = int.from_bytes(body[0:2], "little")
    if mac_fc & 0x7 != 1:
        return None
    at = 3 + 2 + 2 + 2  # frame control, sequence, PAN ID, short destination, short source
    nwk_fc = int.from_bytes(body[at:at + 2], "little")
    if nwk_fc & 0x3 != 0:
        return None
    at += 8 + (8 if nwk_fc & 0x0800 else 0) + (8 if nwk_fc & 0x1000 else 0)
    aps_fc = body[at]
    if aps_fc & 0x3 != 0:
        return None
    delivery = (aps_fc >> 2) & 0x3
    at += 1 + (2 if delivery == 3 else 1)  # group address, or destination endpoint
    cluster, profile = struct.unpack_from("<HH", body, at)
    at += 4 + 1 + 1  # cluster, profile, source endpoint, APS counter
    counter = body[at - 1]
    if aps_fc & 0x80:  # extended header: fragmentation, and a block number when fragmented
        fragmentation = body[at] & 0x3
        at += 1
        if fragmentation:
            sender = body[7:9]  # the MAC source: one hop on the virtual air
            return ApsData(cluster, profile, body[at + 1:], (sender, counter, fragmentation == 1, body[at]))
    return ApsData(cluster, profile, body[at:])


def aps_reassembled(receiving: dict[tuple[bytes, int], list[bytes | None]], aps: ApsData) -> bytes | None:
    """Take one APS fragment; the whole payload once every block of its message is in (as a
    sniffer puts them together: a repeat is taken once, a message whose first block the capture
    lacks is skipped)."""
    assert aps.fragment is not None
    sender, counter, first, block = aps.fragment
    key = (sender, counter)
    if first:
        receiving[key] = [None] * block
        block = 0
    blocks = receiving.get(key)
    if blocks is None or block >= len(blocks):
        return None
    blocks[block] = aps.payload
    if any(b is None for b in blocks):
        return None
    del receiving[key]
    return b"".join(b for b in blocks if b is not None)


def gbcs_messages(frames: list[bytes]) -> list[Captured]:
    """Every GBCS message carried by a Tunneling TransferData in ``frames``, whole or in GBT blocks."""
    found = []
    receiving: dict[tuple[object, ...], Reassembly] = {}
    fragments: dict[tuple[bytes, int], list[bytes | None]] = {}
    for number, psdu in enumerate(frames, start=1):
        aps = zcl_of(psdu)
        if aps is None or aps.cluster != TUNNELING or aps.profile != SMART_ENERGY:
            continue
        frame = aps.payload if aps.fragment is None else aps_reassembled(fragments, aps)
        if frame is None:
            continue
        control = frame[0]
        header = 3 + (2 if control & 0x04 else 0)
        specific, server_to_client = control & 0x03 == 1, bool(control & 0x08)
        if not specific or frame[header - 1] != TRANSFER_DATA[server_to_client]:
            continue
        message = HrgpFrame.decode(frame[header + 2:]).message  # after the tunnel ID
        if is_block(message):
            message = reassembled(receiving, message)
        if message:
            found.append(Captured(number, message))
    return found


def reassembled(receiving: dict[tuple[object, ...], Reassembly], data: bytes) -> bytes | None:
    """Take one GBT block; the whole message at its last block, else None (acknowledgements,
    repeats, and blocks of a message whose earlier blocks the capture lacks are skipped)."""
    try:
        block = Block.decode(data)
    except GbtError as exc:
        print(f"  a GBT block that does not decode: {exc}")
        return None
    if block.is_ack:
        return None
    key = block.routing.key
    if block.block_number == 1:
        receiving[key] = Reassembly(block.routing, MAX_BLOCKS * len(data))
    reassembly = receiving.get(key)
    try:
        whole = reassembly.add(block) if reassembly is not None else None
    except GbtError as exc:
        print(f"  GBT blocks the capture cannot put together: {exc}")
        receiving.pop(key, None)
        return None
    if whole is not None:
        receiving.pop(key, None)
    return whole


@dataclass(frozen=True)
class Verdict:
    """What the second opinion found about one message: its use case and CRA, the message
    decoded (None when it is not), what its MAC check said (None when GBCS does not MAC it), and
    what is wrong with it, if anything. ``refused``: a command without a valid MAC that its
    target refused, as GBCS has it."""

    kind: str
    msg: GbcsMessage | None = None
    mac: MacCheck | None = None
    problem: str | None = None
    refused: bool = False


def check(captured: Captured, keys: KeyStore) -> Verdict:
    """Decode, re-encode and check the MAC of one captured message."""
    try:
        msg = decode_message(captured.message)
        kind = f"{msg.message_code!s} {msg.cra.name.lower()}"
        record = read_payload(msg)
    except HanbenchError as exc:
        return Verdict("undecodable", problem=str(exc))
    if encode_message(msg) != captured.message:
        return Verdict(kind, msg, problem="the decoded frame does not re-encode to the same bytes")
    if payload_of(record, msg.originator_counter) != msg.payload:
        return Verdict(kind, msg, problem="the decoded payload record does not re-encode to the same bytes")
    if not mac_required(msg):
        return Verdict(kind, msg, problem=None if msg.mac is None else "carries a MAC where GBCS signs instead")
    mac = check_mac(msg, keys)
    problems = {MacCheck.ABSENT: "carries no MAC, and GBCS MACs it",
                MacCheck.INVALID: "its MAC does not verify with the key store"}
    return Verdict(kind, msg, mac, problems.get(mac))


def refused_by_target(command: GbcsMessage, later: list[Captured]) -> bool:
    """Whether the next GBCS message ``command``'s target sends is the 0x8F3D alert that refuses it."""
    for captured in later:
        try:
            msg = decode_message(captured.message)
        except HanbenchError:
            continue
        if msg.originator == command.target:
            return msg.cra is Cra.ALERT and \
                decode_alert(msg).alert_code == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE
    return False


def review(messages: list[Captured], keys: KeyStore) -> list[Verdict]:
    """One verdict per message, in order; a command whose MAC fails passes if its target refused it."""
    verdicts = []
    for index, captured in enumerate(messages):
        verdict = check(captured, keys)
        msg = verdict.msg
        if verdict.problem and verdict.mac is not None and msg is not None and msg.cra is Cra.COMMAND \
                and refused_by_target(msg, messages[index + 1:]):
            verdict = Verdict(verdict.kind, msg, verdict.mac, None, refused=True)
        verdicts.append(verdict)
    return verdicts


def wireshark_view(pcap: Path) -> dict[int, tuple[int, int, int]] | None:
    """``frame -> (message code, CRA flag, originator counter)`` as Wireshark's GBCS dissector
    reads the capture, or None without tshark."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    fields = ["frame.number", "gbcs_message.grouping_header.message_code",
              "gbcs_message.grouping_header.cra_flag", "gbcs_message.grouping_header.originator_counter"]
    out = subprocess.run([tshark, "-r", str(pcap), "-Y", "gbcs_message", "-T", "fields",
                          *(a for f in fields for a in ("-e", f))],
                         capture_output=True, text=True, check=True).stdout
    view = {}
    for line in out.splitlines():
        number, code, cra, counter = (line.split("\t") + ["", "", ""])[:4]
        if code:
            view[int(number)] = (int(code, 0), int(cra, 0), int(counter, 0))
    return view


def run_session(bench: Path, pcap: Path, keyword: str | None) -> None:
    args = [str(Path(sys.executable).parent / "hanbench"), "run", "--bench", str(bench), "--capture", str(pcap)]
    if keyword:
        args += ["-k", keyword]
    completed = subprocess.run(args, cwd=ROOT)
    if completed.returncode != 0:
        raise SystemExit(f"the session itself failed (hanbench run exit {completed.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pcap", type=Path, help="read this capture instead of running a session")
    parser.add_argument("--bench", type=Path, default=ROOT / "bench" / "emu.toml")
    parser.add_argument("-k", dest="keyword", help="only the conformance tests matching this pytest -k expression")
    parser.add_argument("--keystore", type=Path, help="key store to check MACs with (default: the bench file's)")
    args = parser.parse_args(argv)
    keys = KeyStore(args.keystore or load_bench(args.bench).keystore)
    with tempfile.TemporaryDirectory() as tmp:
        pcap = args.pcap
        if pcap is None:
            pcap = Path(tmp) / "air.pcap"
            run_session(args.bench, pcap, args.keyword)
        frames = pcap_frames(pcap)
        messages = gbcs_messages(frames)
        verdicts = review(messages, keys)
        kinds = Counter(v.kind for v in verdicts)
        macs = Counter(v.mac for v in verdicts if v.mac is not None)
        refused = sum(v.refused for v in verdicts)
        failures = [(c, v) for c, v in zip(messages, verdicts, strict=True) if v.problem]
        print(f"gbcs second opinion: {len(frames)} frames on the air, {len(messages)} GBCS messages, "
              f"{len(messages) - len(failures)} passed (decoded and re-encoded byte for byte, MAC checked), "
              f"{len(failures)} failed")
        print(f"  MACs: {sum(macs.values())} messages GBCS MACs, {macs[MacCheck.VALID]} MACs verified with "
              f"{keys.folder}, {macs[MacCheck.NO_KEY]} not checkable (no key), {macs[MacCheck.INVALID]} invalid, "
              f"{macs[MacCheck.ABSENT]} missing; {refused} commands without a valid MAC, each refused by its "
              "device (0x8F3D)")
        for kind, count in sorted(kinds.items()):
            print(f"  {count:5d}  {kind}")
        for captured, verdict in failures:
            print(f"FAILED frame {captured.frame} ({verdict.kind}): {verdict.problem}\n"
                  f"  {captured.message.hex().upper()}")
        failures_ws = cross_check(pcap, messages)
    return 1 if failures or failures_ws else 0


def cross_check(pcap: Path, messages: list[Captured]) -> int:
    """Compare with Wireshark's dissector; the number of disagreements (0 when skipped)."""
    view = wireshark_view(pcap)
    if view is None:
        print("wireshark cross-check: skipped (tshark is not installed)")
        return 0
    ours = {}
    for captured in messages:
        msg = decode_message(captured.message)
        ours[captured.frame] = (int(msg.message_code), int(msg.cra), msg.originator_counter)
    disagreements = sorted(set(ours.items()) ^ set(view.items()))
    print(f"wireshark cross-check: tshark's GBCS dissector read {len(view)} messages, "
          f"{len(disagreements)} disagreements with hanbench")
    for frame, fields in disagreements[:20]:
        side = "hanbench" if ours.get(frame) == fields else "wireshark"
        print(f"  frame {frame}: {side} says message code 0x{fields[0]:04X}, CRA {fields[1]}, counter {fields[2]}")
    return len(disagreements)


if __name__ == "__main__":
    raise SystemExit(main())
