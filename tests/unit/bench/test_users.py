"""BenchUser: a DCC User's Service Requests as a script sends them, and its inbox as a script waits on it.

On the emu bench in virtual time, each test one session of bench/emu.toml (one supplier with
every device, an RSA it appointed, one appointed by nobody).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixture_files import bench_copy
from hanbench import InboxTimeout, Outcome, RefusalRule, open_bench
from hanbench.bench.events import RequestAuthorised, RequestRefused, RequestSubmitted
from hanbench.errors import BadInput

pytestmark = pytest.mark.looptime

UNAPPOINTED_RSA = "90-B3-D5-1F-30-0A-00-02"


async def test_an_update_is_distributed_read_and_activated_through_one_user(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, esme = bench.supplier, bench.device("esme")
        mark = bench.events.last_seq
        image = bench.config.images / "ESME-121D-0000-00000002.ota"
        result = await supplier.update_firmware(image.name, [esme])  # a file name in the bench's images
        assert [(t.device, t.outcome) for t in result.targets] == [(esme.id, Outcome.DISTRIBUTED)]
        assert result.user == supplier.id and result.service_request.value == "11.1"
        submitted = await bench.events.wait_for(RequestSubmitted, 0, since=mark)
        authorised = await bench.events.wait_for(RequestAuthorised, 0, since=mark)
        assert submitted.devices == authorised.devices == (esme.id,) and submitted.user == supplier.id

        receipt = await supplier.wait_alert(0x8F72, device=esme)
        assert receipt.calculated_hash is not None and receipt.device == esme.id
        activated = await supplier.activate_firmware(esme, receipt.calculated_hash)
        assert activated.outcome is Outcome.ACTIVATED and esme.state.running_version == 2
        read = await supplier.read_firmware_version(esme)
        assert (read.outcome, read.firmware_version) == (Outcome.VERSION_READ, 2)


async def test_a_refused_request_says_which_rule_refused_it_and_is_on_the_event_stream(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        rsa, esme = bench.user(UNAPPOINTED_RSA), bench.device("esme")
        mark = bench.events.last_seq
        result = await rsa.update_firmware(bench.image(esme, 2), [esme])
        [target] = result.targets
        assert (target.accepted, target.refusal, target.outcome) == (False, RefusalRule.RSA_NOT_APPOINTED,
                                                                     Outcome.REFUSED)
        refused = await bench.events.wait_for(RequestRefused, 0, since=mark)
        assert (refused.user, refused.devices, refused.rule) == (rsa.id, (esme.id,), "rsa_not_appointed")
        assert esme.state.held_version is None
        with pytest.raises(BadInput, match="cannot read image"):
            await rsa.update_firmware(tmp_path / "missing.ota", [esme])


async def test_wait_alert_returns_each_alert_once_oldest_first_whatever_the_code_spelling(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, rsa = bench.supplier, bench.rsa_of(bench.supplier)
        esme, hcalcs = bench.device("esme"), bench.device("hcalcs")
        await rsa.update_firmware(bench.image(esme, 2), [esme])
        await supplier.update_firmware(bench.image(hcalcs, 2), [hcalcs])
        first = await supplier.wait_alert("0x8f72")
        second = await supplier.wait_alert(0x8F72)
        assert {first.device, second.device} == {esme.id, hcalcs.id} and first.seq < second.seq
        with pytest.raises(InboxTimeout):
            await supplier.wait_alert("0x8F72", timeout=600)  # both returned already; no third
        assert (await rsa.wait_alert("N60", device=esme)).code == "N60"  # the RSA's own inbox (MP207)
        assert [a.code for a in supplier.alerts() if a.device == esme.id].count("0x8F72") == 1
        assert all(a.device == esme.id for a in rsa.alerts()), "the RSA hears of its own update only"


async def test_wait_alert_refuses_what_it_cannot_wait_for(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier = bench.supplier
        with pytest.raises(BadInput, match="cannot be negative"):
            await supplier.wait_alert(0x8F72, timeout=-1)
        with pytest.raises(BadInput, match="'0xZZ' is not a hexadecimal number"):
            await supplier.wait_alert("0xZZ", timeout=1)
        with pytest.raises(InboxTimeout):
            await supplier.wait_alert(0x8F72, timeout=60)


async def test_a_session_sees_only_its_own_alerts(tmp_path: Path) -> None:
    bench_file = bench_copy(tmp_path)
    async with open_bench(bench_file) as bench:
        esme = bench.device("esme")
        await bench.supplier.update_firmware(bench.image(esme, 2), [esme])
        await bench.supplier.wait_alert(0x8F72, device=esme)
        assert bench.supplier.alerts()
    async with open_bench(bench_file) as bench:  # the same inventory and inboxes, a new session
        assert bench.supplier.alerts() == []
        with pytest.raises(InboxTimeout):
            await bench.supplier.wait_alert(0x8F72, timeout=60)
