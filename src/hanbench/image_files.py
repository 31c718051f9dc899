"""GBCS OTA Upgrade Image files on disk: read one, write one atomically.

:mod:`hanbench.gbcs.image` parses and builds images from bytes and does no I/O; this is
the file side, shared by ``hanbench image``, ``firmware_images/make_images.py`` and anything
else that keeps images in files, so that every reader names the file in its errors and
every writer leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

from pathlib import Path

from hanbench.atomic_file import write_atomically
from hanbench.errors import BadInput
from hanbench.gbcs.image import UpgradeImage, parse_image


def read_bytes(path: Path, what: str) -> bytes:
    """The contents of ``path``, or :class:`BadInput` naming ``what`` could not be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_image(path: Path, *, signed: bool | None = None) -> UpgradeImage:
    """Parse the image file at ``path``; format errors name the file.

    ``signed``: ``None`` decides the form by the shape of the trailer; ``True`` or
    ``False`` insist on the signed or the unsigned (PPMID) form.
    """
    data = read_bytes(path, "image")
    try:
        return parse_image(data, signed=signed)
    except BadInput as exc:
        raise type(exc)(f"{path}: {exc}") from None


def write_image(path: Path, image: UpgradeImage) -> None:
    """Write ``image`` to ``path`` atomically: a crash or a full disk leaves either the old file
    or the new one, never half of one."""
    write_atomically(path, image.to_bytes(), "image")
