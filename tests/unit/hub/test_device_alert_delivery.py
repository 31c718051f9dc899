"""A device's alerts reach the CH however long its link is down: it tries again by itself, with backoff.

Over the virtual air with the CommsHub and an emulated ESME, in virtual time.
"""

from __future__ import annotations

import asyncio

import pytest

from fixture_files import sample
from han_premises import ENTITIES, Premises, premises
from hanbench.devices.firmware import FirmwareEvent, ImageHeld
from hanbench.devices.outbox import RetryPolicy
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.device_types import DeviceType
from hanbench.radio.link import LinkModel

pytestmark = pytest.mark.looptime

ESME = ENTITIES[DeviceType.ESME]


def cut(p: Premises, loss: float) -> None:
    """Lose ``loss`` of the frames between the CH and the ESME, both ways."""
    p.air.set_link(p.app.state.node_info.ieee, p.devices[DeviceType.ESME].node.ieee, LinkModel(loss=loss))


async def test_a_receipt_alert_that_could_not_be_sent_goes_once_the_link_is_back_with_nothing_else_queued() -> None:
    async with premises([DeviceType.ESME]) as p:
        esme = p.devices[DeviceType.ESME]
        loop = asyncio.get_running_loop()

        def link_down_as_the_image_is_held(event: FirmwareEvent) -> None:
            if isinstance(event, ImageHeld):
                cut(p, 1.0)
                loop.call_later(20, cut, p, 0.0)

        esme.firmware.subscribe(link_down_as_the_image_is_held)
        await p.hub.distribute(sample(DeviceType.ESME), [ESME])
        await p.until(lambda: esme.firmware.held is not None, timeout_s=600)
        await asyncio.sleep(5)
        assert esme.outbox.pending_alerts == 1, "the receipt alert waits in the outbox"
        retry_at = esme.outbox.next_retry_at
        assert retry_at is not None and retry_at > loop.time()
        await p.until(lambda: AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL in p.alert_codes(ESME), timeout_s=600)
        assert esme.outbox.pending_alerts == 0 and esme.outbox.next_retry_at is None


def test_retries_back_off_doubling_up_to_the_longest_interval() -> None:
    policy = RetryPolicy(first_s=10, max_s=900)
    assert [policy.delay(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert policy.delay(10_000) == 900
