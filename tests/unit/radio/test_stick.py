"""The CH's radio on a stick: unmodified bellows started by `radio.stick` against the EZSP twin.

Real time, real pty I/O. The session folder (`state_dir`) and the twin's NVRAM folder are
kept apart so that a test can give the same session a factory-new stick.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import bellows.zigbee.application
import pytest
import zigpy.config as conf
import zigpy.types as zt

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.radio import stick
from hanbench.radio.join_security import JoinSecurity, link_key_from_install_code, parse_link_key
from hanbench.radio.se_profile import SE_PROFILE_ID, SmartEnergyAppMixin
from hanbench.radio.stick import (
    ForeignNetwork,
    RadioLibraryMissing,
    StickSettings,
    StickUnavailable,
    application_class,
    open_stick,
)
from hanbench.radio.stick_config import BELLOWS_USE_THREAD, stick_zigpy_config
from hanbench.radio.virtual_app import comms_hub_endpoint
from hanbench.twin.ezsp_twin import EzspTwin

ENDPOINTS = [comms_hub_endpoint()]
# Zigbee 3.0 Base Device Behaviour spec, install code example, and its link key
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"
INSTALL_CODE_KEY = "66:b6:90:09:81:e1:ee:3c:a4:20:6b:6b:86:1c:02:bb"
DEVICE = zt.EUI64.convert("00:db:12:34:56:78:91:00")


def settings(twin: EzspTwin, session: Path) -> StickSettings:
    return StickSettings(radio="ezsp", path=twin.port, state_dir=session)


@pytest.fixture
async def twin(tmp_path: Path) -> AsyncIterator[EzspTwin]:
    async with EzspTwin(state_dir=tmp_path / "ncp") as running:
        yield running


async def test_bellows_starts_with_the_se_fix_and_the_hub_endpoints(twin: EzspTwin, tmp_path: Path) -> None:
    session = tmp_path / "session"
    async with open_stick(settings(twin, session), ENDPOINTS) as app:
        assert isinstance(app, bellows.zigbee.application.ControllerApplication)
        assert isinstance(app, SmartEnergyAppMixin)
        # The ESI endpoint replaces zigpy's HA endpoint 1, on the NCP and on zigpy's coordinator device
        assert {ep: d.profile for ep, d in twin.ncp.endpoints.items()} == {1: SE_PROFILE_ID}
        assert app._device.endpoints[1].profile_id == SE_PROFILE_ID
        assert app.state.network_info.channel == 15
    assert (session / stick.DATABASE_NAME).is_file()


async def test_a_factory_new_stick_gets_the_session_network_back(tmp_path: Path) -> None:
    session = tmp_path / "session"
    async with EzspTwin(state_dir=tmp_path / "first-ncp") as first, open_stick(settings(first, session),
                                                                                ENDPOINTS) as app:
        formed = app.state.network_info
    async with EzspTwin(state_dir=tmp_path / "spare-ncp") as spare, open_stick(settings(spare, session),
                                                                                ENDPOINTS) as app:
        resumed = app.state.network_info
        assert "formNetwork" in spare.ncp.link.commands_seen  # written from the backup, not formed at random
    assert (resumed.pan_id, resumed.extended_pan_id, resumed.channel) == (
        formed.pan_id, formed.extended_pan_id, formed.channel)
    assert resumed.network_key.key == formed.network_key.key


async def test_a_stick_with_another_network_is_refused(tmp_path: Path) -> None:
    async with EzspTwin(state_dir=tmp_path / "ncp") as twin:
        async with open_stick(settings(twin, tmp_path / "bench-a"), ENDPOINTS):
            pass
        # Another bench's session folder, whose network this stick does not run
        async with EzspTwin(state_dir=tmp_path / "other-ncp") as other:
            async with open_stick(settings(other, tmp_path / "bench-b"), ENDPOINTS):
                pass
        with pytest.raises(ForeignNetwork, match="runs another network"):
            async with open_stick(settings(twin, tmp_path / "bench-b"), ENDPOINTS):
                pass


async def test_a_missing_port_is_an_infrastructure_fault(tmp_path: Path) -> None:
    missing = StickSettings(radio="ezsp", path=str(tmp_path / "no-such-tty"), state_dir=tmp_path / "s")
    with pytest.raises(StickUnavailable, match="did not start") as caught:
        async with open_stick(missing, ENDPOINTS):
            pass
    assert isinstance(caught.value, InfrastructureFault)


def test_a_radio_library_that_is_not_installed_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(stick.LIBRARIES, "znp", stick._Library("hanbench_absent.application", "zigpy-znp", "znp"))
    with pytest.raises(RadioLibraryMissing, match=r"pip install 'hanbench\[znp\]'"):
        application_class("znp")
    with pytest.raises(BadInput, match="unknown radio type"):
        application_class("xbee")


async def test_endpoint_1_is_required(twin: EzspTwin, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="endpoint 1"):
        await stick.start_stick(settings(twin, tmp_path / "session"), [comms_hub_endpoint(2)])
    assert "version" not in twin.ncp.link.commands_seen  # refused before the port was opened


def test_flow_control_is_mapped_for_each_library() -> None:
    ezsp = stick_zigpy_config("/dev/ttyUSB0", radio="ezsp", baudrate=460800, flow_control="hardware")
    assert ezsp[conf.CONF_DEVICE] == {"path": "/dev/ttyUSB0", "baudrate": 460800, "flow_control": "hardware"}
    assert ezsp[BELLOWS_USE_THREAD] is False
    assert stick_zigpy_config("/dev/x", radio="ezsp")[conf.CONF_DEVICE]["flow_control"] == "software"
    # "none" is None for zigpy-znp, but bellows would read None as XON/XOFF
    assert stick_zigpy_config("/dev/x", radio="znp", flow_control="none")[conf.CONF_DEVICE]["flow_control"] is None
    assert BELLOWS_USE_THREAD not in stick_zigpy_config("/dev/x", radio="znp")
    with pytest.raises(BadInput, match="without flow control"):
        stick_zigpy_config("/dev/x", radio="ezsp", flow_control="none")
    with pytest.raises(BadInput, match="unknown flow control"):
        stick_zigpy_config("/dev/x", radio="ezsp", flow_control="rts")


def test_install_codes_and_link_keys() -> None:
    assert link_key_from_install_code(INSTALL_CODE) == zt.KeyData.convert(INSTALL_CODE_KEY)
    with pytest.raises(BadInput, match="CRC"):
        link_key_from_install_code(INSTALL_CODE[:-2] + "00")
    with pytest.raises(BadInput, match="not hexadecimal"):
        link_key_from_install_code("83FED3407A9397ZZ")
    assert parse_link_key("5A:69:67:42:65:65:41:6C:6C:69:61:6E:63:65:30:39") == zt.KeyData(b"ZigBeeAlliance09")
    with pytest.raises(BadInput, match="is 4 bytes"):
        parse_link_key("01020304")
    with pytest.raises(BadInput, match="both an install code and a link key"):
        JoinSecurity.from_codes(install_codes={DEVICE: INSTALL_CODE}, link_keys={DEVICE: "00" * 16})


async def test_the_trust_centre_learns_the_device_key_before_the_network_opens(
        twin: EzspTwin, tmp_path: Path) -> None:
    other = zt.EUI64.convert("00:db:12:34:56:78:91:01")
    security = JoinSecurity.from_codes(install_codes={DEVICE: INSTALL_CODE})
    async with open_stick(settings(twin, tmp_path / "session"), ENDPOINTS) as app:
        await security.permit(app, DEVICE)
        assert twin.ncp.transient_keys[DEVICE] == zt.KeyData.convert(INSTALL_CODE_KEY)
        await security.permit(app, other)  # no key of its own: the network's key, none for it
        assert other not in twin.ncp.transient_keys
