"""Keep pyserial's RFC 2217 reader thread from printing a traceback when a port is away.

Opening an ``rfc2217://`` URL starts a thread of pyserial's own ("pySerial RFC 2217 reader
thread for <url>", ``serial/rfc2217.py`` ``_telnet_read_loop``). When the server behind the
URL accepts and then drops the connection, as ser2net on a labgrid exporter does while the
board's device is away, that thread answers the server's Telnet negotiation on the dead socket
and dies with an uncaught ``BrokenPipeError`` or ``ConnectionResetError``. pyserial catches
socket errors only around its ``recv``, not around those answers, and offers no way in: the
thread is started and named inside ``open()``, so neither closing the instance nor any option
ends it cleanly. The failure itself is not lost: ``open()`` raises it (or times out the
negotiation) in the caller, which :class:`~hanbench.hardware.control.BoardControl` turns into
:class:`~hanbench.hardware.control.PortVanished`. What is left is Python's default thread
excepthook printing "Exception in thread ..." to stderr for an expected failure.

So the hardware layer wraps ``threading.excepthook``: it logs at debug and drops exactly those
two exception types from threads of that name, and hands every other thread exception to the
hook it replaced, unchanged. Written by hand because pyserial has no hook for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

READER_THREAD_PREFIX = "pySerial RFC 2217 reader thread"
"""How pyserial (and labgrid's fork of it) names the thread; its ``open()`` sets it."""

EXPECTED = (BrokenPipeError, ConnectionResetError)
"""What that thread dies of when the server drops the connection under it."""

_MARK = "_hanbench_rfc2217_quiet"


def quiet_rfc2217_reader() -> None:
    """Install the wrapper unless the current ``threading.excepthook`` already is one.

    Called on every port open rather than once: whoever swapped the hook since (pytest does,
    per test) is then wrapped in turn instead of being bypassed.
    """
    previous = threading.excepthook
    if getattr(previous, _MARK, False):
        return

    def hook(args: Any) -> None:
        name = args.thread.name if args.thread is not None else ""
        if args.exc_type is not None and issubclass(args.exc_type, EXPECTED) and name.startswith(READER_THREAD_PREFIX):
            log.debug("%s ended: %s: %s (the connection was dropped; open() reports it)",
                      name, args.exc_type.__name__, args.exc_value)
            return
        previous(args)

    setattr(hook, _MARK, True)
    threading.excepthook = hook
