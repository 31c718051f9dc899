"""The project's error taxonomy.

Three kinds of failure must never be confused by a lab engineer reading a report:

* :class:`BadInput` - what the user gave us is wrong (an image, a command, a TOML file, a
  port name). The CLI exits 2 with a one-line message.
* :class:`CheckFailed` - the input was well formed but a check on it failed (a signature
  that does not verify). The CLI exits 1.
* :class:`InfrastructureFault` - the bench itself failed (a serial port vanished, an NCP
  stopped answering). This is not the device's fault and must not be reported as a refusal.

Every module raises a subclass of one of these, never a bare ``ValueError``,
``IndexError`` or ``struct.error``.
"""

from __future__ import annotations


class HanbenchError(Exception):
    """Base of every error hanbench raises on purpose."""

    exit_code = 1


class BadInput(HanbenchError):
    """Input that cannot be used as given; the message says what and where."""

    exit_code = 2


class CheckFailed(HanbenchError):
    """A well-formed input failed a check the user asked for."""

    exit_code = 1


class InfrastructureFault(HanbenchError):
    """The bench, not the device under test, failed."""

    exit_code = 3
