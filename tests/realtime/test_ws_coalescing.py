"""The two pieces that keep a ping burst from overflowing a socket: ``Outbox.push_once``
(one copy of a reply waiting at a time) and the ping ``TokenBucket``."""

from __future__ import annotations

from server.realtime.outbox import Outbox
from server.realtime.session import PONG, TokenBucket


async def test_push_once_keeps_one_copy_waiting_until_it_is_sent() -> None:
    outbox = Outbox(4)
    assert outbox.push_once(PONG)
    for _ in range(1_000):
        assert not outbox.push_once(PONG)
    outbox.push("event")
    assert len(outbox) == 2 and not outbox.overflowed
    assert await outbox.get() == PONG
    assert outbox.push_once(PONG)  # sent, so the next one queues again
    assert [await outbox.get(), await outbox.get()] == ["event", PONG]


async def test_push_once_after_an_overflow_queues_nothing() -> None:
    outbox = Outbox(2)
    outbox.push("a")
    outbox.push("b")
    outbox.push("c")  # past the limit
    assert outbox.overflowed
    outbox.push_once(PONG)
    assert len(outbox) == 0


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=10.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.05  # half a token
    assert not bucket.take()
    now[0] += 0.06
    assert bucket.take() and not bucket.take()
    now[0] += 60  # a long pause refills only up to the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
