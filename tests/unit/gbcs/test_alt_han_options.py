"""MP170's two options as the bench reads seed 002: who is on the SMI, who orchestrates whom, what is
packaged together, which premises each option allows."""

from __future__ import annotations

import pytest

from hanbench.gbcs.alt_han import AltHanOption, SLEEPY_BRIDGES
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.errors import GbcsError

A, B = AltHanOption.A, AltHanOption.B
B1, B2, B3, B4 = PpmidVariant.bridges()
ALL = (B1, B2, B3, B4)


def test_option_a_suppliers_see_bridges_1_to_3_and_bridge_3_packages_and_serves_bridge_4() -> None:
    assert [A.on_smi(b) for b in ALL] == [True, True, True, False]
    assert [A.orchestrator_of(b) for b in ALL] == [None, None, None, B3]
    assert [A.package_of(b, ALL) for b in (B1, B2, B3)] == [(B1,), (B2,), (B3, B4)]
    with pytest.raises(GbcsError, match="do not see B4 on the SMI under option A: it is updated through B3"):
        A.package_of(B4, ALL)


def test_option_b_suppliers_see_bridge_1_only_and_it_serves_every_bridge_on_site() -> None:
    assert [B.on_smi(b) for b in ALL] == [True, False, False, False]
    assert [B.orchestrator_of(b) for b in ALL] == [None, B1, B1, B1]
    assert B.package_of(B1, ALL) == ALL
    assert B.package_of(B1, (B2, B1)) == (B1, B2), "most Alt HAN premises have only Bridges 1 and 2"
    assert B.orchestrated_by(B1, (B1, B3)) == (B3,)


def test_which_premises_each_option_allows() -> None:
    for site in ((), (B1,), (B1, B2), (B3, B4), ALL):
        A.check_site(site)
    with pytest.raises(GbcsError, match="has B3 and no B4"):
        A.check_site((B1, B3))
    with pytest.raises(GbcsError, match="has B4 and no B3"):
        A.check_site((B4,))
    for site in ((), (B1,), (B1, B4), ALL):
        B.check_site(site)
    with pytest.raises(GbcsError, match="has B2, B3 and no B1"):
        B.check_site((B3, B2))


def test_variants_and_options_parse_as_written_and_bridge_4_sleeps() -> None:
    assert PpmidVariant.parse(" b3 ") is B3 and B3.device_type is DeviceType.ALT_HAN and B3.code == 3
    assert PpmidVariant.parse("ppmid").device_type is DeviceType.PPMID
    assert AltHanOption.parse("b") is B
    with pytest.raises(GbcsError, match="expected one of PPMID, B1, B2, B3, B4"):
        PpmidVariant.parse("B5")
    with pytest.raises(GbcsError, match="expected A or B"):
        AltHanOption.parse("C")
    assert SLEEPY_BRIDGES == {B4}
