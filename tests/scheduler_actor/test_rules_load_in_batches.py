"""A session's stored rules are indexed in batches after the start (LoadRules told to itself), so
many rules do not hold up the start; events that come meanwhile wait and fire once the rules are
loaded (late, not lost), and a rule deleted while its batch waited does not come back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import local_config, wait_until
from vibeweaver.actors.scheduler import actor as scheduler_actor
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


def status(weaver: Weaver) -> sm.SchedulerStatus:
    result = weaver.handle("scheduler").ask(sm.GetSchedulerStatus(), timeout=10)
    assert isinstance(result, sm.SchedulerStatus)
    return result


def test_rules_loaded_in_batches_all_fire_and_deleted_ones_stay_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with Weaver(local_config(data)) as first:
        service = ToolService(first.system, eval_timeout=20)
        code = "for i in range(23):\n    rule(Beat(1), Notify(f'note {i}'))"
        assert service.evaluate(code, timeout_s=20).status == "ok"
        doomed = service.evaluate("rules()._rules[-1].id", timeout_s=20).result
        assert doomed
    monkeypatch.setattr(scheduler_actor, "LOAD_BATCH", 5)
    with Weaver(local_config(data)) as second:
        service = ToolService(second.system, eval_timeout=20)
        assert service.evaluate(f"rules().delete({doomed})", timeout_s=20).result == "True"
        wait_until(lambda: status(second).rules == 22, timeout=20)
        assert service.evaluate("tempo(600)\nplay()", timeout_s=20).status == "ok"
        seen: set[str] = set()

        def heard_the_last_loaded() -> bool:
            seen.update(service.take_notifications())
            return "note 21" in seen

        wait_until(heard_the_last_loaded, timeout=20)
        assert "note 0" in seen and "note 22" not in seen
        assert status(second).rules == 22
