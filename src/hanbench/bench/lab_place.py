"""A lab bench on a labgrid place: the bench's ports are the place's for as long as it is held.

A lab bench file either binds the stick and each board to a local port (``[radio] port``,
each device's ``board``) or names a labgrid place (``[lab] place``), for a lab whose hardware
hangs off exporter hosts and is shared by several engineers. :func:`bench_on_place` is the
one way into such a bench, for every command that opens one (``hanbench run`` and pytest
through the plugin, ``hanbench bench check``): it holds the place for the block
(:func:`hanbench.hardware.labgrid_place.acquired_place`: waiting, time limit, release) and
yields the bench file with each role bound to the place's serial port of that name:
:data:`~hanbench.bench.bench_config.PLACE_RADIO` for the stick, the device's ``name`` for its
board. Everything after that is the lab kind as with local ports, the ports being
``rfc2217://`` URLs that the board client opens with pyserial and the stick through
:mod:`hanbench.hardware.serial_relay`. A device the bench file gives no ``power`` is switched
by the place's ``NetworkPowerPort`` of its name, if the place has one, through labgrid's
power driver (:mod:`hanbench.hardware.labgrid_power`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from hanbench.bench.bench_config import PLACE_RADIO, BenchConfig, PowerConfig
from hanbench.hardware.labgrid_place import AcquiredPlace, acquired_place, coordinator_address
from hanbench.hardware.ports import PortMatch


@contextlib.contextmanager
def bench_on_place(config: BenchConfig, *, say: Callable[[str], None] = print) -> Iterator[BenchConfig]:
    """``config`` itself if it names no place; otherwise ``config`` bound to its place, held for the block."""
    if config.lab is None:
        yield config
        return
    with acquired_place(config.lab.place, coordinator_address(config.lab.coordinator),
                        timeout=config.lab.acquire_timeout_s, say=say) as place:
        yield bound_to(config, place)


def bound_to(config: BenchConfig, place: AcquiredPlace) -> BenchConfig:
    """``config`` with the stick and every board on ``place``'s serial port of that role's name."""
    assert config.radio is not None, "load_bench requires [radio] on a lab bench"
    radio = dataclasses.replace(config.radio, port=PortMatch(path=place.port_url(PLACE_RADIO)))
    devices = tuple(dataclasses.replace(device, board=PortMatch(path=place.port_url(device.name)),
                                        power=_power(device.power, place.power_ports.get(device.name)))
                    for device in config.devices)
    return dataclasses.replace(config, radio=radio, devices=devices)


def _power(written: PowerConfig | None, on_place: Mapping[str, Any] | None) -> PowerConfig | None:
    """A device's power: as the bench file says, else the place's power port named as the device."""
    return written if written is not None or on_place is None else PowerConfig(MappingProxyType(dict(on_place)))
