"""Writing a file so that a reader finds either the old file or the whole new one, never half.

A temporary file beside the target (same folder, so same filesystem), flushed to disk, then
renamed over the target: a crash or a full disk leaves the old file (or none) and no
temporary. Shared by everything that writes a result a user keeps: images, reports.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hanbench.errors import BadInput


def write_atomically(path: Path, data: bytes, what: str) -> None:
    """Write ``data`` to ``path`` atomically; :class:`BadInput` naming ``what`` if it cannot be written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BadInput(f"cannot write {what} {path}: {exc.strerror or exc}") from None
