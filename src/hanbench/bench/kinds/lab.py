"""The ``lab`` kind: a real coordinator stick and real dev boards, in real time.

Assembly, in the order a lab bench comes up:

1. the stick is found by its ``[radio] port`` match and the CH's radio started on it
   (:mod:`hanbench.radio.stick`: the network of the session folder, resumed or formed; a
   stick on an RFC 2217 server, such as a labgrid place's, through
   :mod:`hanbench.hardware.serial_relay`), then watched (:mod:`.stick_watch`: a pulled or hung stick is reported and brought back);
2. the CH runs on it, reporting to the bench's event stream;
3. each device's board is found by its ``board`` match, asked who it is (a board that is
   another device stops the bench with the port named), and its state followed;
4. a device zigpy does not know yet is let in with its join key (its ``install_code`` or
   ``link_key`` in the bench file, else the network's: :func:`.boards.join_security`) and
   the bench waits for zigpy's interview. A test build joins by itself while the network
   is open (the control protocol has no join op); a device already in the session's zigpy
   database is kept as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from hanbench.bench.bench_config import FlowControl
from hanbench.bench.kinds.boards import BoardDevice, BoardPremises, board_device, join_security, stick_settings, \
    stick_watch
from hanbench.bench.kinds.emu import hub_on
from hanbench.bench.premises import AssemblyContext
from hanbench.hardware.control import BoardControl
from hanbench.hardware.ports import PortMatch
from hanbench.hardware.serial_relay import SerialRelay, is_rfc2217
from hanbench.hub.comms_hub import hub_endpoints
from hanbench.radio.addresses import eui64_of
from hanbench.radio.interview import wait_interviewed
from hanbench.radio.join_security import PERMIT_S
from hanbench.radio.stick import open_stick

VIRTUAL_TIME = False


@contextlib.asynccontextmanager
async def assemble(context: AssemblyContext) -> AsyncIterator[BoardPremises]:
    """The lab premises of ``context.config``; see the module docstring."""
    config = context.config
    assert config.radio is not None and config.radio.port is not None, "load_bench requires both on a lab bench"
    async with contextlib.AsyncExitStack() as stack:
        port = config.radio.port
        if is_rfc2217(path := port.find()):  # a labgrid place's, or one named by URL: see serial_relay
            relay = await stack.enter_async_context(SerialRelay(
                path, baudrate=config.radio.baudrate, xonxoff=config.radio.flow_control is FlowControl.SOFTWARE,
                rtscts=config.radio.flow_control is FlowControl.HARDWARE))
            port = PortMatch(path=relay.url)
        app = await stack.enter_async_context(open_stick(stick_settings(config, port.find()), hub_endpoints()))
        await stack.enter_async_context(stick_watch(app, context, port))
        hub = hub_on(app, context)
        stack.push_async_callback(hub.close)
        security = join_security(config)
        devices: dict[str, BoardDevice] = {}
        for entry in config.devices:
            assert entry.board is not None, "load_bench requires a board on a lab bench"
            devices[entry.name] = await stack.enter_async_context(
                board_device(entry, BoardControl(entry.board, name=entry.name,
                                                 reset_timeout=config.timing.board_reset_timeout_s), context.events))
            if not config.on_ch_han(entry):
                continue  # an Alt HAN bridge behind another: on its orchestrator's link, not the CH's HAN
            hub.register(entry.id, entry.type)
            ieee = eui64_of(entry.id)
            if ieee not in app.devices:
                await security.permit(app, ieee)
            # A device that joined while the network was open for another is still being interviewed
            await wait_interviewed(app, ieee, timeout=PERMIT_S)
        yield await stack.enter_async_context(BoardPremises(hub, devices, context.events))
