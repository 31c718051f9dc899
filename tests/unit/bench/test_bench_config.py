"""BenchConfig: device and user lookups by handle, their errors, and the knobs a session records."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from bench_helpers import BASE, edit

from hanbench.bench.bench_config import BenchConfig, NotOnBench, TimingConfig
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId

RTDS = EntityId.parse("90-B3-D5-1F-30-01-00-00")


def test_device_lookup_by_name_type_or_entity_id(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE)
    esme = config.device("esme")
    assert esme.type is DeviceType.ESME and esme.name == "esme"
    assert config.device("00-DB-12-34-56-78-91-00") is esme
    assert config.device(EntityId.parse("00db123456789100")) is esme
    assert [d.name for d in config.devices_of("gsme")] == ["gsme"]
    assert config.devices_of(DeviceType.HCALCS) == ()
    assert config.supplier_of("gsme").id == RTDS
    assert config.user(RTDS).name == "SUPPLIER"


def test_device_lookup_errors_name_the_choices(load_text: Callable[[str], BenchConfig]) -> None:
    two_esmes = BASE + """
[[devices]]
type = "esme"
id = "00-DB-12-34-56-78-91-09"
name = "esme2"
import_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111
"""
    config = load_text(two_esmes)
    assert config.device("esme").name == "esme"  # a name wins over a type
    assert config.device("esme2").id == EntityId.parse("00-DB-12-34-56-78-91-09")
    with pytest.raises(NotOnBench, match="has no device 'hcalcs'; its devices: esme, gsme, ihd, esme2"):
        config.device("hcalcs")
    with pytest.raises(NotOnBench, match="no device '00-DB-12-34-56-78-91-77'"):
        config.device("00-DB-12-34-56-78-91-77")
    with pytest.raises(NotOnBench, match="no user 90-B3-D5-1F-30-0F-00-01"):
        config.user("90-B3-D5-1F-30-0F-00-01")
    ambiguous = edit(two_esmes, 'name = "esme2"', 'name = "second"')
    ambiguous = edit(ambiguous, 'type = "esme"\nid = "00-DB-12-34-56-78-91-00"',
                     'type = "esme"\nid = "00-DB-12-34-56-78-91-00"\nname = "first"')
    with pytest.raises(NotOnBench, match="several esme devices \\(first, second\\); name one"):
        load_text(ambiguous).device("esme")
    assert issubclass(NotOnBench, BadInput)


def test_knobs_hold_everything_that_shapes_a_session(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE.replace("[hub]", "[air]\nloss = 0.25\nairtime = true\npoll_interval_ms = 250\n\n"
                                                "[air.block_pacing_ms]\nesme = 80\n\n[hub]"))
    knobs = config.knobs()
    assert knobs["start"] == "2026-01-05T09:00:00+00:00"
    assert knobs["policy"] == "mp207" and knobs["kind"] == "emu" and knobs["seed"] == 0
    pacing = {"esme": 80.0, "gsme": 250.0, "hcalcs": 250.0, "ppmid": 250.0, "ihd": 250.0, "alt_han": 250.0}
    assert knobs["air"] == {"latency_ms": 0.0, "loss": 0.25, "airtime": True, "poll_interval_ms": 250.0,
                            "block_pacing_ms": pacing}
    assert json.loads(json.dumps(knobs)) == knobs, "the record stores the knobs as JSON"
    assert knobs["timing"] == dataclasses.asdict(TimingConfig())
    assert knobs["hub"] == {"id": "00-DB-12-34-56-78-91-02", "image_rules": "seed", "image_store_slots": None,
                            "max_image_size": None, "firmware_version": 1, "hardware_version": 0x1111}
    assert knobs["radio"] is None and knobs["bench_file"] == str(config.file) and knobs["estate"] is None
