"""Message shapes of the control protocol, as both ends read and write them."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from board_backend import HASH, MemoryBackend
from hanbench.gbcs.cs06 import PendingActivation
from hanbench.gbcs.occupant_data import PREVIOUS_OCCUPANT
from hanbench.hardware.protocol import (
    Alert,
    AlertEvent,
    BoardState,
    BootEvent,
    HeldImage,
    Identity,
    IncompatibleVersion,
    LogEvent,
    MalformedMessage,
    Response,
    StateEvent,
    check_protocol_version,
    clock_argument,
    encode_error,
    encode_event,
    encode_request,
    encode_result,
    parse_from_board,
    parse_request,
)

ALERT = Alert(alert_code=0x8F66, message_code=0x00CE, payload=b"\x01\x02")


def test_records_survive_a_round_trip_through_json() -> None:
    backend = MemoryBackend(pending=PendingActivation(datetime(2030, 6, 1, tzinfo=UTC), None, HASH), alerts=[ALERT])
    identity, state = backend.identify(), backend.state()
    assert Identity.from_json(json.loads(json.dumps(identity.to_json()))) == identity
    assert BoardState.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_a_pending_activation_goes_on_the_wire_as_hash_and_time_without_its_counter() -> None:
    at = datetime(2030, 6, 1, 12, tzinfo=UTC)
    state = MemoryBackend(pending=PendingActivation(at, 41, HASH)).state()
    wire = json.loads(json.dumps(state.to_json()))
    assert wire["pending_activation"] == {"hash": HASH.hex(), "at": "2030-06-01T12:00:00Z"}
    assert BoardState.from_json(wire).pending_activation == PendingActivation(at, None, HASH)


@pytest.mark.parametrize("event", [AlertEvent(ALERT), StateEvent(MemoryBackend().state()),
                                   LogEvent("warning", "low battery"), BootEvent("activation")])
def test_events_round_trip(event: object) -> None:
    assert parse_from_board(encode_event(event)) == event  # type: ignore[arg-type]


def test_a_request_carries_its_arguments_beside_op() -> None:
    line = encode_request(9, "set_clock", {"clock": "2030-01-01T00:00:00Z"})
    assert json.loads(line) == {"v": 1, "id": 9, "op": "set_clock", "clock": "2030-01-01T00:00:00Z"}
    request = parse_request(line)
    assert (request.id, request.op, dict(request.args)) == (9, "set_clock", {"clock": "2030-01-01T00:00:00Z"})


def test_responses_parse_into_result_or_refusal() -> None:
    assert parse_from_board(encode_result(3, {"a": 1})) == Response(3, True, {"a": 1}, None)
    refused = parse_from_board(encode_error(None, "busy", "writing flash"))
    assert isinstance(refused, Response) and refused.id is None and refused.error is not None
    assert (refused.error.code, refused.error.message) == ("busy", "writing flash")


def test_numbers_may_be_integers_or_hex_strings() -> None:
    assert HeldImage.from_json({"version": 65539, "hash": HASH.hex()}) == HeldImage(0x10003, HASH)
    assert HeldImage.from_json({"version": "0x00010003", "hash": HASH.hex()}) == HeldImage(0x10003, HASH)


@pytest.mark.parametrize(("obj", "complaint"), [
    ({"hash": HASH.hex()}, "field 'version' is missing"),
    ({"version": "65539", "hash": HASH.hex()}, "'version' should be a number or a '0x...' string"),
    ({"version": "0xZZ", "hash": HASH.hex()}, "'version' is not hexadecimal"),
    ({"version": 1 << 32, "hash": HASH.hex()}, "does not fit in 32 unsigned bits"),
    ({"version": 1, "hash": "abc"}, "'hash' should be hex bytes"),
    ({"version": 1, "hash": "abcd"}, "'hash' should be 32 bytes, got 2"),
    ({"version": True, "hash": HASH.hex()}, "'version' should be an integer or a string"),
])
def test_malformed_fields_are_named(obj: dict[str, object], complaint: str) -> None:
    with pytest.raises(MalformedMessage, match=complaint):
        HeldImage.from_json(obj)


def test_an_identity_with_an_unknown_role_is_malformed() -> None:
    data = MemoryBackend().identify().to_json() | {"role": "toaster"}
    with pytest.raises(MalformedMessage, match="unknown device type 'toaster'"):
        Identity.from_json(data)


def test_a_clock_without_time_zone_is_malformed() -> None:
    data = MemoryBackend().state().to_json() | {"clock": "2030-01-01T00:00:00"}
    with pytest.raises(MalformedMessage, match="'clock' has no time zone"):
        BoardState.from_json(data)


@pytest.mark.parametrize(("line", "complaint"), [
    (b"boot banner", "not a JSON line"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"id": 1, "ok": true}', "field 'v' is missing"),
    (b'{"v": 1, "id": "7", "ok": true}', "'id' should be an integer or null"),
    (b'{"v": 1, "id": 7, "ok": false}', "field 'error' is missing"),
])
def test_lines_that_are_not_messages(line: bytes, complaint: str) -> None:
    with pytest.raises(MalformedMessage, match=complaint):
        parse_from_board(line)


def test_other_major_versions_are_refused_and_unknown_events_ignored() -> None:
    with pytest.raises(IncompatibleVersion, match="v2, this hanbench knows only v1"):
        parse_from_board(b'{"v": 2, "event": "boot", "reason": "reset"}')
    assert parse_from_board(b'{"v": 1, "event": "x_radio_stats", "rssi": -40}') is None
    check_protocol_version("1.7")
    with pytest.raises(IncompatibleVersion, match="implements control protocol 2.0"):
        check_protocol_version("2.0")


# Lines a fuzzer found, each once an untyped exception on one side or the other
BAD_LINES = {
    "non-object result": b'{"v":1,"id":3,"ok":true,"result":1}',
    "clock before year 1 in UTC": b'{"v":1,"id":3,"op":"set_clock","clock":"0001-01-01T00:00:00+01:00"}',
    "nesting deeper than the stack": b"[" * 100_000,
    "integer of 5,000 digits": b'{"v":1,"id":' + b"9" * 5000,
    "hexadecimal code of 5,000 digits": b'{"v":1,"event":"alert","alert_code":"0x' + b"F" * 5000
                                        + b'","message_code":"0x00CD","payload":""}',
}


@pytest.mark.parametrize("line", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_bad_line_is_a_malformed_message_on_both_sides(line: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_from_board(line)
    with pytest.raises(MalformedMessage):
        clock_argument(parse_request(line).args)


def test_a_display_goes_on_the_wire_and_back_as_the_occupant_data_it_shows() -> None:
    state = dataclasses.replace(MemoryBackend().state(), display=PREVIOUS_OCCUPANT)
    wire = json.loads(json.dumps(state.to_json()))
    assert wire["display"]["consumption_wh"][0] == 8200 and wire["display"]["supplier_name"] == "GITTESTSUPPLIER"
    assert BoardState.from_json(wire) == state
    assert BoardState.from_json(MemoryBackend().state().to_json()).display is None, "a board that shows nothing"


@pytest.mark.parametrize(("display", "complaint"), [
    ({"messages": [], "top_ups_pence": [], "supplier_name": ""}, "field 'consumption_wh' is missing"),
    ({"consumption_wh": ["8 kWh"], "messages": [], "top_ups_pence": [], "supplier_name": ""},
     "'consumption_wh' should be a list of integers"),
    ({"consumption_wh": [], "messages": [1], "top_ups_pence": [], "supplier_name": ""},
     "'messages' should be a list of strings"),
    ({"consumption_wh": [], "messages": [], "top_ups_pence": [], "supplier_name": "",
      "unit_price_pence_per_kwh": "24p"}, "'unit_price_pence_per_kwh' should be a number or null"),
])
def test_a_malformed_display_is_named(display: dict[str, object], complaint: str) -> None:
    with pytest.raises(MalformedMessage, match=complaint):
        BoardState.from_json(MemoryBackend().state().to_json() | {"display": display})
