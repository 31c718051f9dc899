"""The CH as a test instrument: what its OTA server does wrong on purpose, set per test.

A device under test must cope with everything a real Comms Hub's OTA server may do within the
ZCL OTA cluster, and with what it does when things go wrong on the way: a block that arrives
damaged or short, an answer at the wrong offset, twice, or after the device stopped waiting,
WAIT_FOR_DATA again and again, blocks smaller than the device asked for, a hub that restarts
mid-transfer or goes quiet. An :class:`OtaFaults` policy holds the faults a test sets; the
CH's OTA server (:mod:`hanbench.hub.ota_server`) consults it at its decision points:

* :meth:`OtaFaults.answer`, before it serves an Image Block or Image Page Request: serve, say
  nothing, WAIT_FOR_DATA, ABORT, or restart;
* :meth:`OtaFaults.shape`, on each block it sends: which offset and bytes it names, how many
  copies go out and how late;
* :meth:`OtaFaults.block_period_ms`, :meth:`OtaFaults.block_size` and
  :meth:`OtaFaults.upgrade_time`: the MinimumBlockPeriod it imposes, the largest block it
  sends and the Upgrade End Response's upgrade time, for this test.

Every answer is still a real ZCL frame from the server's own code, so the same faults drive an
emulated device on the virtual air and a real one through bellows. With no fault set the
server checks one boolean (:attr:`OtaFaults.active`) and nothing else, so the hot path of a
transfer pays nothing for the instrument.

A fault fires at the first block request at or past its ``at_offset`` (0: the first request),
for ``times`` requests (a :class:`Stall` for a span of time instead); :class:`BlockSizeCap`,
:class:`BlockPeriod` and :class:`UpgradeTime` hold for as long as they are set. Image Notify
variants (payload types 0-3, broadcast, query jitter) are actions rather than faults: see
:class:`ImageNotifyVariant` and :meth:`~hanbench.hub.ota_server.OtaServer.send_image_notify`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable

from hanbench.errors import BadInput

#: The largest block a CH serves (Silicon Labs' OTA server cap without APS encryption): the
#: image data one unfragmented Image Block Response carries.
MAX_BLOCK_SIZE_LIMIT = 63


# -- the faults a test sets ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fault:
    """A deviation of the CH's OTA server; ``at_offset`` is where it first acts."""

    at_offset: int = 0

    def __post_init__(self) -> None:
        if self.at_offset < 0:
            raise BadInput(f"a fault's offset must be >= 0, got {self.at_offset}")
        for name, (low, high) in self._limits().items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise BadInput(f"{type(self).__name__} {name} must be {low:g}..{high:g}, got {value}")

    def _limits(self) -> dict[str, tuple[float, float]]:
        """The range of each of the fault's own fields."""
        return {}


@dataclasses.dataclass(frozen=True)
class _Repeated(Fault):
    """A fault acting on ``times`` successive requests."""

    times: int = 1

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {"times": (1, math.inf)}


@dataclasses.dataclass(frozen=True)
class Unanswered(_Repeated):
    """The response to ``times`` requests never comes (lost on the way back)."""


@dataclasses.dataclass(frozen=True)
class Stall(Fault):
    """The server answers nothing for ``seconds`` from the first request at ``at_offset``."""

    seconds: float = 60.0

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {"seconds": (0, math.inf)}


@dataclasses.dataclass(frozen=True)
class WaitForData(_Repeated):
    """``times`` requests in a row get WAIT_FOR_DATA, each asking the device to come back in ``wait_s``."""

    wait_s: int = 2

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {**super()._limits(), "wait_s": (0, 0xFFFFFFFF)}


@dataclasses.dataclass(frozen=True)
class Abort(Fault):
    """The request gets ABORT: the server will not serve this image (any more)."""


@dataclasses.dataclass(frozen=True)
class Restart(Fault):
    """The CH restarts: it forgets every transfer without a word and answers nothing for
    ``outage_s``; then it serves again, a device coming back as a new transfer."""

    outage_s: float = 10.0

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {"outage_s": (0, math.inf)}


@dataclasses.dataclass(frozen=True)
class CorruptBlock(_Repeated):
    """A block's bytes arrive with one bit flipped (the frame itself is well formed)."""


@dataclasses.dataclass(frozen=True)
class ShortBlock(_Repeated):
    """A block carries only ``length`` bytes, fewer than the device asked for and the server allows."""

    length: int = 1

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {**super()._limits(), "length": (1, MAX_BLOCK_SIZE_LIMIT)}


@dataclasses.dataclass(frozen=True)
class WrongOffset(_Repeated):
    """A block answers the request with the bytes of another offset, ``shift`` bytes away, and says so."""

    shift: int = 1


@dataclasses.dataclass(frozen=True)
class Duplicate(_Repeated):
    """A block is sent twice: the second copy arrives unasked."""


@dataclasses.dataclass(frozen=True)
class Late(_Repeated):
    """A block is sent ``delay_s`` after the request: beyond a client's timeout, it arrives
    after the device has asked again."""

    delay_s: float = 10.0

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {**super()._limits(), "delay_s": (0, math.inf)}


@dataclasses.dataclass(frozen=True)
class BlockSizeCap(Fault):
    """Every block carries at most ``size`` bytes, however many the device asks for."""

    size: int = 16

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {"size": (1, MAX_BLOCK_SIZE_LIMIT)}


@dataclasses.dataclass(frozen=True)
class BlockPeriod(Fault):
    """The server imposes a MinimumBlockPeriod of ``ms`` (WAIT_FOR_DATA to a device that asks sooner)."""

    ms: int = 1000

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {"ms": (0, 0xFFFF)}


@dataclasses.dataclass(frozen=True)
class UpgradeTime(Fault):
    """Upgrade End Response says ``value`` (0: upgrade now) instead of 0xFFFFFFFF, wait for the command."""

    value: int = 0

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {"value": (0, 0xFFFFFFFF)}


# -- what the server is told ---------------------------------------------------------------------


class Answer(enum.Enum):
    """What to do with a block or page request instead of serving it."""

    SILENT = "silent"
    WAIT_FOR_DATA = "wait_for_data"
    ABORT = "abort"
    RESTART = "restart"


@dataclasses.dataclass(frozen=True)
class Decision:
    """:meth:`OtaFaults.answer`'s verdict: ``answer``, and ``seconds`` for a wait or an outage."""

    answer: Answer
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class Shaped:
    """A block as it goes out: the offset it names, its bytes, how many copies, how late."""

    offset: int
    data: bytes
    copies: int = 1
    delay_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class ImageNotifyVariant:
    """An Image Notify as a test sends it (ZCL OTA 11.13.3).

    ``payload_type`` 0 carries the query jitter only, 1 adds the manufacturer code, 2 the image
    type, 3 the new file version; fields beyond the payload type are not sent. ``broadcast``
    sends it to every device instead of one; a device draws a number in 1..100 and queries only
    if it is at most ``query_jitter``.
    """

    payload_type: int = 3
    query_jitter: int = 100
    manufacturer_code: int | None = None
    image_type: int | None = None
    new_file_version: int | None = None
    broadcast: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 3:
            raise BadInput(f"Image Notify payload types are 0..3, got {self.payload_type}")
        if not 0 <= self.query_jitter <= 100:
            raise BadInput(f"query jitter must be 0..100, got {self.query_jitter}")


# -- the policy -----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Armed:
    """A set fault and what is left of it."""

    fault: Fault
    left: int
    until: float | None = None  # a Stall's end, once it started


_ANSWERS: dict[type[Fault], Answer] = {
    Unanswered: Answer.SILENT, Stall: Answer.SILENT, WaitForData: Answer.WAIT_FOR_DATA, Abort: Answer.ABORT,
    Restart: Answer.RESTART,
}
_SHAPES = (CorruptBlock, ShortBlock, WrongOffset, Duplicate, Late)
_SETTINGS = (BlockSizeCap, BlockPeriod, UpgradeTime)


class OtaFaults:
    """The faults set on one CH's OTA server; see the module docstring."""

    def __init__(self) -> None:
        #: Whether any fault is set: the one thing the server checks when none is.
        self.active = False
        self._armed: list[_Armed] = []

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults still set, in the order they were set."""
        return tuple(a.fault for a in self._armed)

    def set(self, *faults: Fault) -> None:
        """Add ``faults`` to those set."""
        for fault in faults:
            if not isinstance(fault, Fault) or type(fault) in (Fault, _Repeated):
                raise BadInput(f"{fault!r} is not an OTA server fault")
            self._armed.append(_Armed(fault, getattr(fault, "times", 1)))
        self.active = bool(self._armed)

    def clear(self) -> None:
        """The server behaves again."""
        self._armed.clear()
        self.active = False

    # -- decision points -----------------------------------------------------------------------------

    def answer(self, offset: int, now: float) -> Decision | None:
        """What to do with a block or page request at ``offset`` (loop time ``now``) instead of
        serving it; ``None``: serve it."""
        for armed in self._firing(offset, _ANSWERS):
            fault = armed.fault
            if isinstance(fault, Stall):
                if armed.until is None:
                    armed.until = now + fault.seconds
                if now < armed.until:
                    return Decision(Answer.SILENT)
                self._spent(armed, all_of_it=True)
                continue
            self._spent(armed)
            if isinstance(fault, WaitForData):
                return Decision(Answer.WAIT_FOR_DATA, fault.wait_s)
            if isinstance(fault, Restart):
                return Decision(Answer.RESTART, fault.outage_s)
            return Decision(_ANSWERS[type(fault)])
        return None

    def shape(self, offset: int, data: bytes, image: bytes) -> Shaped:
        """The block the server is about to send (``data`` of ``image`` at ``offset``), as it goes out."""
        shaped = Shaped(offset, data)
        for armed in self._firing(offset, _SHAPES):
            self._spent(armed)
            match armed.fault:
                case CorruptBlock():
                    damaged = bytearray(shaped.data)
                    damaged[len(damaged) // 2] ^= 0x01
                    shaped = dataclasses.replace(shaped, data=bytes(damaged))
                case ShortBlock(length=length):
                    shaped = dataclasses.replace(shaped, data=shaped.data[:max(1, length)])
                case WrongOffset(shift=shift):
                    moved = min(max(0, offset + shift), len(image) - 1)
                    shaped = dataclasses.replace(shaped, offset=moved, data=image[moved:moved + len(shaped.data)])
                case Duplicate():
                    shaped = dataclasses.replace(shaped, copies=2)
                case Late(delay_s=delay):
                    shaped = dataclasses.replace(shaped, delay_s=delay)
        return shaped

    def block_size(self, size: int) -> int:
        """The largest block to send, ``size`` unless a :class:`BlockSizeCap` is set."""
        caps = [a.fault.size for a in self._armed if isinstance(a.fault, BlockSizeCap)]
        return min([size, *caps])

    def block_period_ms(self, period_ms: int) -> int:
        """The MinimumBlockPeriod to impose: the largest of ``period_ms`` and any :class:`BlockPeriod` set."""
        periods = [a.fault.ms for a in self._armed if isinstance(a.fault, BlockPeriod)]
        return max([period_ms, *periods])

    def upgrade_time(self, upgrade_time: int) -> int:
        """What Upgrade End Response says: ``upgrade_time`` unless an :class:`UpgradeTime` is set (the last wins)."""
        values = [a.fault.value for a in self._armed if isinstance(a.fault, UpgradeTime)]
        return values[-1] if values else upgrade_time

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _firing(self, offset: int, kinds: Iterable[type[Fault]] | dict[type[Fault], Answer]) -> list[_Armed]:
        wanted = tuple(kinds)
        return [a for a in self._armed if isinstance(a.fault, wanted) and offset >= a.fault.at_offset]

    def _spent(self, armed: _Armed, *, all_of_it: bool = False) -> None:
        armed.left = 0 if all_of_it else armed.left - 1
        if armed.left <= 0:
            self._armed.remove(armed)
            self.active = bool(self._armed)
