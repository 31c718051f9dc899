"""Fuzz every decoder and parser the bench feeds with outside input: a typed answer or nothing.

Each target takes bytes from the outside world (a GBCS message or image, a key file, a bench
file, a control-protocol line from either end, ASH bytes or an EZSP frame from the host) and
must either accept them or refuse them with an error of the taxonomy (`hanbench.errors`:
BadInput, CheckFailed, InfrastructureFault and their children) or, for the emulated
equipment that answers rather than raises, with an error reply on its link (an EZSP
`invalidCommand`, a board's `ok: false`, an ASH frame discarded). Anything else (a
TypeError, a library's own exception, a reply that never comes) is a bug.

Inputs are seeds (the RTDS vectors, the sample images, the fixture keys, the bench files,
protocol lines as hardware.md and the protocol module write them, frames of every EZSP
command) mutated by a seeded generator (bit flips, boundary bytes, cuts, inserts, repeats up
to 100,000 times, splices between seeds), plus plain random bytes. The same `--seed` and
`--count` give the same inputs. For the first input of each kind of untyped exception the
harness shrinks a minimal reproducer and prints it in hex.

hypothesis (the property tests use it) does this for a few hundred examples per test inside
pytest; a campaign of 100,000 inputs per target with per-target counts and reproducers is
what this script adds, and a hand-written mutator keeps it free of a coverage-guided engine
(atheris needs a clang build of CPython, which a bench machine does not have).

Usage::

    .venv/bin/python benchmarks/fuzz.py                      # 10,000 inputs per target
    .venv/bin/python benchmarks/fuzz.py --count 100000       # the full campaign
    .venv/bin/python benchmarks/fuzz.py --smoke              # a few seconds, for CI
    .venv/bin/python benchmarks/fuzz.py --target ezsp --seed 7

Exits 1 if any target raised anything untyped.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
from pathlib import Path
import random
import re
import sys
import tempfile
import time
import traceback
import warnings
from typing import Any

from bellows.ash import AckFrame, AshProtocol, DataFrame, NakFrame, Reserved, RstFrame
import bellows.types as bt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
import zigpy.types as zt

from hanbench.bench.bench_file import load_bench
from hanbench.errors import HanbenchError
from hanbench.gbcs import alerts, cs06, dlms, firmware_version, gbz
from hanbench.gbcs.asn1 import load_der
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import Cra, GbcsMessage, decode_message
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.keystore import load_certificate, load_private_key, public_key_of
from hanbench.gbcs.ota_header import parse_header
from hanbench.hardware import protocol
from hanbench.twin.ash import MAX_FRAME_BYTES, AshNcp
from hanbench.twin.board import EmulatedBoard
from hanbench.twin.ezsp_codec import COMMANDS, FRAME_FORMAT_V1, EzspDecodeError, parse_params
from hanbench.twin.ezsp_ncp import EzspNcp
from hanbench.twin.ncp_state import NetworkTokens, NvramStore

ROOT = Path(__file__).resolve().parents[1]
RTDS_VECTORS = ROOT / "fixtures" / "rtds" / "gbcs"
FIXTURE_KEYS = ROOT / "fixtures" / "keys"
IMAGES = ROOT / "firmware_images"
BENCH_FILES = ROOT / "bench"
HARDWARE_MD = ROOT / "hardware.md"

DEFAULT_COUNT = 10_000
SMOKE_COUNT = 300
SHRINK_BUDGET = 3_000


class Refused(Exception):
    """The emulated equipment answered the input with an error reply: a typed answer."""


TYPED: tuple[type[BaseException], ...] = (HanbenchError, Refused)


@dataclass
class Target:
    """One decoder or parser: its seeds and how to feed it one input.

    `feed` returns normally for an accepted input and raises for a refused one. A target
    whose input selects among several decoders reads the selector from the first byte.
    """

    name: str
    seeds: list[bytes]
    feed: Callable[[bytes], object]
    # Longer inputs are cut: a framing layer refuses them at its frame limit anyway, and
    # feeding it 100 kB a byte at a time only slows the campaign
    max_size: int | None = None


@dataclass
class Untyped:
    signature: str
    first: bytes
    reproducer: bytes
    detail: str
    count: int = 1


@dataclass
class Tally:
    inputs: int = 0
    accepted: int = 0
    typed: int = 0
    untyped: dict[str, Untyped] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def untyped_count(self) -> int:
        return sum(u.count for u in self.untyped.values())


# --- the mutator -----------------------------------------------------------------------------

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x20, 0x22, 0x5B, 0x7B, 0x0A, 0x5C)
INTERESTING_CHUNKS = (b"\x00", b"\xff" * 4, b"9" * 5000, b"[" * 1000, b"-1", b"1e400", b"\"\\u0000\"",
                      b"0001-01-01T00:00:00+01:00", b"9999-12-31T23:59:59-01:00", b"\xc3\x28", b"null", b"{}")


def mutate(rng: random.Random, seeds: list[bytes], max_size: int | None = None) -> bytes:
    """A new input: mostly a seed with 1-4 mutations, sometimes random bytes."""
    roll = rng.random()
    if roll < 0.05:
        return rng.randbytes(rng.randint(0, 64))
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(data))
        kind = rng.randrange(9)
        if kind == 0 and data:  # flip one bit
            at = min(at, len(data) - 1)
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:  # a boundary byte
            data[min(at, len(data) - 1)] = rng.choice(INTERESTING_BYTES)
        elif kind == 2:  # cut the tail
            del data[at:]
        elif kind == 3:  # insert random bytes
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif kind == 4:  # delete a range
            del data[at:at + rng.randint(1, 16)]
        elif kind == 5 and data:  # repeat a short range, up to 100,000 times
            start = rng.randrange(len(data))
            chunk = bytes(data[start:start + rng.randint(1, 4)])
            data[start:start] = chunk * rng.choice((2, 10, 1000, 100_000))
        elif kind == 6:  # splice with another seed
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            data = data[:at] + bytearray(other[cut:])
        elif kind == 7:  # a known troublemaker
            data[at:at] = rng.choice(INTERESTING_CHUNKS)
        elif data:  # a random byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
    return bytes(data[:max_size])


# --- running and shrinking -------------------------------------------------------------------

def _signature(exc: BaseException) -> str:
    """Exception type and the innermost frame in hanbench (else the innermost at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "hanbench" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def _outcome(target: Target, data: bytes) -> str | None:
    """None if accepted, "typed" if refused with a typed error, else the untyped signature."""
    try:
        target.feed(data)
    except TYPED:
        return "typed"
    except Exception as exc:  # noqa: BLE001  (finding these is the point)
        return _signature(exc)
    return None


def shrink(target: Target, data: bytes, signature: str) -> bytes:
    """Delta debugging on bytes: drop ever smaller chunks while the same failure remains."""
    budget = SHRINK_BUDGET
    chunk = max(1, len(data) // 2)
    while chunk >= 1 and budget > 0:
        at, shrunk = 0, False
        while at < len(data) and budget > 0:
            candidate = data[:at] + data[at + chunk:]
            budget -= 1
            if _outcome(target, candidate) == signature:
                data, shrunk = candidate, True
            else:
                at += chunk
        if not shrunk:
            chunk //= 2
    return data


def run(target: Target, count: int, seed: int) -> Tally:
    rng = random.Random(f"{seed}:{target.name}")
    tally = Tally()
    started = time.perf_counter()
    for _ in range(count):
        data = mutate(rng, target.seeds, target.max_size)
        tally.inputs += 1
        try:
            target.feed(data)
        except TYPED:
            tally.typed += 1
            continue
        except Exception as exc:  # noqa: BLE001
            sig = _signature(exc)
            if sig in tally.untyped:
                tally.untyped[sig].count += 1
            else:
                detail = f"{type(exc).__name__}: {str(exc)[:200]}"
                tally.untyped[sig] = Untyped(sig, data, shrink(target, data, sig), detail)
            continue
        tally.accepted += 1
    tally.seconds = time.perf_counter() - started
    return tally


# --- seeds -----------------------------------------------------------------------------------

def rtds_messages() -> list[bytes]:
    return [bytes.fromhex(p.read_text().strip()) for p in sorted(RTDS_VECTORS.glob("*/*.HEX"))]


def _decoded(pick: Callable[[GbcsMessage], bool]) -> list[GbcsMessage]:
    return [m for m in map(decode_message, rtds_messages()) if pick(m)]


def _header_and_payload(msg: GbcsMessage) -> bytes:
    """The form the message-level targets read: CRA flag, message code, payload."""
    return bytes([msg.cra]) + msg.message_code.to_bytes(2, "big") + msg.payload


def _message_from(data: bytes) -> GbcsMessage:
    if len(data) < 3:
        raise Refused("shorter than a CRA flag and a message code")
    try:
        cra = Cra(data[0])
    except ValueError:
        raise Refused(f"no CRA flag 0x{data[0]:02X}") from None
    zero = EntityId(bytes(8))
    return GbcsMessage(cra, 1, zero, zero, int.from_bytes(data[1:3], "big"), data[3:])


def _select(data: bytes, choices: list[Callable[[bytes], object]]) -> object:
    if not data:
        raise Refused("no selector byte")
    return choices[data[0] % len(choices)](data[1:])


def _selected(index: int, payload: bytes) -> bytes:
    return bytes([index]) + payload


def images() -> list[bytes]:
    return [p.read_bytes() for p in sorted(IMAGES.glob("*.ota"))]


# --- GBCS targets ----------------------------------------------------------------------------

def gbcs_targets() -> list[Target]:
    messages = rtds_messages()
    alert_msgs = _decoded(lambda m: m.cra is Cra.ALERT)
    cs06_decoders: list[Callable[[bytes], object]] = [
        cs06.ActivateFirmware.decode, cs06.decode_response, cs06.FutureDatedActivationAlert.decode]
    cs06_seeds = ([_selected(0, m.payload) for m in _decoded(lambda m: m.message_code == 0x0012 and m.cra is Cra.COMMAND)]
                  + [_selected(1, m.payload) for m in _decoded(lambda m: m.message_code == 0x0012 and m.cra is Cra.RESPONSE)]
                  + [_selected(2, m.payload) for m in _decoded(lambda m: m.message_code == 0x00CA)])
    version_msgs = _decoded(lambda m: m.message_code in (0x0059, 0x0084, 0x0129))
    dlms_decoders: list[Callable[[bytes], object]] = [
        lambda b: dlms.decode_get_request(b, "fuzz"), lambda b: dlms.decode_get_response(b, "fuzz"),
        lambda b: dlms.read_date_time(dlms.read_data_notification(b, "fuzz"), "date-time")]
    dlms_seeds = ([_selected(i, m.payload) for m in _decoded(lambda m: m.message_code == 0x0059) for i in (0, 1)]
                  + [_selected(2, m.payload) for m in alert_msgs])
    asn1_specs: list[type[Any]] = [cs06._ActivateFirmwareCommand, cs06._ExecutionOutcome,
                                   cs06._FutureDatedActivateFirmwareAlert, alerts._FirmwareTransferAlert,
                                   alerts._FirmwareActivationAlert, firmware_version._ReadFirmwareVersionResponse]
    asn1_seeds = [_selected(i, m.payload) for m in _decoded(lambda m: m.payload[:1] == b"\x30")
                  for i in range(len(asn1_specs))]
    # GCS38 (GSME firmware version) has no RTDS vector: its GBZ payloads are written here
    gcs38 = [(Cra.COMMAND, firmware_version.GsmeFirmwareVersionRequest(7)),
             (Cra.RESPONSE, firmware_version.GsmeFirmwareVersionResponse(b"GSME 1.2.3", 0, 7)),
             (Cra.RESPONSE, firmware_version.GsmeFirmwareVersionResponse(None, 0x86, 7))]
    gbz_payloads = ([firmware_version.firmware_version_payload(record, 1) for _, record in gcs38]
                    + [m.payload for m in _decoded(lambda m: m.payload[:2] == gbz.PROFILE_ID.to_bytes(2, "big"))])
    version_seeds = [_header_and_payload(m) for m in version_msgs] + [
        bytes([cra]) + (0x0084).to_bytes(2, "big") + firmware_version.firmware_version_payload(record, 1)
        for cra, record in gcs38]
    headers = [image[:64] for image in images()]
    return [
        Target("frame", messages, decode_message),
        Target("alerts", [_header_and_payload(m) for m in alert_msgs],
               lambda b: alerts.decode_alert(_message_from(b))),
        Target("cs06", cs06_seeds, lambda b: _select(b, cs06_decoders)),
        Target("firmware_version", version_seeds,
               lambda b: firmware_version.decode_firmware_version(_message_from(b))),
        Target("image", [_selected(i, image) for image in images() for i in (0, 1, 2)],
               lambda b: _select(b, [lambda d: parse_image(d), lambda d: parse_image(d, signed=None),
                                     lambda d: parse_image(d, signed=False)])),
        Target("ota_header", headers, parse_header),
        Target("dlms", dlms_seeds, lambda b: _select(b, dlms_decoders)),
        Target("gbz", gbz_payloads, lambda b: gbz.decode_components(b, "fuzz")),
        Target("asn1", asn1_seeds,
               lambda b: _select(b, [lambda d, s=s: load_der(s, d, "fuzz") for s in asn1_specs])),
    ]


# --- key store -------------------------------------------------------------------------------

def keystore_target(folder: Path) -> Target:
    seeds = []
    for pem in sorted(FIXTURE_KEYS.glob("*.pem")):
        seeds.append(_selected(0, pem.read_bytes()))
        seeds.append(_selected(0, x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(
            serialization.Encoding.DER)))
    for key in sorted(FIXTURE_KEYS.glob("*.key")):
        seeds.append(_selected(1, key.read_bytes()))
        seeds.append(_selected(1, serialization.load_pem_private_key(key.read_bytes(), None).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    serial = iter(range(10**12))

    def feed(data: bytes) -> object:
        # A new file name each time: the key store caches what it parsed per path
        path = folder / f"{next(serial)}.bin"
        path.write_bytes(data[1:])
        try:
            if data[:1] and data[0] % 2:
                return load_private_key(path)
            return public_key_of(load_certificate(path), path)
        finally:
            path.unlink()

    return Target("keystore", seeds, feed)


# --- bench file ------------------------------------------------------------------------------

def bench_toml_target(folder: Path) -> Target:
    # The bench files' relative paths (../fixtures/keys, ../firmware_images) resolve from here
    bench_dir = folder / "bench"
    bench_dir.mkdir()
    for name in ("fixtures", "firmware_images"):
        (folder / name).symlink_to(ROOT / name)
    path = bench_dir / "fuzz.toml"

    def feed(data: bytes) -> object:
        path.write_bytes(data)
        return load_bench(path)

    return Target("bench_toml", [p.read_bytes() for p in sorted(BENCH_FILES.glob("*.toml"))], feed)


# --- board control protocol ------------------------------------------------------------------

HASH = bytes(range(32))
IDENTITY = protocol.Identity(role=DeviceType.ESME, eui64=EntityId.parse("00-0D-6F-00-0A-90-69-E8"),
                             manufacturer="Acme Meters", model="E1", hardware_version=0x0101,
                             firmware_version=0x00010002, held_image=protocol.HeldImage(0x00010003, HASH),
                             protocol=protocol.PROTOCOL_VERSION)
ALERT = protocol.Alert(alert_code=0x8F72, message_code=0x00CD, payload=b"\x01\x02\xaa\xbb")
STATE = protocol.BoardState(
    firmware_version=0x00010002, held_image=protocol.HeldImage(0x00010003, HASH),
    pending_activation=protocol.PendingActivation(execution=datetime(2030, 6, 1, tzinfo=UTC), counter=None, image_hash=HASH),
    clock=datetime(2030, 1, 1, tzinfo=UTC), joined=True, network=protocol.Network(0x1A2B, 15, 0x3C4D),
    last_alerts=(ALERT,), running_hash=HASH)


class FixedBackend:
    """A board whose device always reports the same identity and state."""

    def identify(self) -> protocol.Identity:
        return IDENTITY

    def state(self) -> protocol.BoardState:
        return STATE

    def reset(self) -> None:
        pass

    def factory_reset(self) -> None:
        pass

    def restore_factory_image(self) -> None:
        pass

    def set_clock(self, clock: datetime) -> None:
        pass

    def attach(self, emit: protocol.EventSink) -> None:
        pass


def documented_lines() -> list[bytes]:
    """The complete example lines of hardware.md."""
    found = re.findall(r'^\s*(\{"v":1.*\})\s*$', HARDWARE_MD.read_text(), re.MULTILINE)
    return [line.encode() for line in found if "..." not in line]


def board_lines() -> list[bytes]:
    lines = [
        protocol.encode_result(1, IDENTITY.to_json()), protocol.encode_result(2, STATE.to_json()),
        protocol.encode_error(3, "unknown_op", "no op 'x' in this build"),
        *(protocol.encode_event(e) for e in (protocol.AlertEvent(ALERT), protocol.StateEvent(STATE),
                                             protocol.LogEvent("info", "image block 12/400"),
                                             protocol.BootEvent("reset"))),
    ]
    return [line.rstrip(b"\n") for line in lines] + documented_lines()


def request_lines() -> list[bytes]:
    lines = [protocol.encode_request(i, op) for i, op in enumerate(("identify", "state", "reset", "factory_reset"))]
    lines.append(protocol.encode_request(9, "set_clock", {"clock": protocol.format_timestamp(STATE.clock)}))
    return [line.rstrip(b"\n") for line in lines] + documented_lines()


def read_from_board(line: bytes) -> object:
    """What `BoardControl` does with a line: parse it, then read a response's result."""
    message = protocol.parse_from_board(line)
    if isinstance(message, protocol.Response) and message.ok:
        for reader in (protocol.Identity.from_json, protocol.BoardState.from_json):
            with contextlib.suppress(protocol.MalformedMessage):
                reader(message.result)
    return message


def board_side_target(board: EmulatedBoard) -> Target:
    def feed(line: bytes) -> object:
        reply = board.answer(line)
        message = protocol.parse_from_board(reply.rstrip(b"\n"))  # the reply itself must be a valid line
        if isinstance(message, protocol.Response) and not message.ok:
            raise Refused(message.error)
        return message

    return Target("board_side", request_lines(), feed)


# --- the twin's ASH and EZSP -----------------------------------------------------------------

def _ezsp_frame(seq: int, name: str, payload: bytes) -> bytes:
    frame_id = COMMANDS[name][0]
    return bytes([seq, 0x00, FRAME_FORMAT_V1]) + zt.uint16_t(frame_id).serialize() + payload


def _zero_payload(name: str) -> bytes:
    """The shortest all-zero parameters a command parses (seeds for every command)."""
    for size in range(0, 256):
        try:
            parse_params(name, COMMANDS[name][1], bytes(size))
        except EzspDecodeError:
            continue
        return bytes(size)
    return b""


def ezsp_frames() -> list[bytes]:
    names = sorted(name for name, (_, tx_schema, _) in COMMANDS.items() if isinstance(tx_schema, dict))
    return [_ezsp_frame(i & 0xFF, name, _zero_payload(name)) for i, name in enumerate(names)]


def _wire(frame: Any) -> bytes:
    return AshProtocol._stuff_bytes(frame.to_bytes()) + bytes([Reserved.FLAG])


def ash_streams() -> list[bytes]:
    rst = bytes([Reserved.CANCEL]) + _wire(RstFrame())
    frames = ezsp_frames()
    return [rst + b"".join(_wire(DataFrame(frm_num=i % 8, re_tx=False, ack_num=0, ezsp_frame=f))
                           for i, f in enumerate(frames[n:n + 3]))
            + _wire(AckFrame(res=0, ncp_ready=0, ack_num=1)) + _wire(NakFrame(res=0, ncp_ready=0, ack_num=0))
            for n in range(0, len(frames), 3)]


def ash_target() -> Target:
    def feed(data: bytes) -> object:
        ash = AshNcp(deliver=lambda _: None, on_reset=lambda: None)
        ash.attach(lambda _: None)
        ash.data_received(data)
        ash.detach()
        if ash.stats.discarded or ash.stats.naks_sent:
            raise Refused(f"{ash.stats.discarded} frames discarded, {ash.stats.naks_sent} NAKs")
        return ash.stats

    return Target("ash", ash_streams(), feed, max_size=4 * MAX_FRAME_BYTES)


def ezsp_target(folder: Path) -> Target:
    """One fresh NCP per input (version negotiated; with the network up when the first byte
    is odd), so a reproducer needs nothing before it."""
    store = NvramStore(folder / "ncp")
    store.nvram.network = NetworkTokens(pan_id=0x1A2B, extended_pan_id="11:22:33:44:55:66:77:88", channel=15,
                                        channel_mask=1 << 15, tx_power=8, nwk_update_id=0, nwk_manager_id=0)
    store.save()
    formed = store.path.read_bytes()

    def feed(data: bytes) -> object:
        store.path.write_bytes(formed)
        sent: list[bytes] = []
        ncp = EzspNcp(NvramStore(store.path.parent), sent.append)
        ncp.link.frame_received(_ezsp_frame(0, "version", bytes([13])))
        if data[:1] and data[0] % 2:
            ncp.link.frame_received(_ezsp_frame(1, "networkInit", bytes(2)))
        sent.clear()
        ncp.link.frame_received(data[1:])
        ncp.power_on_reset()  # cancels what the command spawned
        invalid = COMMANDS["invalidCommand"][0]
        if any(len(f) >= 5 and f[2] == FRAME_FORMAT_V1 and int.from_bytes(f[3:5], "little") == invalid
               for f in sent):
            raise Refused("invalidCommand")
        return sent

    return Target("ezsp", [bytes([mode]) + f for f in ezsp_frames() for mode in (0, 1)], feed, max_size=MAX_FRAME_BYTES)


# --- main ------------------------------------------------------------------------------------

def all_targets(folder: Path, board: EmulatedBoard) -> list[Target]:
    return [*gbcs_targets(), keystore_target(folder / "keys"), bench_toml_target(folder),
           Target("board_host", board_lines(), read_from_board), board_side_target(board),
           ash_target(), ezsp_target(folder)]


def report(tally_by_target: dict[str, Tally], count: int, seed: int) -> None:
    print(f"fuzz: {count} inputs per target, seed {seed}")
    print(f"{'target':<18}{'inputs':>9}{'accepted':>10}{'typed':>9}{'untyped':>9}{'inputs/s':>10}")
    for name, tally in tally_by_target.items():
        rate = tally.inputs / tally.seconds if tally.seconds else 0.0
        print(f"{name:<18}{tally.inputs:>9}{tally.accepted:>10}{tally.typed:>9}{tally.untyped_count:>9}{rate:>10.0f}")
    for name, tally in tally_by_target.items():
        for found in tally.untyped.values():
            shown = found.reproducer.hex() if len(found.reproducer) <= 200 else found.reproducer[:200].hex() + "..."
            print(f"\n{name}: {found.count} x {found.signature}\n  {found.detail}\n"
                  f"  minimal reproducer ({len(found.reproducer)} bytes): {shown}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help=f"inputs per target (default {DEFAULT_COUNT})")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--target", action="append", help="only this target (repeatable)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_COUNT} inputs per target, for CI")
    args = parser.parse_args(argv)
    count = args.count or (SMOKE_COUNT if args.smoke else DEFAULT_COUNT)
    logging.disable(logging.CRITICAL)  # the emulated equipment logs every bad frame it refuses
    warnings.simplefilter("ignore")  # cryptography warns of certificates it will refuse one day
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    with tempfile.TemporaryDirectory(prefix="hanbench-fuzz-") as tmp:
        folder = Path(tmp)
        (folder / "keys").mkdir()
        board = EmulatedBoard(FixedBackend(), folder, reset_gap=3600)
        tallies: dict[str, Tally] = {}
        targets = all_targets(folder, board)
        unknown = set(args.target or ()) - {t.name for t in targets}
        if unknown:
            parser.error(f"no target {', '.join(sorted(unknown))}; targets: {', '.join(t.name for t in targets)}")
        for target in targets:
            if not args.target or target.name in args.target:
                tallies[target.name] = run(target, count, args.seed)
        await board.stop()  # cancels the restarts that reset requests scheduled
    report(tallies, count, args.seed)
    return 1 if any(t.untyped for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
