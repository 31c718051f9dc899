"""The project's fixture files as every test folder reaches them, and images made from them.

Test modules import this by name (``pyproject.toml`` puts ``tests/`` on pytest's
``pythonpath``). It is the one place that says where the key stores, the RTDS vectors, the
sample images and the bench files live, who the test supplier is, and how a test builds an
OTA image signed with that supplier's key or copies a bench file into its own folder.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import itertools
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.emulated_firmware import EmulatedFirmware
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage, build_image, parse_image
from hanbench.gbcs.image_types import NEXT_FILE_VERSION, profile_for
from hanbench.gbcs.keystore import KeyStore, load_certificate, load_private_key, public_key_of
from hanbench.gbcs.protection import protect_from_store

ROOT = Path(__file__).resolve().parents[1]
#: The bench's key store: every entity of ``bench/*.toml`` (``fixtures/make_keys.py``).
BENCH_KEYS = ROOT / "fixtures" / "keys"
#: The official RTDS 4.5.0 vectors (``gbcs/``, ``duis/``) and their test key store.
RTDS = ROOT / "fixtures" / "rtds"
RTDS_KEYS = RTDS / "keystore"
#: The sample images, signed by :data:`SUPPLIER` (``firmware_images/make_images.py``).
IMAGES = ROOT / "firmware_images"
BENCH_FILES = ROOT / "bench"

#: The RTDS test supplier (GITTESTSUPPLIER): the same key pair in both key stores.
SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")


def script_module(path: Path) -> ModuleType:
    """The project script at ``path`` (``fixtures/make_keys.py``, a benchmark) imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None, f"{path} is not a Python script"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@functools.cache
def bench_keys() -> KeyStore:
    return KeyStore(BENCH_KEYS)


@functools.cache
def supplier_key() -> ec.EllipticCurvePrivateKey:
    """:data:`SUPPLIER`'s Digital Signing key, which signs the sample images."""
    return load_private_key(RTDS_KEYS / "90b3d51f30010000-ds.key")


@functools.cache
def supplier_public_key() -> ec.EllipticCurvePublicKey:
    """The public half, from :data:`SUPPLIER`'s DS certificate: what verifies a sample image."""
    return public_key_of(load_certificate(RTDS_KEYS / "90b3d51f30010000-ds.pem"))


def sample_bytes(kind: DeviceType | str, version: int = NEXT_FILE_VERSION) -> bytes:
    """The sample image of ``kind`` at ``version``, as its file holds it."""
    return (IMAGES / profile_for(kind).file_name(version)).read_bytes()


def sample(kind: DeviceType | str, version: int = NEXT_FILE_VERSION) -> UpgradeImage:
    """The sample image, read in its type's form (as the DCC reads an SR's image)."""
    return parse_image(sample_bytes(kind, version), signed=profile_for(kind).signed)


def relabelled(image: UpgradeImage, **header: int) -> UpgradeImage:
    """``image`` with OTA header fields rewritten (``file_version=0xFFFFFFFE``...) and its
    signature kept: GBCS signs the Manufacturer Image only, so the signature still verifies."""
    return dataclasses.replace(image, header=dataclasses.replace(image.header, **header))


_ACB_INVOCATIONS = itertools.count(1)


def acb_protected(command: GbcsMessage) -> GbcsMessage:
    """``command`` MAC'd by the DCC's Access Control Broker with the bench key store, under an
    invocation counter this test process has not used, as the DCC sends every command."""
    return protect_from_store(command, next(_ACB_INVOCATIONS), bench_keys())


def built_image(kind: DeviceType | str, version: int = NEXT_FILE_VERSION, *,
                sign_key: ec.EllipticCurvePrivateKey | None = None, force_replace: bool = False,
                body: bytes = b"firmware", hardware_range: bool = True, emulated: bool = True) -> UpgradeImage:
    """A new image for ``kind``'s profile carrying ``body``.

    The Manufacturer Image is emulated firmware stating ``kind``, ``version`` and the profile's
    hardware range, then ``body`` (what an emulated device runs); ``emulated`` False makes it
    ``body`` alone, a real manufacturer's opaque image. It is signed with ``sign_key``, or with
    :data:`SUPPLIER`'s key when the profile is a signed one or ``force_replace`` asks for a
    signature; ``hardware_range`` False leaves the profile's hardware versions out of the header.
    """
    profile = profile_for(kind)
    if sign_key is None and (profile.signed or force_replace):
        sign_key = supplier_key()
    if emulated:
        body = EmulatedFirmware(profile.device_type, version, profile.hw_min, profile.hw_max, body).encode()
    return build_image(
        body, manufacturer_code=profile.manufacturer_code, image_type=profile.image_type, file_version=version,
        hw_min=profile.hw_min if hardware_range else None, hw_max=profile.hw_max if hardware_range else None,
        force_replace=force_replace, sign_key=sign_key,
    )


def bench_copy(folder: Path, name: str = "emu.toml", *, replace: Mapping[str, str] | None = None,
               file_name: str | None = None) -> Path:
    """``bench/<name>`` written into ``folder``: its key store and images made absolute, its
    session records kept in ``folder/sessions``, and each ``replace`` key (which must occur
    exactly once) replaced."""
    text = (BENCH_FILES / name).read_text()
    replacements = {
        '"../fixtures/keys"': f'"{BENCH_KEYS}"',
        '"../firmware_images"': f'"{IMAGES}"',
        '"../sessions"': f'"{folder / "sessions"}"',
        **(replace or {}),
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{name} does not have exactly one {old!r} to replace"
        text = text.replace(old, new)
    path = folder / (file_name or name)
    path.write_text(text)
    return path


def estate_template(name: str, count: int, devices: Sequence[str], *, import_supplier: str | None = None,
                    gas_supplier: str | None = None) -> str:
    """One ``[[estate.templates]]`` table of a bench file (suppliers by entity ID, as the file writes them)."""
    lines = ["[[estate.templates]]", f'name = "{name}"', f"count = {count}",
             "devices = [" + ", ".join(f'"{device}"' for device in devices) + "]"]
    if import_supplier is not None:
        lines.append(f'import_supplier = "{import_supplier}"')
    if gas_supplier is not None:
        lines.append(f'gas_supplier = "{gas_supplier}"')
    return "\n".join(lines) + "\n"


#: The suppliers of the test key store's estates.
SUPPLIER_A_ID = "90-B3-D5-1F-30-01-00-00"
SUPPLIER_B_ID = "90-B3-D5-1F-30-02-00-00"


def dual_fuel_and_electricity(dual_fuel: int, electricity_only: int, *, other_name: str = "electricity_only") -> str:
    """Templates of a small test estate: ``dual_fuel`` premises with ESME and GSME of supplier A,
    and ``electricity_only`` premises with an ESME of supplier B."""
    return (estate_template("dual_fuel", dual_fuel, ["esme", "gsme"], import_supplier=SUPPLIER_A_ID,
                            gas_supplier=SUPPLIER_A_ID)
            + "\n" + estate_template(other_name, electricity_only, ["esme"], import_supplier=SUPPLIER_B_ID))


#: Two premises templates for small test estates: dual fuel with one supplier (ESME + GSME), and
#: electricity only with the other.
SMALL_ESTATE_TEMPLATES = dual_fuel_and_electricity(2, 1)


def estate_copy(folder: Path, templates: str = SMALL_ESTATE_TEMPLATES, *, firmware: str = "",
                replace: Mapping[str, str] | None = None) -> Path:
    """``bench/estate.toml`` as :func:`bench_copy` writes it, with ``templates`` instead of its
    own (and no premises count: the templates' counts make it), ``firmware`` instead of its
    ``[estate.firmware]`` (none: every device runs version 1), and ``replace`` applied."""
    path = bench_copy(folder, "estate.toml", replace=replace)
    text = path.read_text()
    head = text[: text.index("[estate.firmware]")].replace("premises = 100 ", "# premises ")
    path.write_text(head + "\n" + firmware + "\n" + templates + "\n" + text[text.index("# [[users]]"):])
    return path
