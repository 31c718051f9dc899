"""An estate in a bench file: the [estate] table read into typed records, and every mistake located."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from bench_helpers import BASE, assert_located, edit

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.config_reader import BenchConfigError
from hanbench.bench.estate_config import VersionMix
from hanbench.bench.estate_file import ESTATE_KEYS
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId

REPO = Path(__file__).resolve().parents[3]
SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")

# BASE without its devices and with the hub's ID left to the estate, then an estate of two templates.
ESTATE = BASE[: BASE.index("[[devices]]")].replace('id = "00-DB-12-34-56-78-91-02"\n', "") + """\
[estate]
premises = 10
first_id = "00-DB-30-00-00-00-00-00"

[estate.firmware]
esme = { versions = [3, 2, 1], shares = [0.5, 0.3, 0.2] }

[[estate.templates]]
name = "dual"
share = 0.6
devices = ["esme", "gsme"]
import_supplier = "90-B3-D5-1F-30-01-00-00"
gas_supplier = "90-B3-D5-1F-30-01-00-00"
link_loss = [0.0, 0.1]

[[estate.templates]]
name = "gas"
share = 0.4
devices = ["gsme"]
gas_supplier = "90-B3-D5-1F-30-01-00-00"
"""


def test_an_estate_file_loads_into_typed_records(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(ESTATE)
    estate = config.estate
    assert estate is not None and config.devices == ()
    assert (estate.premises, estate.first_id) == (10, EntityId.parse("00-DB-30-00-00-00-00-00"))
    assert config.hub.id == estate.first_id, "the bench's hub is the first premises' CH"
    dual, gas = estate.templates
    assert (dual.name, dual.devices, dual.share, dual.link_loss) == ("dual", (DeviceType.ESME, DeviceType.GSME), 0.6,
                                                                     (0.0, 0.1))
    assert (gas.devices, gas.import_supplier, gas.gas_supplier, gas.hub_supplier) == ((DeviceType.GSME,), None,
                                                                                      SUPPLIER, SUPPLIER)
    assert estate.firmware == {DeviceType.ESME: VersionMix((3, 2, 1), (0.5, 0.3, 0.2))}
    assert estate.template_counts() == {"dual": 6, "gas": 4}
    assert config.knobs()["estate"]["templates"] == {"dual": 6, "gas": 4}


def test_counts_and_shares_add_up_by_largest_remainder(load_text: Callable[[str], BenchConfig]) -> None:
    text = edit(edit(ESTATE, "premises = 10", "premises = 7"), "share = 0.4", "count = 2")
    text = edit(text, "share = 0.6", "share = 1.0")
    assert load_text(text).estate.template_counts() == {"dual": 5, "gas": 2}  # type: ignore[union-attr]
    thirds = edit(edit(ESTATE, "share = 0.6", "share = 0.5"), "share = 0.4", "share = 0.5")
    counts = load_text(edit(thirds, "premises = 10", "premises = 11")).estate.template_counts()  # type: ignore[union-attr]
    assert sum(counts.values()) == 11 and sorted(counts.values()) == [5, 6]


def test_with_counts_alone_the_premises_are_their_sum(load_text: Callable[[str], BenchConfig]) -> None:
    text = edit(edit(edit(ESTATE, "premises = 10\n", ""), "share = 0.6", "count = 3"), "share = 0.4", "count = 4")
    assert load_text(text).estate.premises == 7  # type: ignore[union-attr]


def test_the_hub_table_gives_every_ch_its_knobs(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(edit(ESTATE, "[hub]\n", '[hub]\nimage_rules = "slots"\nimage_store_slots = 3\n'
                                                'firmware_version = 0x00000005\n'))
    assert (config.hub.image_store_slots, config.hub.firmware_version) == (3, 5)
    assert load_text(ESTATE.replace("[hub]\n", "")).hub.id == EntityId.parse("00-DB-30-00-00-00-00-00")


ERRORS = [
    ("devices beside an estate", ESTATE + '\n[[devices]]\ntype = "esme"\n', "devices", "[[devices]]",
     "an estate's premises come from [[estate.templates]]"),
    ("a hub ID in an estate", edit(ESTATE, "[hub]\n", '[hub]\nid = "00-DB-12-34-56-78-91-02"\n'), "hub.id",
     'id = "00-DB-12-34-56-78-91-02"', "gets its CH's ID from [estate] first_id"),
    ("an estate on a twin bench", edit(ESTATE, 'kind = "emu"', 'kind = "twin"') + '\n[radio]\ntype = "ezsp"\n',
     "estate.premises", "premises = 10", "an estate is emulated"),
    ("no templates", ESTATE[: ESTATE.index("[[estate.templates]]")], "estate.templates", "[estate]\n",
     "at least one [[estate.templates]]"),
    ("shares that do not add up", edit(ESTATE, "share = 0.4", "share = 0.3"), "estate.templates[0].share",
     "share = 0.6", "add up to 1; they are dual 0.6, gas 0.3"),
    ("a count and a share", edit(ESTATE, "share = 0.4", "share = 0.4\ncount = 2"), "estate.templates[1].count", "count = 2",
     "either a count of premises or a share"),
    ("counts above the premises", edit(edit(ESTATE, "share = 0.4", "count = 11"), "share = 0.6", "share = 1.0"),
     "estate.premises", "premises = 10", "the templates count 11 premises, the estate has 10"),
    ("a GSME without its supplier", edit(ESTATE, 'gas_supplier = "90-B3-D5-1F-30-01-00-00"\n', "", 2),
     "estate.templates[1].gas_supplier", '[[estate.templates]]\nname = "gas"', "the template's gsme need their "
                                                                                "gas_supplier"),
    ("an export supplier without an ESME", edit(ESTATE, 'name = "gas"', 'name = "gas"\nexport_supplier = "x"'),
     "estate.templates[1].export_supplier", "export_supplier", "only an ESME has an export supplier"),
    ("a supplier without the role", edit(ESTATE, 'gas_supplier = "90-B3-D5-1F-30-01-00-00"',
                                         'gas_supplier = "90-B3-D5-1F-30-0A-00-01"', 2),
     "estate.templates[1].gas_supplier", 'gas_supplier = "90-B3-D5-1F-30-0A-00-01"', "does not hold role gas_supplier"),
    ("the CH as a template device", edit(ESTATE, 'devices = ["gsme"]', 'devices = ["ch"]'),
     "estate.templates[1].devices[0]", 'devices = ["ch"]', "'ch' is not allowed here"),
    ("a device twice", edit(ESTATE, 'devices = ["gsme"]', 'devices = ["gsme", "gsme"]'),
     "estate.templates[1].devices[1]", 'devices = ["gsme", "gsme"]', "gsme is listed twice"),
    ("a CH alone without a supplier", edit(edit(ESTATE, 'devices = ["gsme"]', "devices = []"),
                                           'gas_supplier = "90-B3-D5-1F-30-01-00-00"\n', "", 2),
     "estate.templates[1].import_supplier", '[[estate.templates]]\nname = "gas"',
     "a premises with only a CH needs its supplier"),
    ("a loss range backwards", edit(ESTATE, "link_loss = [0.0, 0.1]", "link_loss = [0.1, 0.0]"),
     "estate.templates[0].link_loss", "link_loss", "runs backwards"),
    ("a loss above 1", edit(ESTATE, "link_loss = [0.0, 0.1]", "link_loss = 1.5"),
     "estate.templates[0].link_loss", "link_loss", "a probability between 0 and 1"),
    ("versions not newest first", edit(ESTATE, "versions = [3, 2, 1]", "versions = [1, 2, 3]"),
     "estate.firmware.esme.versions", "esme = {", "newest (N) first"),
    ("shares of a mix that do not add up", edit(ESTATE, "shares = [0.5, 0.3, 0.2]", "shares = [0.5, 0.3, 0.3]"),
     "estate.firmware.esme.versions", "esme = {", "add up to 1"),
    ("IDs running into a user", edit(ESTATE, 'first_id = "00-DB-30-00-00-00-00-00"',
                                     'first_id = "90-B3-D5-1F-30-00-FF-F0"'),
     "estate.first_id", "first_id", "include user SUPPLIER's 90-B3-D5-1F-30-01-00-00"),
    ("IDs past 64 bits", edit(ESTATE, 'first_id = "00-DB-30-00-00-00-00-00"', 'first_id = "FF-FF-FF-FF-FF-FF-FF-F0"'),
     "estate.first_id", "first_id", "run past the largest entity ID"),
    ("an unknown estate key", edit(ESTATE, "premises = 10", "premisses = 10"), "estate.premisses", "premisses",
     "did you mean 'premises'?"),
]


@pytest.mark.parametrize(("text", "key", "at", "fragment"), [case[1:] for case in ERRORS],
                         ids=[case[0] for case in ERRORS])
def test_estate_errors_name_their_key_and_line(error_for: Callable[[str], BenchConfigError], text: str, key: str,
                                               at: str | None, fragment: str) -> None:
    assert_located(error_for(text), text, key, at, fragment)


def test_a_wake_phase_belongs_to_a_gsme_within_its_interval(error_for: Callable[[str], BenchConfigError],
                                                            load_text: Callable[[str], BenchConfig]) -> None:
    assert load_text(edit(BASE, 'type = "gsme"', 'type = "gsme"\nwake_phase_s = 90')).device("gsme").wake_phase_s == 90
    on_esme = error_for(edit(BASE, 'type = "esme"', 'type = "esme"\nwake_phase_s = 90'))
    assert (on_esme.key, on_esme.problem) == ("devices[0].wake_phase_s", "a esme never sleeps; only a GSME has a "
                                                                         "wake phase")
    late = error_for(edit(BASE, 'type = "gsme"', 'type = "gsme"\nwake_phase_s = 1800'))
    assert "less than the wake interval" in late.problem


def test_estate_toml_loads_and_documents_every_estate_key() -> None:
    config = load_bench(REPO / "bench" / "estate.toml")
    assert config.estate is not None and config.estate.premises == 100
    text = (REPO / "bench" / "estate.toml").read_text("utf-8")
    from hanbench.bench import estate_file

    keys = {*ESTATE_KEYS, *estate_file._TEMPLATE_KEYS, *estate_file._MIX_KEYS}
    assert sorted(k for k in keys if k not in text) == []
