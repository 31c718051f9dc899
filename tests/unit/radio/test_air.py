"""The free virtual air: addressing, delivery through the loop, latency, loss, observers, joins."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import zigpy.exceptions
import zigpy.types as t

from hanbench.errors import BadInput
from hanbench.radio.air import AirFrame, AirNode, JoinNotPermitted, VirtualAir
from hanbench.radio.link import LinkModel
from hanbench.radio.mac import data_frame_octets

pytestmark = pytest.mark.looptime


@dataclasses.dataclass
class RecordingNode:
    """A minimal AirNode that records what it receives and when (loop time)."""

    nwk: t.NWK
    ieee: t.EUI64
    awake: bool = True
    rx_on_when_idle: bool = True
    received: list[tuple[float, t.ZigbeePacket]] = dataclasses.field(default_factory=list)

    def receive(self, packet: t.ZigbeePacket) -> None:
        self.received.append((asyncio.get_running_loop().time(), packet))


def make_node(index: int, *, awake: bool = True, sleepy: bool = False) -> RecordingNode:
    return RecordingNode(t.NWK(index), t.EUI64.convert(f"00:00:00:00:00:00:00:{index:02x}"), awake, not sleepy)


def nwk(address: int) -> t.AddrModeAddress:
    return t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=address)


def packet(src: int, dst: t.AddrModeAddress, payload: bytes = b"\x00\x01\x02", tsn: int = 1) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src=nwk(src),
        src_ep=1,
        dst=dst,
        dst_ep=1,
        tsn=tsn,
        profile_id=0x0109,
        cluster_id=0x0019,
        data=t.SerializableBytes(payload),
    )


BROADCAST = t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=t.BroadcastAddress.ALL_DEVICES)


def air_with(*nodes: RecordingNode, **kwargs: object) -> VirtualAir:
    air = VirtualAir(**kwargs)  # type: ignore[arg-type]
    for node in nodes:
        air.attach(node)
    return air


def test_recording_node_satisfies_the_protocol() -> None:
    assert isinstance(make_node(1), AirNode)


async def test_unicast_is_delivered_from_the_loop_not_inside_transmit() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)
    await air.transmit(packet(1, nwk(2)))
    assert b.received == []
    await asyncio.sleep(0)
    assert [p.data.serialize() for _, p in b.received] == [b"\x00\x01\x02"]
    assert a.received == []


def test_an_air_used_again_on_a_later_loop_delivers_on_that_loop() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)

    async def send(tsn: int) -> None:
        await air.transmit(packet(1, nwk(2), tsn=tsn))
        await asyncio.sleep(0)

    asyncio.run(send(1))
    asyncio.run(send(2))  # the first loop is closed by now
    assert [p.tsn for _, p in b.received] == [1, 2]


async def test_unicast_by_ieee_reaches_the_node() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)
    await air.transmit(packet(1, t.AddrModeAddress(addr_mode=t.AddrMode.IEEE, address=b.ieee)))
    await asyncio.sleep(0)
    assert len(b.received) == 1


async def test_unicast_to_unknown_nwk_raises_delivery_error() -> None:
    a = make_node(1)
    air = air_with(a)
    with pytest.raises(zigpy.exceptions.DeliveryError, match="unknown"):
        await air.transmit(packet(1, nwk(0x4242)))
    assert air.undeliverable == 1


async def test_unicast_to_sleeping_node_raises_until_it_wakes() -> None:
    a, b = make_node(1), make_node(2, awake=False)
    air = air_with(a, b)
    with pytest.raises(zigpy.exceptions.DeliveryError, match="asleep"):
        await air.transmit(packet(1, nwk(2)))
    b.awake = True
    await air.transmit(packet(1, nwk(2)))
    await asyncio.sleep(0)
    assert len(b.received) == 1


async def test_sleeping_node_can_still_transmit() -> None:
    a, b = make_node(1), make_node(2, awake=False)
    air = air_with(a, b)
    await air.transmit(packet(2, nwk(1)))
    await asyncio.sleep(0)
    assert len(a.received) == 1


async def test_sender_must_be_on_the_air() -> None:
    air = air_with(make_node(2))
    with pytest.raises(zigpy.exceptions.DeliveryError, match="join first"):
        await air.transmit(packet(7, nwk(2)))


async def test_broadcast_reaches_every_other_awake_node() -> None:
    a, b, c, d = make_node(1), make_node(2), make_node(3), make_node(4, awake=False)
    air = air_with(a, b, c, d)
    await air.transmit(packet(1, BROADCAST))
    await asyncio.sleep(0)
    assert (len(a.received), len(b.received), len(c.received), len(d.received)) == (0, 1, 1, 0)


async def test_default_link_costs_nothing() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)
    start = asyncio.get_running_loop().time()
    for tsn in range(50):
        await air.transmit(packet(1, nwk(2), tsn=tsn))
    await asyncio.sleep(0)
    assert len(b.received) == 50
    assert all(at == start for at, _ in b.received)
    assert air.total_stats().lost == 0


async def test_latency_delays_delivery_and_nothing_else_costs_time() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b, default_link=LinkModel(latency_s=0.010))
    start = asyncio.get_running_loop().time()
    await air.transmit(packet(1, nwk(2), bytes(40), tsn=1))
    await air.transmit(packet(1, nwk(2), bytes(40), tsn=2))
    await asyncio.sleep(1)
    assert [at - start for at, _ in b.received] == [pytest.approx(0.010, abs=2e-6)] * 2
    assert [p.tsn for _, p in b.received] == [1, 2]


async def test_frames_on_one_link_arrive_in_order_with_equal_delays() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b, default_link=LinkModel(latency_s=0.005))
    for tsn in range(100):
        await air.transmit(packet(1, nwk(2), tsn=tsn))
    await asyncio.sleep(1)
    assert [p.tsn for _, p in b.received] == list(range(100))


async def _lost_unicasts(seed: int) -> list[int]:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b, default_link=LinkModel(loss=0.3), seed=seed)
    lost = []
    for tsn in range(200):
        try:
            await air.transmit(packet(1, nwk(2), tsn=tsn))
        except zigpy.exceptions.DeliveryError:
            lost.append(tsn)
    await asyncio.sleep(0)
    stats = air.link_stats()[(a.ieee, b.ieee)]
    assert stats.frames == 200
    assert stats.lost == len(lost)
    assert sorted(p.tsn for _, p in b.received) == sorted(set(range(200)) - set(lost))
    return lost


async def test_loss_with_a_fixed_seed_is_reproducible() -> None:
    first = await _lost_unicasts(seed=7)
    assert first == await _lost_unicasts(seed=7)
    assert 30 < len(first) < 90  # 30 % of 200, loosely
    assert first != await _lost_unicasts(seed=8)


async def test_a_link_lossless_at_first_loses_the_frames_it_would_have_lost_had_it_been_lossy_throughout() -> None:
    a, b = make_node(1), make_node(2)
    lossy = LinkModel(loss=0.3)
    losses = []
    for first in (LinkModel(), lossy):
        air = air_with(a, b, default_link=first, seed=3)
        lost = []
        for tsn in range(250):
            if tsn == 50:
                air.set_link(a.ieee, b.ieee, lossy, both_ways=False)
            try:
                await air.transmit(packet(1, nwk(2), tsn=tsn))
            except zigpy.exceptions.DeliveryError:
                lost.append(tsn)
        losses.append([tsn for tsn in lost if tsn >= 50])
        assert first == lossy or lost == losses[-1]  # lossless at first: nothing lost then
        await asyncio.sleep(0)
        air.detach(a)
        air.detach(b)
    assert losses[0] == losses[1] and losses[0]  # frame n's fate is the n-th draw either way


async def test_frames_sent_unobserved_are_numbered_for_a_capture_started_later() -> None:
    numbers = []
    for observed_from in (0, 3):
        a, b = make_node(1), make_node(2)
        air = air_with(a, b)
        seen: list[AirFrame] = []
        for tsn in range(5):
            if tsn == observed_from:
                air.add_observer(seen.append)
            await air.transmit(packet(1, nwk(2), tsn=tsn))
            await air.transmit(packet(2, nwk(1), tsn=tsn))
        await asyncio.sleep(0)
        assert [p.tsn for _, p in b.received] == list(range(5))
        assert air.total_stats().frames == 10
        numbers.append([(f.packet.tsn, f.src.nwk, f.numbers) for f in seen if f.packet.tsn >= 3])
    assert numbers[0] == numbers[1]


async def test_lost_broadcast_copy_vanishes_silently_and_is_counted() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)
    air.set_link(a.ieee, b.ieee, LinkModel(loss=1.0))
    await air.transmit(packet(1, BROADCAST))
    await asyncio.sleep(0)
    assert b.received == []
    assert air.link_stats()[(a.ieee, b.ieee)].lost == 1


def test_set_link_one_way_leaves_the_reverse_on_the_default() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)
    model = LinkModel(latency_s=1.0)
    air.set_link(a.ieee, b.ieee, model, both_ways=False)
    assert air.link_model(a.ieee, b.ieee) is model
    assert air.link_model(b.ieee, a.ieee) == LinkModel()


async def test_stats_count_frames_and_octets_per_link() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b)
    await air.transmit(packet(1, nwk(2), bytes(10)))
    await air.transmit(packet(2, nwk(1), bytes(20)))
    await air.transmit(packet(2, nwk(1), bytes(20)))
    stats = air.link_stats()
    assert (stats[(a.ieee, b.ieee)].frames, stats[(a.ieee, b.ieee)].octets) == (1, data_frame_octets(10, aps_secured=True))
    assert (stats[(b.ieee, a.ieee)].frames, stats[(b.ieee, a.ieee)].octets) == (2, 2 * data_frame_octets(20, aps_secured=True))


async def test_observers_see_every_frame_including_undeliverable_ones() -> None:
    a, b = make_node(1), make_node(2, awake=False)
    air = air_with(a, b)
    seen: list[AirFrame] = []
    remove = air.add_observer(seen.append)
    await air.transmit(packet(1, BROADCAST))
    with pytest.raises(zigpy.exceptions.DeliveryError):
        await air.transmit(packet(1, nwk(2), tsn=2))
    remove()
    await air.transmit(packet(1, BROADCAST, tsn=3))
    assert [f.packet.tsn for f in seen] == [1, 2]
    assert seen[0].octets == data_frame_octets(3, aps_secured=True)


async def test_join_needs_permit_and_notifies_the_trust_centre_from_the_loop() -> None:
    air = VirtualAir()
    node = make_node(5)
    joins: list[tuple[int, t.EUI64, int]] = []
    air.add_join_handler(lambda n, i, p: joins.append((n, i, p)))
    with pytest.raises(JoinNotPermitted):
        air.join(node)
    air.permit_joining(60)
    air.join(node, parent_nwk=t.NWK(0))
    assert joins == []
    await asyncio.sleep(0)
    assert joins == [(5, node.ieee, 0)]
    await asyncio.sleep(61)
    assert not air.joining_permitted
    assert node in air.nodes


def test_attach_refuses_address_clashes() -> None:
    air = air_with(make_node(1))
    with pytest.raises(BadInput, match="NWK address 0x0001"):
        air.attach(RecordingNode(t.NWK(1), t.EUI64.convert("aa:aa:aa:aa:aa:aa:aa:aa")))
    with pytest.raises(BadInput, match="IEEE"):
        air.attach(make_node(1))


async def test_frame_in_flight_to_a_detached_node_is_dropped() -> None:
    a, b = make_node(1), make_node(2)
    air = air_with(a, b, default_link=LinkModel(latency_s=0.1))
    await air.transmit(packet(1, nwk(2)))
    air.detach(b)
    await asyncio.sleep(1)
    assert b.received == []


@pytest.mark.parametrize(
    "kwargs", [{"latency_s": -1.0}, {"loss": 1.5}, {"loss": -0.1}]
)
def test_link_model_rejects_impossible_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(BadInput):
        LinkModel(**kwargs)  # type: ignore[arg-type]
