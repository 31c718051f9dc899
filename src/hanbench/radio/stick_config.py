"""The zigpy configuration of a coordinator on a serial stick (bellows, zigpy-znp, zigpy-deconz).

It is :func:`~hanbench.radio.zigpy_config.bench_zigpy_config` (every background chore off)
plus what a serial radio needs:

* the port, its baud rate and flow control. The bench file says ``software``, ``hardware``
  or ``none``; zigpy's ``flow_control`` setting is ``"software"``, ``"hardware"`` or
  ``None``, and bellows reads ``None`` as XON/XOFF, not as "no flow control". So an EZSP
  stick cannot be run without flow control, and this module says so instead of quietly
  turning XON/XOFF on.
* bellows' ``use_thread`` off. By default bellows runs the serial link on an event loop of
  its own in a worker thread. When the port vanishes, that loop stops itself *before* the
  application hears of the loss, and the ``disconnect`` bellows then submits to the
  stopping loop may never run (bellows issue #745): ``app.shutdown()`` then waits forever,
  which is what a lab needs least after a pulled stick. On the bench's own loop the same
  loss closes cleanly and the bench can reconnect. The bench's loop is not a busy one
  (milliseconds of work per frame), so ASH's 0.4 s and longer ACK timers are safe on it.
"""

from __future__ import annotations

from typing import Any

import zigpy.config as conf

from hanbench.errors import BadInput
from hanbench.radio.zigpy_config import bench_zigpy_config

#: bellows' own setting names (bellows.config), written out so that building a config for a
#: znp or deconz stick does not import bellows.
BELLOWS_USE_THREAD = "use_thread"

#: The radio libraries by the bench file's ``[radio] type``, and its flow control choices.
#: (Plain strings: the bench layer's enums are ``StrEnum`` and compare equal to them.)
RADIO_TYPES = ("ezsp", "znp", "deconz")
FLOW_CONTROLS = ("software", "hardware", "none")


def zigpy_flow_control(radio: str, flow_control: str) -> str | None:
    """zigpy's ``flow_control`` value for a bench file's choice, on ``radio``'s library."""
    if flow_control not in FLOW_CONTROLS:
        raise BadInput(f"unknown flow control {flow_control!r}: use one of {', '.join(FLOW_CONTROLS)}")
    if flow_control == "none":
        if radio == "ezsp":
            raise BadInput("bellows cannot open an EZSP stick without flow control: its "
                           "flow_control=None means XON/XOFF; set [radio] flow_control to "
                           "\"software\" (EmberZNet's default) or \"hardware\" (RTS/CTS)")
        return None
    return str(flow_control)


def stick_zigpy_config(
    path: str,
    *,
    radio: str = "ezsp",
    baudrate: int = 115200,
    flow_control: str = "software",
    database_path: str | None = None,
    channel: int = 15,
) -> dict[str, Any]:
    """The config dict for a serial radio library's ``ControllerApplication`` on ``path``.

    ``database_path`` is zigpy's SQLite database, where it keeps the devices it knows
    between sessions; ``None`` keeps them in memory only.
    """
    if radio not in RADIO_TYPES:
        raise BadInput(f"unknown radio type {radio!r}: use one of {', '.join(RADIO_TYPES)}")
    config = bench_zigpy_config(path, database_path=database_path, channel=channel)
    config[conf.CONF_DEVICE].update({
        conf.CONF_DEVICE_BAUDRATE: baudrate,
        conf.CONF_DEVICE_FLOW_CONTROL: zigpy_flow_control(radio, flow_control),
    })
    if radio == "ezsp":
        config[BELLOWS_USE_THREAD] = False
    return config
