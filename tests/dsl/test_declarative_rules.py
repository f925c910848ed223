"""rule(trigger, action): the seed's declarative rules (SPEC §4.3), stored as data, shown as the
seed writes them, and executed by the scheduler without the kernel."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tests.conftest import local_config, wait_until
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


@pytest.fixture
def weaver(make_weaver: Callable[..., Weaver]) -> Weaver:
    return make_weaver()


@pytest.fixture
def service(weaver: Weaver) -> ToolService:
    return ToolService(weaver.system, eval_timeout=20)


def run(service: ToolService, code: str) -> EvalOutcome:
    outcome = service.evaluate(code, timeout_s=20)
    assert outcome.status == "ok", outcome.error
    return outcome


def clock_state(weaver: Weaver) -> str:
    snapshot = weaver.handle("scheduler").ask(sm.GetClock(), timeout=5)
    assert isinstance(snapshot, sm.ClockSnapshot)
    return snapshot.state


def test_rules_are_stored_and_shown_as_the_seed_writes_them(service: ToolService) -> None:
    run(service, "rule(Beat(32), Notify('new hats'), priority='low')")
    run(service, "rule(Marker('drop'), Seek(0), one_shot=True)")
    run(service, "rule(Transport('playing'), Play())")
    listing = run(service, "rules()").result or ""
    assert "Beat(divisor=32) → Notify (low priority)" in listing
    assert 'Marker("drop") → Seek (once)' in listing
    summary = service.session().summary
    assert "Beat(divisor=32) → Notify (low priority)" in summary


def test_a_marker_stop_rule_stops_the_transport_while_a_cell_burns_cpu(
    weaver: Weaver, service: ToolService
) -> None:
    run(service, "rule(Marker('stop_here'), Stop())\nmarker('stop_here', 6)\ntempo(240)\nplay()")
    burning: list[EvalOutcome] = []
    cell = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end:\n    pass"
    worker = threading.Thread(target=lambda: burning.append(service.evaluate(cell, timeout_s=20)))
    worker.start()
    try:
        wait_until(lambda: clock_state(weaver) == "stopped", timeout=10)
        assert not burning  # stopped by the scheduler while the kernel was still busy
    finally:
        worker.join(30)
    assert burning and burning[0].status == "ok"


def test_notify_reaches_history_the_summary_and_the_next_eval_result(
    weaver: Weaver, service: ToolService
) -> None:
    run(service, "rule(Transport('playing'), Notify('we are live'))\nplay()")
    wait_until(lambda: "we are live" in service.session().summary, timeout=10)
    assert service.take_notifications() == ("we are live",)
    assert service.take_notifications() == ()  # each message is carried once
    actions = [e.action for e in weaver.store.history(weaver.session.id, limit=20)]  # type: ignore[union-attr]
    assert "notify" in actions


def test_an_eval_taking_notifications_carries_each_once_and_a_plain_eval_leaves_them(
    service: ToolService,
) -> None:
    run(service, "rule(Transport('playing'), Notify('we are live'))\nplay()")
    wait_until(lambda: "we are live" in service.session().summary, timeout=10)
    assert service.evaluate("1").notifications == ()  # not asked for: left for the agent
    outcome = service.evaluate("2", take_notifications=True)
    assert (outcome.status, outcome.result, outcome.notifications) == ("ok", "2", ("we are live",))
    assert service.evaluate("3", take_notifications=True).notifications == ()


def test_declarative_rules_survive_a_restart(tmp_path: object) -> None:
    from pathlib import Path

    data = Path(str(tmp_path)) / "data"
    with Weaver(local_config(data)) as first:
        run(ToolService(first.system, eval_timeout=20), "rule(Marker('end'), Stop())")
    with Weaver(local_config(data)) as second:
        listing = run(ToolService(second.system, eval_timeout=20), "rules()").result or ""
        assert 'Marker("end") → Stop' in listing


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("rule(Beat(4), print)", "the action must be Sample(), Schedule()"),
        ("rule('beat', Play())", "the trigger must be Beat()"),
        ("rule(Deadline(16), Play())", "a Deadline trigger takes Sample() or SampleAndSchedule()"),
        ("Beat(0)", "Beat(): "),
        ("Beat(1.5)", "divisor must be a whole number"),
        ("Transport('dancing')", "Transport(): "),
        ("Notify('')", "must not be empty"),
        ("Notify('x' * 5000)", "the limit is 4,096"),
        ("Marker(chr(0xd800))", "not valid Unicode"),
        ("SampleAndSchedule('musicgen', 'pad')", "give at="),
        ("rule(Beat(4), Play(), priority='urgent')", "unknown priority"),
        ("rule(Beat(4), Play(), one_shot='yes')", "one_shot must be True or False"),
    ],
)
def test_bad_rules_get_clear_errors(service: ToolService, code: str, message: str) -> None:
    outcome = service.evaluate(code, timeout_s=20)
    assert outcome.error is not None and outcome.error.type == "DslError", outcome.error
    assert message in outcome.error.message


@pytest.mark.anyio
async def test_an_agent_over_mcp_gets_the_notification_with_its_next_eval(tmp_path: object) -> None:
    from pathlib import Path

    from tests.mcp.service import service as mcp_service

    async with mcp_service(Path(str(tmp_path)) / "data") as agent:
        first = await agent.eval("rule(Transport('playing'), Notify('we are live'))\nplay()")
        seen: list[str] = list(first["notifications"])  # it may fire before that reply
        for _attempt in range(200):
            if seen:
                break
            seen += (await agent.eval("1"))["notifications"]
        assert seen == ["we are live"]
        assert (await agent.eval("2"))["notifications"] == []  # each message comes once
