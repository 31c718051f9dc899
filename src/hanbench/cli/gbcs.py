"""``hanbench gbcs decode``: every field of a GBCS message, and whether its signature and MAC hold.

A lab engineer pastes a message as RTDS files and logs hold it (hex, whitespace and line
breaks tolerated) or gives the raw bytes, from a file or ``-`` (standard input). Shown: the
frame (general-ciphering envelope or bare general-signing block), CRA flag, counters, entity
IDs, date-time, message code and use case, the payload decoded to its record, and, with
``--keystore DIR``, whether the signature (the originator's DS certificate) and the MAC
(:func:`hanbench.gbcs.protection.check_mac`) verify: ``valid``, ``invalid`` or ``no key``.

Exit codes: 0 it decodes and every check it could make passed; 1 a signature or MAC does not
verify; 2 it is not a GBCS message hanbench knows (one ``error:`` line naming the offset and
what was expected there).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from hanbench.errors import BadInput, CheckFailed
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.frame import MAC_LENGTH, GbcsMessage, decode_message, verify_message
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.protection import MacCheck, check_mac
from hanbench.gbcs.signing import SIGNATURE_LENGTH
from hanbench.gbcs.use_cases import read_payload

_HEX = re.compile(rb"[0-9A-Fa-f\s]+")

command = click.Group("gbcs", help="Decode GBCS messages.")


def read_message_bytes(raw: bytes) -> bytes:
    """Hex text (whitespace anywhere) or, failing that, the raw bytes themselves.

    Every GBCS message starts with 0xDD or 0xDF, which no hex text does, so the two forms
    cannot be mistaken for each other.
    """
    if raw and _HEX.fullmatch(raw):
        compact = re.sub(rb"\s+", b"", raw)
        if len(compact) % 2:
            raise BadInput(f"hex input has an odd number of digits ({len(compact)}): a byte is cut in half")
        return bytes.fromhex(compact.decode("ascii"))
    return raw


def _signature_check(msg: GbcsMessage, keys: KeyStore | None) -> str | None:
    if msg.signature is None:
        return None
    if keys is None or not keys.has_certificate(msg.originator, Usage.DS):
        return "no key"
    return "valid" if verify_message(msg, keys.public_key(msg.originator, Usage.DS)) else "invalid"


def _payload_offset(data: bytes, msg: GbcsMessage) -> int:
    signature_field = 0 if msg.pre_command else 1 + (SIGNATURE_LENGTH if msg.signature is not None else 0)
    return len(data) - (MAC_LENGTH if msg.mac else 0) - signature_field - len(msg.payload)


def _plain(value: Any) -> Any:
    """A record's value as JSON-ready data: bytes as hex, times in ISO 8601, enums by name."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _code(getattr(value, f.name)) if f.name.endswith("_code") else _plain(getattr(value, f.name))
                for f in dataclasses.fields(value)}
    if isinstance(value, EntityId):
        return value.duis
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _code(value: Any) -> Any:
    """Alert and message codes in the 0x8F30 form GBCS writes them, named when hanbench knows them."""
    if isinstance(value, int) and not isinstance(value, bool):
        name = getattr(value, "gbcs_name", None)
        return f"0x{int(value):04X}" + (f" {name}" if name else "")
    return _plain(value)


def describe(data: bytes, keys: KeyStore | None) -> dict[str, Any]:
    """Every field of the message in ``data``, decoded, with its checks."""
    msg = decode_message(data)
    try:
        record = read_payload(msg)
    except MessageFormatError as exc:
        raise MessageFormatError(f"payload at offset {_payload_offset(data, msg)}: {exc}") from None
    mac = None
    if msg.mac is not None:
        mac = {"security_control": f"0x{msg.mac.security_control:02X}",
               "invocation_counter": msg.mac.invocation_counter, "mac": msg.mac.mac.hex().upper(),
               "check": check_mac(msg, keys).value if keys is not None else MacCheck.NO_KEY.value}
    code = msg.message_code
    return {
        "frame": "general-ciphering (MAC'd)" if msg.mac else ("pre-command" if msg.pre_command else "general-signing"),
        "length": len(data),
        "cra": msg.cra.name.lower(),
        "originator_counter": msg.originator_counter,
        "originator": msg.originator.duis,
        "target": msg.target.duis,
        "date_time": None if msg.datetime is None else msg.datetime.isoformat(),
        "message_code": f"0x{int(code):04X}",
        "use_case": getattr(code, "gbcs_name", None),
        "supplementary": None if msg.supplementary is None else _plain(msg.supplementary),
        "payload": {"type": type(record).__name__, **_plain(record)},
        "payload_hex": msg.payload.hex().upper(),
        "signature": None if msg.signature is None else {"value": msg.signature.hex().upper(),
                                                         "check": _signature_check(msg, keys)},
        "mac": mac,
    }


def _lines(doc: dict[str, Any], indent: str = "") -> list[str]:
    width = max(len(k) for k in doc)
    out = []
    for key, value in doc.items():
        label = key.replace("_", " ")
        if isinstance(value, dict):
            out.append(f"{indent}{label}:")
            out.extend(_lines(value, indent + "  "))
        else:
            out.append(f"{indent}{label:<{width}}  {'-' if value is None else value}")
    return out


@command.command("decode")
@click.argument("source", metavar="FILE|-")
@click.option("--keystore", type=click.Path(file_okay=False, path_type=Path),
              help="Key store folder (RTDS layout) to check the signature and the MAC with.")
@click.option("--json", "as_json", is_flag=True, help="Print every field as JSON.")
def decode(source: str, keystore: Path | None, as_json: bool) -> None:
    """Decode the GBCS message in FILE (hex or binary; - reads standard input)."""
    if source == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read {source}: {exc.strerror or exc}") from None
    keys = KeyStore(keystore) if keystore is not None else None
    doc = describe(read_message_bytes(raw), keys)
    click.echo(json.dumps(doc, indent=2) if as_json else "\n".join(_lines(doc)))
    failed = [name for name in ("signature", "mac") if doc[name] and doc[name]["check"] == "invalid"]
    if failed:
        raise CheckFailed(f"{' and '.join(failed)} INVALID for {doc['originator']} -> {doc['target']}")
