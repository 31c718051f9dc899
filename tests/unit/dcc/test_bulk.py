"""Pacer and Throttle: a supplier's cap on requests in flight and on starts per second, in loop time."""

from __future__ import annotations

import asyncio

import pytest

from hanbench.clock import run_virtual
from hanbench.dcc.bulk import Pacer, SetResult, Throttle
from hanbench.dcc.service_requests import Outcome, RequestResult, TargetResult
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import RefusalRule, ServiceRequest


def test_the_cap_bounds_what_is_in_flight_and_the_rate_spaces_the_starts() -> None:
    async def run() -> tuple[list[float], int]:
        pacer = Pacer(Throttle(concurrency=3, rate_per_s=4.0))
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def work(item: int) -> int:
            starts.append(loop.time())
            await asyncio.sleep(10)  # a request that waits ten seconds for its answer
            return item * 2

        assert await pacer.map(range(9), work) == [i * 2 for i in range(9)]
        return starts, pacer.peak

    starts, peak = run_virtual(run())
    assert peak == 3
    assert starts[:3] == pytest.approx([0.0, 0.25, 0.5]), "4 per second while slots are free"
    assert starts[3:6] == pytest.approx([10.0, 10.25, 10.5]), "then a slot frees every 10 s"


def test_without_a_rate_only_the_cap_holds() -> None:
    async def run() -> list[float]:
        pacer = Pacer(Throttle(concurrency=2))
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def work() -> None:
            starts.append(loop.time())
            await asyncio.sleep(1)

        await asyncio.gather(*(pacer.run(work) for _ in range(4)))
        return starts

    assert run_virtual(run()) == pytest.approx([0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("knobs", [{"concurrency": 0}, {"batch": 0}, {"rate_per_s": 0.0}, {"rate_per_s": -1.0}])
def test_a_throttle_that_lets_nothing_through_is_bad_input(knobs: dict) -> None:
    with pytest.raises(BadInput):
        Throttle(**knobs)


def test_a_set_result_gathers_every_target() -> None:
    one, two, three = (EntityId(bytes([0, 0xDB, 0, 0, 0, 0, 0, n])) for n in (1, 2, 3))
    user = EntityId.parse("90-B3-D5-1F-30-01-00-00")
    first = RequestResult(1, ServiceRequest.UPDATE_FIRMWARE, user, (
        TargetResult(one, None, "", Outcome.DISTRIBUTED),
        TargetResult(two, RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE, "not theirs", Outcome.REFUSED)))
    second = RequestResult(2, ServiceRequest.UPDATE_FIRMWARE, user, (TargetResult(three, None, "", Outcome.DISTRIBUTED),))
    result = SetResult((first, second), {EntityId(bytes(8)): "no pending image"})
    assert result.outcomes() == {Outcome.DISTRIBUTED: 2, Outcome.REFUSED: 1}
    assert result.with_outcome(Outcome.DISTRIBUTED) == (one, three)
    assert set(result.targets) == {one, two, three}
