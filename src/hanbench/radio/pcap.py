"""libpcap capture files, written so that a file under its final name is always whole.

The classic libpcap format (``pcap-savefile(5)``) is what every Wireshark and tshark opens:
a 24-octet global header (magic ``0xA1B2C3D4``, version 2.4, zone 0, sigfigs 0, snap length,
link type) and, per frame, a 16-octet record header (seconds and microseconds since 1970
UTC, captured and original length) followed by the frame's octets. Everything is written
little-endian; readers tell the byte order from the magic. Microseconds are enough: the
virtual loop's clock ticks in microseconds.

A capture is written under a hidden temporary name beside the target and renamed onto it
when it is closed, so a process that dies mid-run leaves at most a ``.<name>.*.partial``
file, never a truncated capture under the name the engineer asked for. A capture that
could not be written whole is removed, not renamed.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import struct
from pathlib import Path
from typing import BinaryIO

from hanbench.errors import BadInput, InfrastructureFault

#: Link type of IEEE 802.15.4 frames that end with their 2-octet FCS.
LINKTYPE_IEEE802_15_4_WITHFCS = 195

PCAP_MAGIC = 0xA1B2C3D4
PCAP_VERSION = (2, 4)
#: Longest frame a record may hold; far above any 802.15.4 frame, so nothing is cut.
SNAPLEN = 65535

GLOBAL_HEADER = struct.Struct("<IHHiIII")
RECORD_HEADER = struct.Struct("<IIII")

_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_LAST_SECOND = 0xFFFFFFFF  # 2106-02-07: the record's seconds field is 32 bits unsigned


class PcapWriteFailed(InfrastructureFault):
    """The capture file could not be written (disk full, folder gone); nothing was kept."""


class PcapTimeOutOfRange(BadInput):
    """A frame's time cannot be written in a pcap record (before 1970 or after 2106)."""


def capture_target(path: Path | str) -> Path:
    """``path`` made absolute, if a capture can be written there; :class:`BadInput` if not.

    Checked before a run starts, so a typo in the path is one error line, not a run whose
    capture is lost at the end.
    """
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        raise BadInput(f"capture {path} is a folder; name a file, e.g. {Path(path) / 'air.pcap'}")
    if not target.parent.is_dir():
        raise BadInput(f"cannot write capture {path}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise BadInput(f"cannot write capture {path}: folder {target.parent} is not writable")
    return target


def record_time(when: dt.datetime) -> tuple[int, int]:
    """``when`` as a record header's (seconds, microseconds) since 1970-01-01 UTC."""
    micros = (when - _UNIX_EPOCH) // _MICROSECOND
    seconds, fraction = divmod(micros, 1_000_000)
    if not 0 <= seconds <= _LAST_SECOND:
        raise PcapTimeOutOfRange(f"{when.isoformat()} cannot be stamped in a pcap file (1970 to 2106 only)")
    return seconds, fraction


class PcapWriter:
    """One pcap file being written; see the module docstring for the format and atomicity.

    End it with :meth:`close` (keep the file) or :meth:`discard` (drop it). Records are
    buffered and flushed to disk at close.
    """

    def __init__(self, path: Path | str, linktype: int) -> None:
        self.path = capture_target(path)
        # A fresh name (O_EXCL) created with the umask's permissions, as the final file should
        # have (mkstemp's would be 0600): a capture is for sharing.
        self._temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.partial")
        try:
            fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise BadInput(f"cannot write capture {self.path}: {exc.strerror}") from None
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._put(GLOBAL_HEADER.pack(PCAP_MAGIC, *PCAP_VERSION, 0, 0, SNAPLEN, linktype))

    def write(self, when: dt.datetime, frame: bytes) -> None:
        """Append one record: ``frame`` stamped ``when`` (an aware date-time)."""
        seconds, micros = record_time(when)
        self._put(RECORD_HEADER.pack(seconds, micros, len(frame), len(frame)) + frame)

    def close(self) -> None:
        """Flush everything to disk and give the file its final name."""
        file = self._open_file()
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            self._file = None
            os.replace(self._temp, self.path)
        except OSError as exc:
            self.discard()
            raise PcapWriteFailed(f"cannot finish capture {self.path}: {exc.strerror or exc}") from None

    def discard(self) -> None:
        """Drop the file: nothing appears under :attr:`path`. Safe to call more than once."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass  # the file is being thrown away; a failed flush of it changes nothing
            self._file = None
        self._temp.unlink(missing_ok=True)

    def _put(self, octets: bytes) -> None:
        try:
            self._open_file().write(octets)
        except OSError as exc:
            self.discard()
            raise PcapWriteFailed(f"cannot write capture {self.path}: {exc.strerror or exc}") from None

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            raise PcapWriteFailed(f"capture {self.path} is already closed")
        return self._file
