"""benchmarks/gbcs_second_opinion.py's verdicts on captured messages: a MAC is verified with the
key store, a missing or wrong one fails unless the command's target refused it with 0x8F3D,
and what GBCS signs passes without a MAC. Real MACs and signatures with the bench key store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from fixture_files import ROOT, SUPPLIER, acb_protected, bench_keys, script_module
from hanbench.gbcs import firmware_version as fv
from hanbench.gbcs.alerts import GenericAlert, alert_message
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import ActivateFirmware, ActivationResult, ExecutionOutcome, activate_firmware_command, \
    activate_firmware_response
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage, MacEnvelope, encode_message
from hanbench.gbcs.protection import MacCheck

KEYS = bench_keys()
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
WHEN = datetime(2026, 1, 5, 9, tzinfo=UTC)


opinion = script_module(ROOT / "benchmarks" / "gbcs_second_opinion.py")


def captured(*messages: GbcsMessage) -> list:
    return [opinion.Captured(n, encode_message(m)) for n, m in enumerate(messages, start=1)]


def cs06(counter: int = 7) -> GbcsMessage:
    return activate_firmware_command(SUPPLIER, ESME, ActivateFirmware(bytes(32), counter), KEYS.private_key(SUPPLIER))


def refusal() -> GbcsMessage:
    return alert_message(ESME, SUPPLIER, 1, GenericAlert(AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE, WHEN),
                         KEYS.private_key(ESME))


def test_a_macd_command_and_a_signed_response_pass_with_the_mac_verified() -> None:
    command = acb_protected(cs06())
    response = activate_firmware_response(command, ExecutionOutcome(ActivationResult.HASH_MISMATCH, b"\0\0\0\1"),
                                          KEYS.private_key(ESME), date_time=WHEN)
    verdicts = opinion.review(captured(command, response), KEYS)
    assert [(v.mac, v.problem) for v in verdicts] == [(MacCheck.VALID, None), (None, None)]


def test_a_mac_that_does_not_verify_fails() -> None:
    read = acb_protected(fv.firmware_version_request(SUPPLIER, ESME, 8, fv.EsmeFirmwareVersionRequest()))
    forged = dataclasses.replace(read, mac=MacEnvelope(bytes(12), 0x11, read.mac.invocation_counter))
    [verdict] = opinion.review(captured(forged), KEYS)
    assert verdict.mac is MacCheck.INVALID and "does not verify" in verdict.problem


def test_a_command_without_a_mac_passes_only_if_its_target_refuses_it() -> None:
    refused = opinion.review(captured(cs06(), refusal()), KEYS)
    assert refused[0].refused and refused[0].problem is None and refused[0].mac is MacCheck.ABSENT
    answered = activate_firmware_response(cs06(), ExecutionOutcome(ActivationResult.HASH_MISMATCH, b"\0\0\0\1"),
                                          KEYS.private_key(ESME), date_time=WHEN)
    accepted = opinion.review(captured(cs06(), answered), KEYS)
    assert not accepted[0].refused and "carries no MAC" in accepted[0].problem
