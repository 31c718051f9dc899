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

import enum


class ExitCode(enum.IntEnum):
    """What every ``hanbench`` command exits with: the table in README.md, in one place."""

    OK = 0
    CHECK_FAILED = 1  # a check or a test failed: the device, not the bench
    BAD_INPUT = 2  # what the user gave cannot be used; one ``error:`` line says why
    INFRASTRUCTURE_FAULT = 3  # the bench itself failed
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)


class HanbenchError(Exception):
    """Base of every error hanbench raises on purpose."""

    exit_code = ExitCode.CHECK_FAILED


class BadInput(HanbenchError):
    """Input that cannot be used as given; the message says what and where."""

    exit_code = ExitCode.BAD_INPUT


class CheckFailed(HanbenchError):
    """A well-formed input failed a check the user asked for."""

    exit_code = ExitCode.CHECK_FAILED


class InfrastructureFault(HanbenchError):
    """The bench, not the device under test, failed."""

    exit_code = ExitCode.INFRASTRUCTURE_FAULT
