"""ProgressTracker and the cancel poller, driven by an injected clock."""

from __future__ import annotations

import pytest

from workers.render import ProgressTracker, RenderCancelled
from workers.render.cancel import CancelPoller


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_speed_and_eta_follow_a_steady_render() -> None:
    clock = Clock()
    tracker = ProgressTracker(900, 5, 30.0, clock=clock)  # 30 s of output
    first = tracker.update(0, 0)
    assert first.eta_s is None and first.speed == 0.0
    progress = first
    for step in range(1, 31):  # 2× real time: 60 frames per wall second
        clock.now += 0.5
        progress = tracker.update(step * 30, step // 6)
    assert progress.speed == pytest.approx(2.0)
    assert progress.eta_s == pytest.approx(0.0)
    clock.now = 100.0
    tracker = ProgressTracker(900, 5, 30.0, clock=clock)
    for step in range(0, 11):
        progress = tracker.update(step * 30, 0)
        clock.now += 0.5
    assert progress.eta_s == pytest.approx((900 - 300) / 60)
    assert progress.progress == pytest.approx(300 / 900)


def test_eta_tracks_a_slowdown() -> None:
    clock = Clock()
    tracker = ProgressTracker(3000, 1, 30.0, clock=clock, window_s=4.0)
    frames = 0
    for _ in range(20):  # fast: 60 frames/s
        tracker.update(frames, 0)
        frames += 30
        clock.now += 0.5
    for _ in range(20):  # slow: 15 frames/s
        tracker.update(frames, 0)
        frames += 15
        clock.now += 1.0
    progress = tracker.update(frames, 0)
    assert progress.speed == pytest.approx(0.5, rel=0.05)
    assert progress.eta_s == pytest.approx((3000 - frames) / 15, rel=0.05)


def test_progress_never_goes_backwards_and_resumed_frames_do_not_inflate_speed() -> None:
    clock = Clock()
    tracker = ProgressTracker(100, 2, 25.0, clock=clock)
    assert tracker.update(50, 1).progress == pytest.approx(0.5)  # resumed half
    clock.now += 1.0
    late = tracker.update(60, 1)
    assert late.speed == pytest.approx(10 / 25)
    clock.now += 1.0
    assert tracker.update(40, 1).progress == pytest.approx(0.6)
    assert tracker.update(100, 2).progress == 1.0


def test_cancel_poller_asks_at_most_every_tenth_of_a_second() -> None:
    clock = Clock()
    asked: list[float] = []

    def should_cancel() -> bool:
        asked.append(clock.now)
        return clock.now >= 101.0

    poller = CancelPoller(should_cancel, clock=clock)
    for _ in range(90):  # 0.9 s of checks every 10 ms
        poller.check()
        clock.now += 0.01
    assert 8 <= len(asked) <= 10
    with pytest.raises(RenderCancelled):
        for _ in range(30):
            poller.check()
            clock.now += 0.01
