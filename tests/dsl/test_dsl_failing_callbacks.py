"""A callback rule that keeps failing is disabled with its last error (SPEC §4.3), in a running
Weaver: the local clock fires the beat rules, the kernel runs the callbacks, the store keeps the
verdict. The MCP test with a restart is tests/mcp/test_mcp_failing_callback.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import wait_until
from vibeweaver.actors.scheduler.messages import GetSchedulerStatus
from vibeweaver.actors.store import StoreClient
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.persistence.disabled_reason import disabled_reason
from vibeweaver.persistence.records import HistoryRecord
from vibeweaver.service import ToolService
from vibeweaver.types import RuleId, SessionId
from vibeweaver.weaver import Weaver

NAME_ERROR = "NameError: name 'hits' is not defined"
REASON = f"its callback failed 3 times in a row; last error: {NAME_ERROR}"
COUNT = "@on_beat(1)\ndef count(beat):\n    hits.append(beat)\n"
FAST = "tempo(600)\nplay()"  # ten beats a second on the local clock


def _run(service: ToolService, code: str) -> EvalOutcome:
    outcome = service.evaluate(code, timeout_s=10)
    assert outcome.status == "ok", outcome.error
    return outcome


class Rig:
    """A Weaver with its tools and its store."""

    def __init__(self, weaver: Weaver) -> None:
        self.service = ToolService(weaver.system, eval_timeout=10)
        self.store: StoreClient = weaver.store
        self.session_id = SessionId(self.service.session().session.id)

    def rule_id(self, name: str) -> RuleId:
        return RuleId(_run(self.service, f"print({name}.rule_id, end='')").stdout)

    def history(self, action: str) -> list[HistoryRecord]:
        self.store.flush()
        entries = self.store.recent_history(self.session_id, limit=1000)
        return [entry for entry in entries if entry.action == action]

    def disabled(self, rule_id: RuleId) -> bool:
        record = self.store.get_rule(rule_id)
        return record is not None and not record.enabled


def _clock_beat(service: ToolService) -> float:
    status = service.scheduler.ask(GetSchedulerStatus(), timeout=5)
    return float(status.clock_beat)


@pytest.fixture
def rig(make_weaver: Callable[..., Weaver]) -> Rig:
    return Rig(make_weaver())


def test_a_callback_raising_three_times_in_a_row_is_disabled_with_its_error(rig: Rig) -> None:
    _run(rig.service, COUNT)
    rule_id = rig.rule_id("count")
    _run(rig.service, FAST)
    # watched through the store only: an eval now would take the notice meant for the agent
    wait_until(lambda: rig.disabled(rule_id), timeout=30)
    record = rig.store.get_rule(rule_id)
    assert record is not None and disabled_reason(record) == REASON

    # the next reply names it first, once
    first = _run(rig.service, "1")
    assert first.stderr.startswith(f"[vibeweaver] rule {rule_id} (callback count) was disabled: ")
    assert NAME_ERROR in first.stderr and f"rules().enable('{rule_id}')" in first.stderr
    assert "disabled" not in _run(rig.service, "2").stderr

    listing = _run(rig.service, "rules()").result or ""
    assert f"callback count (disabled) [disabled], fired 3x — {REASON}>" in listing
    assert _run(rig.service, "rules()[0].disabled_reason").result == repr(REASON)
    summary = rig.service.session().summary
    assert "Active Rules: 0" in summary
    disabled_part = summary.split("Disabled Rules: 1\n", 1)[1]
    line = disabled_part.splitlines()[0]
    assert "Beat(divisor=1) → callback count" in line and line.endswith(REASON), line

    # it fires no more: the clock goes on, the failures stay at three
    beat = _clock_beat(rig.service)
    wait_until(lambda: _clock_beat(rig.service) > beat + 5, timeout=10)
    failures = rig.history("callback count")
    assert len(failures) == 3
    assert all(entry.result == NAME_ERROR and not entry.success for entry in failures)
    [disabled_entry] = rig.history("callback_disabled")
    assert disabled_entry.params == rule_id and disabled_entry.result == REASON


def test_a_success_in_between_starts_the_count_again(rig: Rig) -> None:
    # beats 1, 2 fail, 3 succeeds, 4, 5 fail, 6 succeeds...: never three failures in a row
    _run(
        rig.service,
        "@on_beat(1)\ndef flaky(beat):\n    if beat % 3:\n        raise ValueError(beat)\n",
    )
    rule_id = rig.rule_id("flaky")
    _run(rig.service, FAST)
    wait_until(lambda: len(rig.history("callback flaky")) >= 8, timeout=15)
    assert not rig.disabled(rule_id)
    assert "Disabled Rules" not in rig.service.session().summary


def test_enabling_it_again_clears_the_reason_and_it_runs(rig: Rig) -> None:
    _run(rig.service, COUNT)
    rule_id = rig.rule_id("count")
    _run(rig.service, FAST)
    wait_until(lambda: rig.disabled(rule_id), timeout=30)

    # the fix: re-create the global, then enable the rule
    enabled = _run(rig.service, "hits = []\nrules().enable(count)").result or ""
    assert "disabled" not in enabled
    record = rig.store.get_rule(rule_id)
    assert record is not None and record.enabled and disabled_reason(record) is None
    wait_until(lambda: _run(rig.service, "len(hits) >= 3").result == "True", timeout=10)
    summary = rig.service.session().summary
    assert "Active Rules: 1\n  - Beat(divisor=1) → callback count" in summary
    assert "Disabled Rules" not in summary

    # broken again: three more failures in a row disable it again, the count started afresh
    _run(rig.service, "del hits")
    wait_until(lambda: rig.disabled(rule_id), timeout=30)
    assert len(rig.history("callback_disabled")) == 2
    assert len(rig.history("callback count")) == 6
