"""EZSP command dispatch on the NCP side: frames in, handler calls, frames out.

This is the chip's half of what bellows' `ezsp.protocol.ProtocolHandler` is on the
host: it reads a frame's header, enforces what EmberZNet enforces before any command
runs (version first, the right header layout), decodes the parameters with bellows'
schema (`ezsp_codec`), calls the handler the command set gives for that name, and
writes the response, then the callbacks the command raised, in wire order. What a
command *means* lives in the command set (`ezsp_ncp.EzspNcp`), as bellows keeps it in
`zigbee.application`; this module knows no command but `version`.

A command without a handler is answered with `invalidCommand(ERROR_INVALID_FRAME_ID)`
and a warning in the log, so bellows raises `InvalidCommandError` at once instead of
waiting 10 s for a reply that never comes.
"""

from __future__ import annotations

from collections.abc import Callable
import logging
from typing import Any

import bellows.types as t

from hanbench.twin.ezsp_codec import (
    COMMANDS_BY_ID,
    LEGACY_VERSION_ID,
    EzspDecodeError,
    Request,
    encode_response,
    invalid_command,
    parse_params,
    split_frame,
)

LOGGER = logging.getLogger(__name__)

Handler = Callable[..., dict[str, Any]]


class EzspDispatcher:
    """Runs host commands against a command set and sends replies and callbacks.

    `send` hands a finished EZSP frame to ASH; `handler_for(name)` gives the handler of
    the command named as bellows names it, or None when the chip does not emulate it.
    """

    def __init__(self, send: Callable[[bytes], None], handler_for: Callable[[str], Handler | None]) -> None:
        self._send = send
        self._handler_for = handler_for
        self.commands_seen: dict[str, int] = {}
        self._last_seq = 0
        self._callbacks_held: list[tuple[str, dict[str, Any]]] | None = None
        self.version_negotiated = False

    def reset(self) -> None:
        """After a chip reset the host must negotiate the version again."""
        self.version_negotiated = False

    def frame_received(self, data: bytes) -> None:
        """Execute one EZSP command from the host and answer it."""
        try:
            request = split_frame(data)
        except EzspDecodeError as exc:
            LOGGER.warning("%s", exc)
            return
        self._last_seq = request.seq

        if not self.version_negotiated and request.frame_id != LEGACY_VERSION_ID:
            # EmberZNet refuses everything until the host has sent `version`
            self._send(invalid_command(request, t.EzspStatus.ERROR_VERSION_NOT_SET))
            return
        if request.legacy and request.frame_id != LEGACY_VERSION_ID:
            self._send(invalid_command(request, t.EzspStatus.ERROR_WRONG_DIRECTION))
            return

        entry = COMMANDS_BY_ID.get(request.frame_id)
        handler = self._handler_for(entry[0]) if entry is not None else None
        if entry is None or handler is None:
            name = entry[0] if entry is not None else "unknown"
            LOGGER.warning("EZSP command %s (0x%04X) is not emulated", name, request.frame_id)
            self._send(invalid_command(request, t.EzspStatus.ERROR_INVALID_FRAME_ID))
            return

        name, tx_schema, _ = entry
        try:
            params = parse_params(name, tx_schema, request.payload)
        except EzspDecodeError as exc:
            LOGGER.warning("%s", exc)
            self._send(invalid_command(request, exc.status))
            return

        self.commands_seen[name] = self.commands_seen.get(name, 0) + 1
        if request.frame_id == LEGACY_VERSION_ID:
            self.version_negotiated = True
        self._reply(request, name, handler, params)

    def _reply(self, request: Request, name: str, handler: Handler, params: dict[str, Any]) -> None:
        # Callbacks a command raises (stackStatusHandler after networkInit, ...) follow
        # its response on the wire, as on the chip
        self._callbacks_held = []
        try:
            fields = handler(**params)
            self._send(encode_response(request.seq, name, fields, legacy=request.legacy))
        finally:
            held, self._callbacks_held = self._callbacks_held, None
        for callback, callback_fields in held:
            self.callback(callback, **callback_fields)

    def callback(self, name: str, **fields: Any) -> None:
        """Send an asynchronous callback frame to the host."""
        if self._callbacks_held is not None:
            self._callbacks_held.append((name, fields))
            return
        # The sequence of the last command: never one the host is still waiting on
        self._send(encode_response(self._last_seq, name, fields, callback=True))
