"""What the DSL reads in the kernel process is local (SPEC §2.1): no round trip per read.

* `beat` and `transport`: the scheduler publishes each change of its clock; the kernel keeps it
  and answers `beat.current`, `beat.tempo` and `transport.state` without asking the scheduler,
  and sees a change made outside the kernel (a rule's action, a broadcast, another caller) before
  its next read.
* `timeline.markers`: read from the store once per session, then kept as the kernel's `marker()`
  (their only writer) changes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


def _result(service: ToolService, code: str) -> str:
    outcome = service.evaluate(code, timeout_s=10)
    assert outcome.status == "ok", outcome.error
    assert outcome.result is not None
    return outcome.result


def _asks(weaver: Weaver, actor: str, message: str) -> int:
    types = weaver.handle(actor).stats.detail()["message_types"]
    return int(types.get(message, {}).get("count", 0))


def _clock_asks(weaver: Weaver) -> int:
    return _asks(weaver, "scheduler", "GetClock")


@pytest.fixture
def weaver(make_weaver: Callable[..., Weaver]) -> Weaver:
    return make_weaver()


def _move(weaver: Weaver, action: str, **values: float) -> None:
    weaver.handle("scheduler").ask(
        scheduler_messages.MoveTransport(action=action, **values), timeout=5
    )


def test_reads_of_beat_and_transport_do_not_ask_the_scheduler(weaver: Weaver) -> None:
    service = ToolService(weaver.system, eval_timeout=10)
    _move(weaver, "tempo", bpm=100)  # a change: pushed to the kernel
    _result(service, "1")  # (an eval request carries the newest epoch)
    before = _clock_asks(weaver)
    reads = _result(
        service,
        "[(beat.current, beat.tempo, transport.state) for _ in range(50)][-1][1:]",
    )
    assert reads == "(100.0, 'stopped')"
    assert _clock_asks(weaver) - before <= 1  # at most one ask, not 150


def test_a_change_made_outside_the_kernel_is_seen_by_its_next_read(weaver: Weaver) -> None:
    service = ToolService(weaver.system, eval_timeout=10)
    _result(service, "beat.tempo")
    _move(weaver, "seek", beat=64)
    _move(weaver, "tempo", bpm=90)
    assert _result(service, "beat.current, beat.tempo, transport.state") == (
        "(64.0, 90.0, 'stopped')"
    )
    _move(weaver, "play")
    assert _result(service, "transport.state, beat.current >= 64") == "('playing', True)"
    # within one cell too: the cell waits while the service moves the clock
    code = (
        "import asyncio\n"
        "seen = []\n"
        "for _ in range(500):\n"
        "    seen.append(transport.state)\n"
        "    if seen[-1] == 'paused':\n"
        "        break\n"
        "    await asyncio.sleep(0.01)\n"
        "seen[-1]"
    )
    mover = threading.Timer(0.3, lambda: _move(weaver, "pause"))
    mover.start()
    try:
        assert _result(service, code) == "'paused'"
    finally:
        mover.cancel()


def test_a_restarted_kernel_reads_the_clock_it_did_not_see_change(weaver: Weaver) -> None:
    service = ToolService(weaver.system, eval_timeout=10)
    _move(weaver, "tempo", bpm=133)
    died = service.evaluate("import os; os._exit(3)", timeout_s=10)
    assert died.error is not None and died.error.type == "KernelDied"
    assert _result(service, "beat.tempo") == "133.0"
    _move(weaver, "tempo", bpm=77)
    assert _result(service, "beat.tempo, beat.tempo") == "(77.0, 77.0)"


def test_markers_are_read_once_and_kept_in_step_with_marker(weaver: Weaver) -> None:
    service = ToolService(weaver.system, eval_timeout=10)
    _result(service, 'marker("drop", 16)\nmarker("intro", 0)\ntimeline.markers')
    before = _asks(weaver, "store", "ListMarkers")
    listed = _result(service, "[timeline.markers for _ in range(30)][-1]")
    assert listed == "[Marker('intro'@0), Marker('drop'@16)]"
    moved = _result(service, 'marker("drop", 4)\nmarker("break", 4)\ntimeline.markers')
    assert moved == "[Marker('intro'@0), Marker('break'@4), Marker('drop'@4)]"
    assert _asks(weaver, "store", "ListMarkers") == before  # all of it from the kept markers
    # what the store has is what the kernel shows (the same order: beat, then name)
    stored = [(m.name, m.beat) for m in weaver.store.list_markers(service.session().session.id)]
    assert stored == [("intro", 0.0), ("break", 4.0), ("drop", 4.0)]
