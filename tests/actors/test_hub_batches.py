"""EventHub.publish_many: a burst goes to a sink with `many` in one call, to the others one event
at a time, in order; a failing sink is counted and never stops the others."""

from __future__ import annotations

from typing import Any

from vibeweaver.actors.hub import EventHub


class BatchSink:
    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.single: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.single.append(event)

    def many(self, events: list[Any]) -> None:
        self.batches.append(list(events))


def test_a_burst_reaches_batch_sinks_at_once_and_the_others_in_order() -> None:
    hub = EventHub()
    batch = BatchSink()
    one_by_one: list[Any] = []
    hub.subscribe("batch", batch)
    hub.subscribe("plain", one_by_one.append)
    hub.publish_many([1, 2, 3])
    assert batch.batches == [[1, 2, 3]] and batch.single == []
    assert one_by_one == [1, 2, 3]
    assert hub.published["int"] == 3


def test_a_failing_sink_is_counted_and_the_others_still_get_everything() -> None:
    hub = EventHub()
    got: list[Any] = []

    def broken(event: Any) -> None:
        raise RuntimeError("boom")

    hub.subscribe("broken", broken)
    hub.subscribe("ok", got.append)
    hub.publish_many(["a", "b"])
    assert got == ["a", "b"]
    assert hub.sink_errors["broken"] == 2
