"""The DSL parts that need no hootenanny: sessions, markers, rules as data, summaries, reset.

Each test that goes through the store runs on sqlite and on PostgreSQL (the `backend` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import local_config
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


def _run(service: ToolService, code: str, *, ok: bool = True) -> EvalOutcome:
    outcome = service.evaluate(code, timeout_s=10)
    if ok:
        assert outcome.status == "ok", outcome.error
    return outcome


@pytest.fixture
def service(make_weaver: Callable[..., Weaver], backend: dict[str, object]) -> ToolService:
    return ToolService(make_weaver(**backend).system, eval_timeout=10)


def test_session_creates_names_and_sets_the_vibe(service: ToolService) -> None:
    outcome = _run(service, 'session(name="warehouse_3am", vibe="dark minimal techno")')
    assert outcome.result == "Session('warehouse_3am', vibe='dark minimal techno', tempo=120 BPM)"
    view = service.session()
    assert view.session.name == "warehouse_3am"
    assert view.summary.startswith("Session: warehouse_3am\nVibe: dark minimal techno\n")


def test_loading_an_unknown_session_names_the_known_ones(service: ToolService) -> None:
    outcome = _run(service, 'session(load="nope")', ok=False)
    assert outcome.error is not None
    assert outcome.error.type == "DslError"
    assert "no such session" in outcome.error.message and "default" in outcome.error.message


def test_markers_are_listed_in_beat_order_and_in_the_summary(service: ToolService) -> None:
    _run(service, 'marker("outro", 512)\nmarker("drop", 256)\nmarker("release", 288)')
    assert _run(service, "timeline.markers").result == (
        "[Marker('drop'@256), Marker('release'@288), Marker('outro'@512)]"
    )
    assert "Markers: drop@256, release@288, outro@512" in service.session().summary


def test_bad_dsl_arguments_raise_clear_errors(service: ToolService) -> None:
    for code, message in [
        ('marker("", 4)', "name must be a non-empty string"),
        ('marker("x", -1)', "beat must be a number ≥ 0"),
        ("on_beat(0)", "divisor"),
        ('on_beat(4, priority="urgent")(print)', "unknown priority"),
    ]:
        outcome = _run(service, code, ok=False)
        assert outcome.error is not None and message in outcome.error.message, (code, outcome.error)


def test_a_decorated_function_becomes_a_listed_persisted_rule(service: ToolService) -> None:
    _run(service, "@on_beat(4)\ndef kick(beat):\n    print('kick', beat)\n")
    listing = _run(service, "rules()").result
    assert listing is not None and "Beat(divisor=4) → callback kick" in listing
    assert _run(service, "kick.rule_id.startswith('rule_')").result == "True"
    summary = service.session().summary
    assert "Active Rules: 1\n  - Beat(divisor=4) → callback kick" in summary


def test_rules_can_be_disabled_enabled_and_deleted(service: ToolService) -> None:
    _run(service, "@on_marker('drop', priority='high')\ndef drop(name):\n    pass\n")
    _run(service, "rules().disable(drop)")
    assert "[disabled]" in (_run(service, "rules()").result or "")
    assert "Disabled Rules: 1" in service.session().summary
    _run(service, "rules().enable(drop.rule_id)")
    assert "[disabled]" not in (_run(service, "rules()").result or "")
    assert _run(service, "rules().delete(drop)").result == "True"
    assert _run(service, "len(rules())").result == "0"


def test_history_records_evals_and_dsl_actions(service: ToolService) -> None:
    _run(service, 'marker("drop", 256)')
    _run(service, "1/0", ok=False)
    summary = service.session().summary
    assert "marker(drop@256) ✓" in summary
    assert "eval(1/0) → ZeroDivisionError: division by zero ✗" in summary


def test_rules_and_markers_survive_a_restart_and_callbacks_are_redefined(
    tmp_path: Path, backend: dict[str, object]
) -> None:
    config = local_config(tmp_path, **backend)
    with Weaver(config) as weaver:
        service = ToolService(weaver.system, eval_timeout=10)
        _run(service, 'session(name="jam", vibe="dub")\nmarker("drop", 256)')
        _run(service, "@on_beat(4)\ndef kick(beat):\n    return beat * 2\n")
    with Weaver(config.__class__(**{**_fields(config), "session": "jam"})) as weaver:
        service = ToolService(weaver.system, eval_timeout=10)
        assert _run(service, "kick(21)").result == "42"  # re-defined from the stored source
        summary = service.session().summary
        assert "Session: jam\nVibe: dub" in summary
        assert "Beat(divisor=4) → callback kick" in summary
        assert "Markers: drop@256" in summary


def test_a_callback_whose_source_no_longer_defines_is_disabled_and_named(
    tmp_path: Path, backend: dict[str, object]
) -> None:
    config = local_config(tmp_path, **backend)
    with Weaver(config) as weaver:
        service = ToolService(weaver.system, eval_timeout=10)
        _run(service, "accent = 2\n@on_beat(1)\ndef pulse(beat, gain=accent):\n    return beat\n")
    with Weaver(config) as weaver:  # `accent` is gone: the default argument fails at def time
        service = ToolService(weaver.system, eval_timeout=10)
        summary = service.session().summary
        assert "Active Rules: 0" in summary
        assert "Disabled Rules: 1" in summary
        assert "callback pulse" in summary and "NameError" in summary
        assert "[disabled]" in (_run(service, "rules()").result or "")


def test_reset_clears_user_names_but_keeps_the_dsl(service: ToolService) -> None:
    _run(service, "x = 41")
    result = service.reset()
    assert result.reset and result.message == "Kernel reset successfully"
    assert _run(service, "x", ok=False).error.type == "NameError"  # type: ignore[union-attr]
    assert _run(service, "callable(marker) and callable(on_beat)").result == "True"


def test_reset_with_clear_session_removes_rules_markers_and_history(service: ToolService) -> None:
    _run(service, 'marker("drop", 1)\n@on_beat(2)\ndef f(beat):\n    pass\n')
    result = service.reset(clear_session=True)
    assert "cleared (1 rules, 1 markers" in result.message
    summary = service.session().summary
    assert "Active Rules: 0" in summary and "Markers: none" in summary
    assert "marker(drop@1)" not in summary


def _fields(config: object) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(config, f.name) for f in fields(config)}  # type: ignore[arg-type]


def test_the_transport_view_and_the_transport_functions_both_work(service: ToolService) -> None:
    assert _run(service, "transport.state").result == "'stopped'"
    _run(service, "seek(16)")
    assert _run(service, "transport.position").result == "16.0"
    _run(service, "play()")
    assert _run(service, "transport.state").result == "'playing'"
    _run(service, "stop()")
    assert _run(service, "(transport.state, beat.current)").result == "('stopped', 0.0)"


def test_the_package_namespace_matches_the_dsl_prelude() -> None:
    import vibeweaver
    from vibeweaver import _dsl_names, dsl

    names = set(dsl.prelude()) - {"vibeweaver"}
    assert names <= _dsl_names.ALL_NAMES
    assert all(getattr(vibeweaver, name) is dsl.prelude()[name] for name in names)


def test_switching_sessions_defines_the_new_sessions_callbacks(service: ToolService) -> None:
    _run(service, 'session(name="a")\n@on_beat(2)\ndef in_a(beat):\n    return "a"\n')
    _run(service, 'session(name="b")')
    service.reset()  # the namespace no longer has in_a
    _run(service, 'session(load="a")')
    assert _run(service, "in_a(0)").result == "'a'"


def test_an_evals_history_is_in_the_database_when_the_reply_comes(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    service = ToolService(weaver.system, eval_timeout=10)
    _run(service, 'marker("drop", 4)\nx = 1')
    path = weaver.db_path
    assert path is not None
    import sqlite3

    with sqlite3.connect(path) as raw:
        actions = [row[0] for row in raw.execute("SELECT action FROM history ORDER BY id")]
    assert actions[-2:] == ["marker(drop@4)", "eval"]
