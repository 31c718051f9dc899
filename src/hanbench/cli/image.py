"""``hanbench image``: build, inspect, verify and hash GBCS OTA Upgrade Images.

``build --emulated TYPE`` puts the bench's emulated firmware header (device type, firmware
version = ``--file-version``, hardware range) in front of the given payload, inside the signed
Manufacturer Image (:mod:`hanbench.gbcs.emulated_firmware`); ``inspect`` shows those facts when
an image carries them, and says a real manufacturer's image is opaque. ``build --bundle
B3=FILE --bundle B4=FILE --sign-key KEY`` makes an Alt HAN bundle the Manufacturer Image
(:mod:`hanbench.gbcs.althan_bundle`: the bridges' images, signed as a whole with KEY) of an
image in the unsigned SR 11.4 form; ``inspect`` lists a bundle's components and ``verify``
checks its signature.

Exit codes follow the project's taxonomy: 0 success, 1 a check failed (a signature that
does not verify, an unsigned image asked to verify), 2 bad input (not an image, a missing
file, a bad option).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hanbench.errors import BadInput, CheckFailed
from hanbench.gbcs.althan_bundle import AltHanBundle, build_bundle, read_bundle
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.emulated_firmware import EmulatedFirmware, read_emulated_firmware
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import GbcsError, SignatureInvalid
from hanbench.gbcs.image import UpgradeImage, build_image, parse_image
from hanbench.gbcs.image_types import all_profiles, device_type_of
from hanbench.gbcs.keystore import load_certificate, load_private_key, public_key_of
from hanbench.gbcs.ota_header import HEADER_VERSION
from hanbench.image_files import read_bytes, read_image, write_image


class UInt(click.ParamType):
    """An unsigned integer of ``bits`` bits, written in hex (``0x121D``) or decimal."""

    name = "uint"

    def __init__(self, bits: int) -> None:
        self.bits = bits

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
            except ValueError:
                self.fail(f"{value!r} is not a number (write hex as 0x1A2B or decimal)", param, ctx)
        if not 0 <= number < 1 << self.bits:
            self.fail(f"{value!r} does not fit in an unsigned {self.bits}-bit integer", param, ctx)
        return number


class EntityIdType(click.ParamType):
    """An EUI-64 / GBCS entity ID such as ``00-DB-12-34-56-78-90-A0``."""

    name = "eui64"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> EntityId:
        try:
            return EntityId.parse(value)
        except BadInput as exc:
            self.fail(str(exc), param, ctx)


_FORMS = {"auto": None, "signed": True, "unsigned": False}
_form_option = click.option(
    "--form",
    type=click.Choice(list(_FORMS)),
    default="auto",
    show_default=True,
    help="Which image form to read: 'auto' decides by the shape of the trailer; 'signed' and "
    "'unsigned' (the PPMID form) insist.",
)


command = click.Group("image", help="Build, inspect, verify and hash GBCS OTA Upgrade Images.")


class BundleComponent(click.ParamType):
    """``B3=path/to/b3.ota``: a bridge type and the file of its OTA Upgrade Image."""

    name = "BRIDGE=FILE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[PpmidVariant, Path]:
        if isinstance(value, tuple):
            return value
        bridge, sep, path = str(value).partition("=")
        if not sep or not path:
            self.fail(f"{value!r} is not BRIDGE=FILE (e.g. B4=ALT_HAN_B4-121D-0089-00000002.ota)", param, ctx)
        try:
            variant = PpmidVariant.parse(bridge)
        except GbcsError as exc:
            self.fail(str(exc), param, ctx)
        if variant is PpmidVariant.PPMID:
            self.fail("a bundle carries bridge firmware, B1 to B4", param, ctx)
        return variant, Path(path)


@command.command("build")
@click.argument("manufacturer_image", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--manufacturer-code", type=UInt(16), required=True, help="Zigbee manufacturer code, e.g. 0x121D.")
@click.option("--image-type", type=UInt(16), required=True, help="Image type, e.g. 0x0000 for ESME.")
@click.option("--file-version", type=UInt(32), required=True, help="File version, e.g. 0x01020304.")
@click.option("--hw-min", type=UInt(16), help="Lowest hardware version the image suits (with --hw-max).")
@click.option("--hw-max", type=UInt(16), help="Highest hardware version the image suits (with --hw-min).")
@click.option("--header-string", default="", help="OTA header string, at most 32 bytes of UTF-8.")
@click.option("--stack-version", type=UInt(16), default="0x0002", show_default=True, help="Zigbee stack version.")
@click.option("--security-credential-version", type=UInt(8), help="Optional header field.")
@click.option("--destination", type=EntityIdType(),
              help="Upgrade file destination (device EUI-64), for a device-specific file.")
@click.option("--force-replace", is_flag=True, help="Set the Force Replace byte (signed images only).")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), help="Supplier DS private key (PEM/DER).")
@click.option("--unsigned", is_flag=True, help="Build the unsigned PPMID form instead of signing.")
@click.option("--emulated", "emulated", type=click.Choice([t.value for t in DeviceType]), metavar="TYPE",
              help="Emulated firmware for a device of TYPE (esme, gsme, ...): MANUFACTURER_IMAGE becomes the "
              "payload behind a signed header naming TYPE, --file-version and the hardware range (--hw-min/"
              "--hw-max, default the bench's range for TYPE).")
@click.option("--bundle", "bundle", type=BundleComponent(), multiple=True,
              help="An Alt HAN bundle instead of MANUFACTURER_IMAGE: each BRIDGE=FILE (B1..B4) adds that bridge's "
              "OTA Upgrade Image; --sign-key signs the bundle as a whole and the image stays unsigned (SR 11.4).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image file to write (atomically).")
def build(
    manufacturer_image: Path | None,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    hw_min: int | None,
    hw_max: int | None,
    header_string: str,
    stack_version: int,
    security_credential_version: int | None,
    destination: EntityId | None,
    force_replace: bool,
    sign_key: Path | None,
    unsigned: bool,
    emulated: str | None,
    bundle: tuple[tuple[PpmidVariant, Path], ...],
    output: Path,
) -> None:
    """Wrap MANUFACTURER_IMAGE (or a --bundle) in an OTA header and sign it (or not) into OUTPUT."""
    if (sign_key is None) == (not unsigned):
        raise BadInput("give exactly one of --sign-key KEY or --unsigned")
    key = load_private_key(sign_key) if sign_key is not None else None
    if bundle:
        if manufacturer_image is not None or emulated is not None or force_replace:
            raise BadInput("--bundle makes the Manufacturer Image: give no MANUFACTURER_IMAGE, --emulated or "
                           "--force-replace with it")
        if key is None:
            raise BadInput("a bundle is signed as a whole: give --sign-key KEY (the Supplier's DS key)")
        content, key = _bundle(bundle, key).to_bytes(), None
    elif manufacturer_image is None:
        raise BadInput("give MANUFACTURER_IMAGE, or --bundle BRIDGE=FILE for an Alt HAN bundle")
    else:
        content = read_bytes(manufacturer_image, "manufacturer image")
    if emulated is not None:
        if (hw_min is None) != (hw_max is None):
            raise BadInput("give both --hw-min and --hw-max, or neither")
        kind = DeviceType.parse(emulated)
        if hw_min is None:
            profiles = [p for p in all_profiles() if p.device_type is kind]
            if not profiles:
                raise BadInput(f"the bench has no hardware range for {kind.value}: give --hw-min and --hw-max")
            hw_min, hw_max = profiles[0].hw_min, profiles[0].hw_max
        content = EmulatedFirmware(kind, file_version, hw_min, hw_max, content).encode()
    image = build_image(
        content,
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        hw_min=hw_min,
        hw_max=hw_max,
        header_string=header_string,
        stack_version=stack_version,
        security_credential_version=security_credential_version,
        upgrade_file_destination=destination,
        force_replace=force_replace,
        sign_key=key,
    )
    write_image(output, image)
    form = "signed" if image.is_signed else "unsigned"
    size = image.header.total_image_size
    click.echo(f"wrote {output} ({size} bytes, {form}, hash {image.manufacturer_image_hash.hex()})")


def _bundle(components: tuple[tuple[PpmidVariant, Path], ...], key: Any) -> AltHanBundle:
    """The bundle of the component files, each checked to be an OTA Upgrade Image."""
    seen: dict[PpmidVariant, bytes] = {}
    for variant, path in components:
        if variant in seen:
            raise BadInput(f"--bundle names {variant} twice")
        read_image(path, signed=None)
        seen[variant] = read_bytes(path, f"{variant} image")
    return build_bundle(seen, key)


def describe(image: UpgradeImage) -> dict[str, Any]:
    """Every field of ``image`` as JSON-ready values (numbers as integers, bytes as hex)."""
    h = image.header
    device_type = device_type_of(h)
    facts = read_emulated_firmware(image.manufacturer_image)
    return {
        "size": h.total_image_size,
        "signed": image.is_signed,
        "device_type": device_type.value if device_type else None,
        "header": {
            "header_version": HEADER_VERSION,
            "header_length": h.header_length,
            "field_control": int(h.field_control),
            "manufacturer_code": h.manufacturer_code,
            "image_type": h.image_type,
            "file_version": h.file_version,
            "stack_version": h.stack_version,
            "header_string": h.text,
            "total_image_size": h.total_image_size,
            "security_credential_version": h.security_credential_version,
            "upgrade_file_destination": h.upgrade_file_destination.duis if h.upgrade_file_destination else None,
            "hw_min": h.hw_min,
            "hw_max": h.hw_max,
        },
        "manufacturer_image_size": len(image.manufacturer_image),
        "emulated_firmware": None if facts is None else {
            "device_type": facts.device_type.value,
            "firmware_version": facts.firmware_version,
            "hw_min": facts.hw_min,
            "hw_max": facts.hw_max,
            "payload_size": len(facts.payload),
        },
        "bundle": _describe_bundle(read_bundle(image.manufacturer_image)),
        "manufacturer_image_hash": image.manufacturer_image_hash.hex(),
        "force_replace": image.force_replace if image.is_signed else None,
        "signature": image.signature.hex() if image.signature is not None else None,
    }


def _describe_bundle(bundle: AltHanBundle | None) -> dict[str, Any] | None:
    """A bundle's components (bridge type, size, their header's image type and file version, hash)."""
    if bundle is None:
        return None
    components = []
    for variant, data in bundle.components.items():
        component = parse_image(data, signed=None)
        components.append({"bridge": variant.value, "size": len(data), "image_type": component.header.image_type,
                           "file_version": component.header.file_version,
                           "manufacturer_image_hash": component.manufacturer_image_hash.hex()})
    return {"components": components, "signature": bundle.signature.hex()}


def _bundle_rows(bundle: dict[str, Any] | None) -> list[tuple[str, str]]:
    if bundle is None:
        return []
    return [*((f"bundle component {c['bridge']}", f"{c['size']} bytes, image type {_hex(c['image_type'], 4)}, "
               f"file version {_hex(c['file_version'], 8)}, hash {c['manufacturer_image_hash']}")
              for c in bundle["components"]),
            ("bundle signature", bundle["signature"])]


def _emulated_rows(facts: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The signed facts of emulated firmware, or a word that a real image is opaque."""
    if facts is None:
        return [("signed firmware facts", "none (a manufacturer's opaque image)")]
    return [
        ("signed device type", facts["device_type"]),
        ("signed firmware version", _hex(facts["firmware_version"], 8)),
        ("signed hardware versions", f"{_hex(facts['hw_min'], 4)}..{_hex(facts['hw_max'], 4)}"),
        ("firmware payload", f"{facts['payload_size']} bytes"),
    ]


def _hex(value: int | None, digits: int) -> str:
    return "-" if value is None else f"0x{value:0{digits}X}"


def _table(image: UpgradeImage) -> list[tuple[str, str]]:
    d = describe(image)
    h = image.header
    return [
        ("device type", d["device_type"] or "(not a bench profile)"),
        ("form", "signed" if image.is_signed else "unsigned (PPMID form)"),
        ("total image size", f"{h.total_image_size} bytes"),
        ("header version", _hex(HEADER_VERSION, 4)),
        ("header length", str(h.header_length)),
        ("field control", _hex(int(h.field_control), 4)),
        ("manufacturer code", _hex(h.manufacturer_code, 4)),
        ("image type", _hex(h.image_type, 4)),
        ("file version", _hex(h.file_version, 8)),
        ("zigbee stack version", _hex(h.stack_version, 4)),
        ("header string", repr(h.text)),
        ("security credential version", _hex(h.security_credential_version, 2)),
        ("upgrade file destination", d["header"]["upgrade_file_destination"] or "-"),
        ("hardware versions", "-" if h.hw_min is None else f"{_hex(h.hw_min, 4)}..{_hex(h.hw_max, 4)}"),
        ("manufacturer image", f"{len(image.manufacturer_image)} bytes"),
        *_emulated_rows(d["emulated_firmware"]),
        *_bundle_rows(d["bundle"]),
        ("manufacturer image hash", d["manufacturer_image_hash"]),
        ("force replace", "-" if not image.is_signed else ("yes" if image.force_replace else "no")),
        ("signature", d["signature"] or "-"),
    ]


@command.command("inspect")
@click.argument("image_path", metavar="IMAGE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print every field as JSON.")
@_form_option
def inspect(image_path: Path, as_json: bool, form: str) -> None:
    """Show the header fields, hash and signature of IMAGE."""
    image = read_image(image_path, signed=_FORMS[form])
    if as_json:
        click.echo(json.dumps({"file": str(image_path), **describe(image)}, indent=2))
        return
    rows = _table(image)
    width = max(len(label) for label, _ in rows)
    click.echo(str(image_path))
    for label, value in rows:
        click.echo(f"  {label:<{width}}  {value}")


@command.command("verify")
@click.argument("image_path", metavar="IMAGE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cert", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Certificate of the Supplier that should have signed IMAGE.")
def verify(image_path: Path, cert: Path) -> None:
    """Check IMAGE's Supplier signature with the public key in CERT."""
    image = read_image(image_path, signed=None)
    certificate = load_certificate(cert)
    key = public_key_of(certificate, cert)
    holder = certificate.subject.rfc4514_string() or "certificate with an empty subject"
    bundle = None if image.is_signed else read_bundle(image.manufacturer_image)
    if bundle is not None:
        if not bundle.verify(key):
            raise SignatureInvalid(f"bundle signature INVALID: the Alt HAN bundle in {image_path} was not signed as "
                                   f"a whole by the key of {holder} ({cert})")
        click.echo(f"bundle signature valid ({holder})")
        return
    if not image.is_signed:
        raise CheckFailed(f"{image_path} is unsigned (no Force Replace/signature trailer): nothing to verify")
    if not image.verify(key):
        raise SignatureInvalid(
            f"signature INVALID: {image_path} was not signed over its Manufacturer Image by the key of "
            f"{holder} ({cert})"
        )
    click.echo(f"signature valid ({holder})")


@command.command("hash")
@click.argument("image_path", metavar="IMAGE", type=click.Path(dir_okay=False, path_type=Path))
@_form_option
def hash_(image_path: Path, form: str) -> None:
    """Print the Manufacturer Image Hash of IMAGE (what SR 11.3 / CS06 must name) in hex."""
    click.echo(read_image(image_path, signed=_FORMS[form]).manufacturer_image_hash.hex())
