"""The honest air: one shared channel per premises, MAC and APS acknowledgements and retries,
send confirmations in the time a stack takes, sleepy nodes reached through their polls, a
device's pacing over Image Block Responses, and the same timings for the same seed."""

from __future__ import annotations

import asyncio

import pytest
import zigpy.exceptions
import zigpy.types as t
from test_air import BROADCAST, RecordingNode, air_with, make_node, nwk, packet

from hanbench.radio.air import AirFrame, AirTiming, Fragment, MacFrame, MacFrameKind, VirtualAir
from hanbench.radio.link import LinkModel
from hanbench.radio.mac import (
    ACK_OCTETS,
    MAX_PSDU_OCTETS,
    PHY_OCTETS,
    MacConstants,
    airtime_s,
    aps_fragment_octets,
    data_frame_octets,
)

pytestmark = pytest.mark.looptime

C = MacConstants()
CCA_AND_TURNAROUND = C.cca_s + C.turnaround_s
LONGEST_FIRST_BACKOFF = 7 * C.unit_backoff_s
# ZCL OTA Image Block Response: cluster-specific, server to client, TSN 9, command 0x05, SUCCESS.
BLOCK_RESPONSE = bytes.fromhex("19" "09" "05" "00") + bytes(60)


def honest(*nodes: RecordingNode, **kwargs: object) -> VirtualAir:
    return air_with(*nodes, timing=AirTiming(), **kwargs)


def acked(p: t.ZigbeePacket) -> t.ZigbeePacket:
    """``p`` asking for an APS ACK, as zigpy asks for every frame that expects no reply."""
    return p.replace(tx_options=t.TransmitOptions.ACK)


def watched(air: VirtualAir) -> list[AirFrame | MacFrame]:
    seen: list[AirFrame | MacFrame] = []
    air.add_observer(seen.append)
    return seen


async def test_a_unicast_is_mac_acknowledged_and_confirmed_when_the_ack_arrives() -> None:
    a, b = make_node(1), make_node(2)
    air = honest(a, b)
    seen = watched(air)
    await air.transmit(packet(1, nwk(2), bytes(40)))
    confirmed = asyncio.get_running_loop().time()
    frame, ack = seen
    assert isinstance(frame, AirFrame) and isinstance(ack, MacFrame) and ack.kind is MacFrameKind.ACK
    assert ack.sequence == frame.numbers.mac and frame.attempt == 0
    octets = data_frame_octets(40, aps_secured=True)
    assert CCA_AND_TURNAROUND - 1e-9 <= frame.loop_time <= LONGEST_FIRST_BACKOFF + CCA_AND_TURNAROUND + 1e-9
    arrived = frame.loop_time + airtime_s(octets)
    assert [at for at, _ in b.received] == [pytest.approx(arrived)]
    assert ack.loop_time == pytest.approx(arrived + C.turnaround_s)
    assert confirmed == pytest.approx(ack.loop_time + airtime_s(ACK_OCTETS))


async def test_an_aps_ack_is_sent_back_only_when_the_frame_asks_for_one() -> None:
    a, b = make_node(1), make_node(2)
    air = honest(a, b)
    seen = watched(air)
    loop = asyncio.get_running_loop()
    await air.transmit(packet(1, nwk(2), tsn=1))
    plain = loop.time()
    await air.transmit(acked(packet(1, nwk(2), tsn=2)))
    with_aps_ack = loop.time()
    aps_acks = [f for f in seen if isinstance(f, AirFrame) and f.aps_ack]
    assert len(aps_acks) == 1
    (aps_ack,) = aps_acks
    assert (aps_ack.src.nwk, aps_ack.dst.nwk, aps_ack.packet.tsn) == (2, 1, 2)
    data = next(f for f in seen if isinstance(f, AirFrame) and f.packet.tsn == 2 and not f.aps_ack)
    assert aps_ack.numbers.aps == data.numbers.aps  # it names the frame it acknowledges
    # confirmed once the APS ACK is received, not at the MAC ACK of the data frame
    assert with_aps_ack - plain > airtime_s(aps_ack.octets)


async def test_lost_frames_are_retried_by_the_mac_and_delivered_once() -> None:
    a, b = make_node(1), make_node(2)
    air = honest(a, b, default_link=LinkModel(loss=0.3), seed=4)
    seen = watched(air)
    confirmed = []
    for tsn in range(60):
        try:
            await air.transmit(packet(1, nwk(2), tsn=tsn))
            confirmed.append(tsn)
        except zigpy.exceptions.DeliveryError:
            pass  # four attempts, each losing the frame or its ACK (51 %): about 7 % fail
    received = [p.tsn for _, p in b.received]
    assert len(received) == len(set(received)), "a retry the receiver already has is not delivered again"
    assert set(confirmed) <= set(received) and 50 <= len(confirmed) < 60
    retries = [f for f in seen if isinstance(f, AirFrame) and f.attempt > 0]
    assert retries and air.channel_stats is not None and air.channel_stats.retries == len(retries)
    first = {f.numbers.mac for f in seen if isinstance(f, AirFrame) and f.attempt == 0}
    assert all(f.numbers.mac in first for f in retries)  # a retry repeats its MAC sequence number


async def test_a_link_that_loses_everything_fails_after_the_retries_time() -> None:
    a, b = make_node(1), make_node(2)
    air = honest(a, b, default_link=LinkModel(loss=1.0))
    seen = watched(air)

    async def seconds_to_lose(p: t.ZigbeePacket) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(zigpy.exceptions.DeliveryError, match="lost on the air"):
            await air.transmit(p)
        return loop.time() - start

    mac_only = await seconds_to_lose(packet(1, nwk(2)))
    assert [f.attempt for f in seen if isinstance(f, AirFrame)] == [0, 1, 2, 3]  # macMaxFrameRetries 3
    assert 4 * C.ack_wait_s < mac_only < 0.1
    seen.clear()
    with_aps = await seconds_to_lose(acked(packet(1, nwk(2))))
    assert len([f for f in seen if isinstance(f, AirFrame)]) == 4 * 4  # apscMaxFrameRetries 3, each MAC-retried
    assert with_aps == pytest.approx(4 * C.aps_ack_wait_s, abs=0.05)  # the last attempt's wait too
    assert b.received == []


async def test_transfers_in_one_premises_share_the_channel() -> None:
    async def elapsed(pairs: int) -> float:
        nodes = [make_node(i) for i in range(1, 2 * pairs + 1)]
        air = honest(*nodes, seed=2)

        async def stream(src: int, dst: int) -> None:
            for tsn in range(50):
                try:
                    await air.transmit(packet(src, nwk(dst), bytes(60), tsn=tsn))
                except zigpy.exceptions.DeliveryError:
                    pass  # saturated, a sender meets five busy CCAs now and then

        start = asyncio.get_running_loop().time()
        await asyncio.gather(*(stream(2 * i + 1, 2 * i + 2) for i in range(pairs)))
        assert air.channel_stats is not None and air.channel_stats.access_failures < 5 * pairs
        return asyncio.get_running_loop().time() - start

    one, three = await elapsed(1), await elapsed(3)
    assert three > 2.5 * one  # three streams on one 250 kbit/s channel, not three channels


async def test_a_sleepy_node_gets_its_frames_when_it_polls() -> None:
    hub, meter = make_node(0), make_node(9, sleepy=True)
    air = honest(hub, meter)
    seen = watched(air)
    poll_every = AirTiming().poll_interval_s
    loop = asyncio.get_running_loop()
    await air.transmit(packet(9, nwk(0), tsn=1))  # the meter speaks first: its MAC starts polling
    sent_at = loop.time()
    await air.transmit(packet(0, nwk(9), tsn=2))
    confirmed = loop.time()
    polls = [f for f in seen if isinstance(f, MacFrame) and f.kind is MacFrameKind.DATA_REQUEST]
    assert polls and (polls[0].src.nwk, polls[0].dst.nwk) == (9, 0)  # type: ignore[union-attr]
    assert polls[0].loop_time == pytest.approx(sent_at + poll_every, abs=0.01)
    pending = next(f for f in seen if isinstance(f, MacFrame) and f.kind is MacFrameKind.ACK
                   and f.loop_time > polls[0].loop_time)
    assert pending.frame_pending and pending.sequence == polls[0].sequence
    [(arrived, frame)] = meter.received
    assert frame.tsn == 2 and polls[0].loop_time < arrived <= confirmed


async def test_a_frame_for_a_sleeping_node_fails_after_the_indirect_timeout() -> None:
    hub, meter = make_node(0), make_node(9, awake=False, sleepy=True)
    air = honest(hub, meter)
    loop = asyncio.get_running_loop()
    with pytest.raises(zigpy.exceptions.DeliveryError, match="asleep"):
        await air.transmit(packet(0, nwk(9)))
    assert loop.time() == pytest.approx(C.indirect_timeout_s)
    assert meter.received == [] and air.undeliverable == 1


async def test_each_queued_frame_expires_at_its_own_indirect_timeout() -> None:
    """One timer expires a parent's queue: the frame at its head fails at its own timeout,
    and the frame behind it, queued later, is still delivered if the node polls in time."""
    hub, meter = make_node(0), make_node(9, awake=False, sleepy=True)
    air = honest(hub, meter)
    loop = asyncio.get_running_loop()
    failed_at: dict[int, float] = {}

    async def send(tsn: int, after: float) -> None:
        await asyncio.sleep(after)
        try:
            await air.transmit(packet(0, nwk(9), tsn=tsn))
        except zigpy.exceptions.DeliveryError:
            failed_at[tsn] = loop.time()

    async def wake_later() -> None:
        await asyncio.sleep(C.indirect_timeout_s + 0.5)  # after the first frame expired, before the second
        meter.awake = True
        await air.transmit(packet(9, nwk(0), tsn=7))

    await asyncio.gather(send(1, 0.0), send(2, 2.0), wake_later())
    assert failed_at == {1: pytest.approx(C.indirect_timeout_s)}
    [(arrived, frame)] = meter.received
    assert frame.tsn == 2 and C.indirect_timeout_s + 0.5 < arrived < 2 + C.indirect_timeout_s


async def test_a_frame_waits_in_the_parent_queue_for_a_node_that_wakes_in_time() -> None:
    hub, meter = make_node(0), make_node(9, awake=False, sleepy=True)
    air = honest(hub, meter)

    async def wake_later() -> None:
        await asyncio.sleep(3)
        meter.awake = True
        await air.transmit(packet(9, nwk(0), tsn=7))  # a wake starts with a frame to the CH

    waker = asyncio.ensure_future(wake_later())
    await air.transmit(packet(0, nwk(9), tsn=8))
    await waker
    [(arrived, frame)] = meter.received
    assert frame.tsn == 8 and 3 < arrived < 3 + 2 * AirTiming().poll_interval_s


async def test_an_image_block_response_keeps_the_device_busy_for_its_pacing() -> None:
    hub, esme = make_node(0), make_node(1)
    air = honest(hub, esme)
    air.set_pacing(esme.ieee, 0.4)
    seen = watched(air)
    await air.transmit(acked(packet(0, nwk(1), BLOCK_RESPONSE, tsn=1)))
    await air.transmit(acked(packet(0, nwk(1), tsn=2)))  # anything that comes meanwhile waits
    await asyncio.sleep(1)
    block = next(f for f in seen if isinstance(f, AirFrame) and f.packet.tsn == 1 and not f.aps_ack)
    on_air_end = block.loop_time + airtime_s(block.octets)
    (first_at, first), (second_at, second) = esme.received
    assert (first.tsn, second.tsn) == (1, 2)
    assert first_at == pytest.approx(on_air_end + 0.4)
    assert second_at == pytest.approx(first_at)  # handed over right after, in order
    aps_ack = next(f for f in seen if isinstance(f, AirFrame) and f.aps_ack and f.packet.tsn == 1)
    assert aps_ack.loop_time < on_air_end + 0.01  # the stack acknowledges at once


async def test_a_broadcast_is_sent_once_and_heard_by_every_awake_node() -> None:
    a, b, c = make_node(1), make_node(2), make_node(3, awake=False)
    air = honest(a, b, c)
    seen = watched(air)
    await air.transmit(packet(1, BROADCAST))
    assert len(seen) == 1 and isinstance(seen[0], AirFrame)  # no ACK for a broadcast
    assert (len(b.received), len(c.received)) == (1, 0)


async def test_the_same_seed_gives_the_same_timings() -> None:
    async def timings(seed: int) -> list[float]:
        """When each frame went on the air, from the start of the run, on the loop's microsecond grid."""
        a, b, c = make_node(1), make_node(2), make_node(3)
        air = honest(a, b, c, default_link=LinkModel(loss=0.2), seed=seed)
        seen = watched(air)

        async def stream(src: int, dst: int) -> None:
            for tsn in range(20):
                try:
                    await air.transmit(acked(packet(src, nwk(dst), tsn=tsn)))
                except zigpy.exceptions.DeliveryError:
                    pass

        start = asyncio.get_running_loop().time()
        await asyncio.gather(stream(1, 2), stream(3, 2))
        return [round(f.loop_time - start, 6) for f in seen]

    assert await timings(1) == await timings(1)
    assert await timings(1) != await timings(2)


async def test_a_unicast_longer_than_one_frame_goes_as_aps_fragments_and_arrives_whole_once() -> None:
    a, b = make_node(1), make_node(2)
    air = honest(a, b)
    seen = watched(air)
    message = bytes(range(200))  # Smart Energy, APS-secured: 70 octets a fragment
    await air.transmit(packet(1, nwk(2), message))
    data = [f for f in seen if isinstance(f, AirFrame) and not f.aps_ack]
    aps_acks = [f for f in seen if isinstance(f, AirFrame) and f.aps_ack]
    size = aps_fragment_octets(aps_secured=True)
    assert [f.packet.data.serialize() for f in data] == [message[:size], message[size:2 * size], message[2 * size:]]
    assert [f.fragment for f in data] == [Fragment(0, 3), Fragment(1, 3), Fragment(2, 3)]
    assert all(f.octets - PHY_OCTETS <= MAX_PSDU_OCTETS for f in data)
    assert data[0].octets - PHY_OCTETS == MAX_PSDU_OCTETS, "a full fragment fills one frame"
    assert len({f.numbers.aps for f in data}) == 1, "the fragments of one message share its APS counter"
    # each fragment is APS-acknowledged before the next goes (a window of one)
    assert [f.fragment for f in aps_acks] == [f.fragment for f in data]
    assert all(ack.loop_time < after.loop_time for ack, after in zip(aps_acks, data[1:]))
    # the receiver's stack hands the message up whole, once, after the last fragment
    assert [p.data.serialize() for _, p in b.received] == [message]
    assert b.received[0][0] > data[-1].loop_time


async def test_a_fragment_lost_after_its_retries_fails_the_message_and_nothing_arrives() -> None:
    a, b = make_node(1), make_node(2)
    air = honest(a, b)
    seen = watched(air)
    loop = asyncio.get_running_loop()

    def cut(frame: AirFrame | MacFrame) -> None:
        if isinstance(frame, AirFrame) and frame.fragment == Fragment(1, 3) and not frame.aps_ack:
            air.set_link(a.ieee, b.ieee, LinkModel(loss=1.0))
    air.add_observer(cut)
    start = loop.time()
    with pytest.raises(zigpy.exceptions.DeliveryError, match="lost on the air"):
        await air.transmit(packet(1, nwk(2), bytes(200)))
    assert b.received == []
    assert not any(isinstance(f, AirFrame) and f.fragment == Fragment(2, 3) for f in seen)
    assert loop.time() - start > C.aps_max_retries * C.aps_ack_wait_s  # the fragment's APS retries
