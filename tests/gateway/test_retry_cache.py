"""RetryCache's rule (SPEC §3.3, v2) with a fake clock: join a running execution; replay a finished
one only when it ran longer than 25 s and the duplicate comes within 10 s of its end."""

from __future__ import annotations

import pytest

from vibeweaver.actors.gateway.dedupe import RetryCache

PEER = (b"vibeweaver",)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> RetryCache:
    return RetryCache(clock=clock)


def test_a_duplicate_of_a_running_execution_joins_it(cache: RetryCache) -> None:
    first, is_new = cache.begin((PEER, "x"), "req-1")
    assert is_new
    joined, is_new = cache.begin((PEER, "x"), "req-2")
    assert not is_new and joined is first and joined.running
    assert cache.finish((PEER, "x"), "outcome") == ["req-1", "req-2"]
    assert cache.joined == 1


def test_a_fast_execution_is_never_replayed(cache: RetryCache, clock: FakeClock) -> None:
    cache.begin((PEER, "play()"), "req-1")
    clock.now += 0.01
    cache.finish((PEER, "play()"), "outcome")
    _, is_new = cache.begin((PEER, "play()"), "req-2")
    assert is_new
    assert cache.replayed == 0


def test_a_long_execution_is_replayed_to_a_duplicate_within_ten_seconds_of_its_end(
    cache: RetryCache, clock: FakeClock
) -> None:
    cache.begin((PEER, "slow"), "req-1")
    clock.now += 26.0
    cache.finish((PEER, "slow"), "outcome")
    clock.now += 9.5
    execution, is_new = cache.begin((PEER, "slow"), "retry")
    assert not is_new and not execution.running and execution.outcome == "outcome"
    assert cache.replayed == 1


def test_a_long_execution_is_not_replayed_after_ten_seconds(
    cache: RetryCache, clock: FakeClock
) -> None:
    cache.begin((PEER, "slow"), "req-1")
    clock.now += 26.0
    cache.finish((PEER, "slow"), "outcome")
    clock.now += 10.5
    _, is_new = cache.begin((PEER, "slow"), "req-2")
    assert is_new


@pytest.mark.parametrize("ran_for", [0.0, 5.0, 25.0])
def test_executions_of_25_s_or_less_are_not_kept_after_they_finish(
    cache: RetryCache, clock: FakeClock, ran_for: float
) -> None:
    cache.begin((PEER, "c"), "req")
    clock.now += ran_for
    cache.finish((PEER, "c"), "outcome")
    assert len(cache) == 0


def test_the_same_code_from_another_peer_is_another_execution(cache: RetryCache) -> None:
    cache.begin((PEER, "x"), "req-1")
    _, is_new = cache.begin(((b"other",), "x"), "req-2")
    assert is_new


def test_a_forgotten_execution_is_not_joined(cache: RetryCache) -> None:
    cache.begin((PEER, "x"), "req-1")
    cache.forget((PEER, "x"))
    _, is_new = cache.begin((PEER, "x"), "req-2")
    assert is_new
