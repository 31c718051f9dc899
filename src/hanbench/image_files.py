"""GBCS OTA Upgrade Image files on disk: read one, write one atomically.

:mod:`hanbench.gbcs.image` parses and builds images from bytes and does no I/O; this is
the file side, shared by ``hanbench image``, ``firmware_images/make_images.py`` and anything
else that keeps images in files, so that every reader names the file in its errors and
every writer leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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
    """Write ``image`` to ``path`` atomically: a temporary file beside it, then a rename.

    A crash or a full disk leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(image.to_bytes())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BadInput(f"cannot write image {path}: {exc.strerror or exc}") from None
