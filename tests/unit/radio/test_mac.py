"""The honest air's 802.15.4 channel: CSMA-CA backoffs, ACK timing, retries, access failures,
inter-frame spacing, with the standard's default constants."""

from __future__ import annotations

import itertools
import random

import pytest

from hanbench.radio import mac
from hanbench.radio.mac import (
    ACK_OCTETS,
    DATA_REQUEST_OCTETS,
    FRAME_OVERHEAD_OCTETS,
    SYMBOL_S,
    Channel,
    MacConstants,
    Sent,
    airtime_s,
    aps_ack_octets,
    data_frame_octets,
)

C = MacConstants()
UNIT = 20 * SYMBOL_S  # aUnitBackoffPeriod, 320 us
CCA, TURNAROUND = 8 * SYMBOL_S, 12 * SYMBOL_S
FRAME = data_frame_octets(67, aps_secured=True)  # an Image Block Response with 50 bytes of image


class Draw(random.Random):
    """Backoff draws pinned to the lowest (``high=False``) or highest value of the window."""

    def __init__(self, *, high: bool) -> None:
        super().__init__(0)
        self.high = high
        self.windows: list[int] = []

    def randrange(self, stop: int, *args: object, **kwargs: object) -> int:  # type: ignore[override]
        self.windows.append(stop)
        return stop - 1 if self.high else 0


def channel(*, high: bool = False, now: float = 0.0) -> tuple[Channel, Draw]:
    draw = Draw(high=high)
    return Channel(C, draw, lambda: now), draw


def send(ch: Channel, at: float, octets: int = FRAME, *, acked: bool = True, lost: list[bool] | None = None,
         ack_lost: list[bool] | None = None) -> tuple[Sent, list[tuple[str, float, int]]]:
    frames: list[tuple[str, float, int]] = []
    losses, ack_losses = iter(lost or []), iter(ack_lost or [])
    sent = ch.send(at, octets, acked=acked,
                   frame_lost=lambda octets: next(losses, False), ack_lost=lambda octets: next(ack_losses, False),
                   on_frame=lambda start, attempt: frames.append(("frame", start, attempt)),
                   on_ack=lambda start, attempt: frames.append(("ack", start, attempt)))
    return sent, frames


def test_the_constants_are_the_standards_defaults() -> None:
    assert (C.min_be, C.max_be, C.max_csma_backoffs, C.max_frame_retries) == (3, 5, 4, 3)
    assert (C.unit_backoff_s, C.cca_s, C.turnaround_s) == pytest.approx((320e-6, 128e-6, 192e-6))
    assert C.ack_wait_s == pytest.approx(864e-6)  # 54 symbols
    assert (C.aps_ack_wait_s, C.aps_max_retries, C.indirect_timeout_s) == (1.6, 3, 7.68)


def test_frame_sizes_follow_the_zigbee_pro_frame_formats() -> None:
    assert FRAME_OVERHEAD_OCTETS == 6 + 11 + 8 + 18 + 8
    assert data_frame_octets(17) == 68  # an Image Block Request without APS security
    assert data_frame_octets(67, aps_secured=True) == 127  # a 50-byte block fills a PSDU
    assert aps_ack_octets() == 51 and aps_ack_octets(aps_secured=True) == 60
    assert (ACK_OCTETS, DATA_REQUEST_OCTETS) == (11, 18)
    assert airtime_s(ACK_OCTETS) == pytest.approx(352e-6)  # 250 kbit/s: 32 us an octet


def test_an_acknowledged_frame_on_an_idle_channel() -> None:
    ch, draw = channel()
    sent, frames = send(ch, 1.0)
    start = 1.0 + CCA + TURNAROUND  # no backoff drawn (the lowest), one CCA, the turnaround
    end = start + airtime_s(FRAME)
    ack = end + TURNAROUND
    assert frames == [("frame", pytest.approx(start), 0), ("ack", pytest.approx(ack), 0)]
    assert sent == Sent(True, pytest.approx(ack + airtime_s(ACK_OCTETS)), pytest.approx(end), 1)
    assert draw.windows == [8]  # 2**macMinBE backoff periods to choose from


def test_the_backoff_window_grows_to_max_be_and_access_fails_after_max_csma_backoffs() -> None:
    ch, draw = channel(high=True)
    send(ch, 0.0, 100_000, acked=False)  # a 3.2 s frame, on the air from 2.56 ms
    draw.windows.clear()
    sent, frames = send(ch, 0.01)
    assert draw.windows == [8, 16, 32, 32, 32]  # BE 3, 4, 5, 5, 5: macMaxCSMABackoffs 4 busy CCAs
    assert not sent.acked and frames == [] and sent.received_at is None
    assert sent.done_at == pytest.approx(0.01 + (7 + 15 + 31 + 31 + 31) * UNIT + 5 * CCA)
    assert ch.stats.access_failures == 1


def test_a_frame_waits_for_the_exchange_on_the_channel_and_its_spacing() -> None:
    ch, _ = channel(high=True)
    first, _ = send(ch, 0.0)
    second, frames = send(ch, 0.0)
    lifs = 40 * SYMBOL_S  # the first MPDU is longer than aMaxSIFSFrameSize
    busy_until = first.done_at + lifs
    assert frames[0][1] >= busy_until + CCA + TURNAROUND - 1e-9
    assert second.acked


def test_two_senders_share_the_channel_one_frame_at_a_time() -> None:
    def run(senders: int) -> tuple[float, list[tuple[float, float]]]:
        ch = Channel(C, random.Random(5), lambda: 0.0)
        ready, spans = [0.0] * senders, []
        for _ in range(10 * senders):  # each sends its next frame once its last is done
            who = min(range(senders), key=ready.__getitem__)
            sent, frames = send(ch, ready[who])
            assert sent.acked
            ready[who] = sent.done_at
            spans.append((frames[0][1], sent.done_at))
        return max(ready), sorted(spans)

    alone, _ = run(1)
    together, spans = run(2)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    assert together > 1.6 * alone  # twice the frames on the one channel: nearly twice the time


def test_a_lost_frame_is_retried_after_the_ack_wait_up_to_max_frame_retries() -> None:
    ch, _ = channel()
    sent, frames = send(ch, 0.0, lost=[True, True, False])
    attempts = [f for f in frames if f[0] == "frame"]
    assert [a[2] for a in attempts] == [0, 1, 2] and sent.acked and sent.attempts == 3
    first_end = attempts[0][1] + airtime_s(FRAME)
    assert attempts[1][1] == pytest.approx(first_end + C.ack_wait_s + CCA + TURNAROUND)
    assert ch.stats.retries == 2

    ch, _ = channel()
    sent, frames = send(ch, 0.0, lost=[True] * 4)
    assert not sent.acked and sent.received_at is None and sent.attempts == 4
    assert [f[0] for f in frames] == ["frame"] * 4  # no ACK for a frame nobody received


def test_a_lost_ack_means_a_retry_of_a_frame_the_receiver_already_has() -> None:
    ch, _ = channel()
    sent, frames = send(ch, 0.0, ack_lost=[True])
    assert [f[0] for f in frames] == ["frame", "ack", "frame", "ack"]
    assert sent.acked and sent.attempts == 2
    assert sent.received_at == pytest.approx(frames[0][1] + airtime_s(FRAME))  # the first copy


def test_a_frame_without_ack_request_is_done_when_sent() -> None:
    ch, _ = channel()
    sent, frames = send(ch, 0.0, acked=False, lost=[True])
    assert [f[0] for f in frames] == ["frame"] and sent.acked and sent.received_at is None
    assert sent.done_at == pytest.approx(frames[0][1] + airtime_s(FRAME))


def test_a_send_decided_for_later_leaves_the_gap_before_it_to_others() -> None:
    ch, _ = channel()
    later, _ = send(ch, 1.0)  # an APS ACK due in a second, say
    now, frames = send(ch, 0.0)
    assert now.done_at < 1.0 and frames[0][1] < later.received_at


def test_a_node_whose_cca_finds_a_gap_too_short_waits_for_the_frame_decided_before_it() -> None:
    ch, draw = channel(high=True)
    first, _ = send(ch, 0.0)  # decided at 0, on the air from 2.56 ms
    draw.high = False
    second, frames = send(ch, 0.001)  # idle at its CCA, but 5 ms do not fit before 2.56 ms
    assert second.acked and frames[0][1] > first.done_at
    assert ch.stats.access_failures == 0


def test_each_loss_draw_is_told_the_octets_of_the_frame_it_decides() -> None:
    ch, _ = channel()
    drawn: list[tuple[str, int]] = []

    def frame_lost(octets: int) -> bool:
        drawn.append(("frame", octets))
        return len(drawn) == 1  # the first attempt is lost

    def ack_lost(octets: int) -> bool:
        drawn.append(("ack", octets))
        return False

    sent = ch.send(0.0, FRAME, acked=True, frame_lost=frame_lost, ack_lost=ack_lost)
    assert sent.acked and sent.attempts == 2
    assert drawn == [("frame", FRAME), ("frame", FRAME), ("ack", ACK_OCTETS)]


def test_forgetting_the_reservations_that_ended_changes_no_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mac, "_FORGET_ABOVE", 0)  # forget at every send, not only past a few dozen
    clock = [0.0]
    keeping = Channel(C, Draw(high=True), lambda: 0.0)  # nothing ends before 0: it forgets nothing
    forgetting = Channel(C, Draw(high=True), lambda: clock[0])
    on_air: list[tuple[float, float]] = []
    for index in range(200):
        at = index * 0.02
        clock[0] = at
        # A frame now, one decided now for later (an APS ACK, a retry), and one more now, which
        # must still find the first on the air: only what ended before the clock may go.
        for start in (at, at + 0.012, at + 0.001):
            lost = [index % 7 == 0]
            sent, frames = send(forgetting, start, lost=lost)
            assert (sent, frames) == send(keeping, start, lost=lost)
            on_air += [(begin, begin + airtime_s(FRAME if kind == "frame" else ACK_OCTETS)) for kind, begin, _ in frames]
    on_air.sort()
    assert all(end <= begin for (_, end), (begin, _) in itertools.pairwise(on_air))  # one frame at a time
