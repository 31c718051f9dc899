"""A bench file that names a labgrid place, bound to the place's serial ports by role name.

The place itself (acquiring, waiting, releasing) is tested against a real coordinator in
tests/labgrid_place; here the binding and the bench that names no place, which need no labgrid.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from bench_helpers import BASE, edit

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.lab_place import bench_on_place, bound_to
from hanbench.hardware.labgrid_place import AcquiredPlace, PlaceProblem
from hanbench.hardware.labgrid_power import LabgridPower
from hanbench.hardware.ports import PortMatch, toml_inline

ON_PLACE = edit(BASE, 'kind = "emu"', 'kind = "lab"') + '\n[radio]\ntype = "ezsp"\n\n[lab]\nplace = "gb-bench-3"\n'


def url(port: int) -> str:
    return f"rfc2217://exporter-host:{port}?ign_set_control"


def test_each_role_is_bound_to_the_places_serial_port_of_its_name(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(ON_PLACE)
    place = AcquiredPlace("gb-bench-3", "lab-server:20408",
                          {"radio": url(5000), "esme": url(5001), "gsme": url(5002), "ihd": url(5003), "spare": url(1)})
    bound = bound_to(config, place)
    assert bound.radio is not None and bound.radio.port == PortMatch(path=url(5000))
    assert {d.name: d.board for d in bound.devices} == {
        "esme": PortMatch(path=url(5001)), "gsme": PortMatch(path=url(5002)), "ihd": PortMatch(path=url(5003))}
    assert bound.radio.port.find() == url(5000)  # a URL is used as given, never looked up among local ports
    assert (bound.name, bound.lab, bound.database_path) == (config.name, config.lab, config.database_path)


def test_a_role_without_a_serial_port_in_the_place_is_named_with_what_the_place_has(
        load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(ON_PLACE)
    place = AcquiredPlace("gb-bench-3", "lab-server:20408", {"radio": url(5000), "esme": url(5001)})
    with pytest.raises(PlaceProblem) as problem:
        bound_to(config, place)
    assert str(problem.value).startswith("labgrid place 'gb-bench-3' has no serial port named 'gsme'; "
                                         "its serial ports: esme, radio (name each resource")
    assert problem.value.exit_code == 2


def test_a_bench_that_names_no_place_is_used_as_it_is(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE)
    with bench_on_place(config, say=pytest.fail) as bound:
        assert bound is config


def test_a_device_without_power_is_switched_by_the_places_power_port_of_its_name(
        load_text: Callable[[str], BenchConfig]) -> None:
    written = {"driver": "usb-port", "hub": "1-1", "port": 2}
    config = load_text(edit(ON_PLACE, 'type = "ihd"\n', f'type = "ihd"\npower = {toml_inline(written)}\n'))
    outlet = {"driver": "labgrid", "model": "gude", "host": "pdu-1", "index": 3}
    place = AcquiredPlace("gb-bench-3", "lab-server:20408",
                          {"radio": url(5000), "esme": url(5001), "gsme": url(5002), "ihd": url(5003)},
                          {"esme": outlet, "ihd": {**outlet, "index": 4}})
    bound = {device.name: device.power for device in bound_to(config, place).devices}
    assert bound["esme"] is not None and dict(bound["esme"].table) == outlet
    assert bound["gsme"] is None  # the place has no power port for it
    assert bound["ihd"] is not None and dict(bound["ihd"].table) == written  # the bench file's own
    switch = bound["esme"].build("esme")
    assert isinstance(switch, LabgridPower) and (switch.model, switch.host, switch.index) == ("gude", "pdu-1", 3)
