"""Hole 2 of [9]: bad strings used to disable the store for good (UnicodeEncodeError in its write
batch, five restarts, given up). Now the DSL refuses them with clear errors, text that reaches the
store another way is stored escaped, and the store never restarts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


@pytest.fixture
def weaver(make_weaver: Callable[..., Weaver]) -> Weaver:
    return make_weaver()


@pytest.fixture
def service(weaver: Weaver) -> ToolService:
    return ToolService(weaver.system, eval_timeout=10)


def store_restarts(weaver: Weaver) -> int:
    return weaver.handle("store").stats.restarts


def test_ten_lone_surrogate_marker_names_each_get_a_clear_error(
    weaver: Weaver, service: ToolService
) -> None:
    for _ in range(10):
        outcome = service.evaluate("marker(chr(0xd800), 1)", timeout_s=10)
        assert outcome.error is not None and outcome.error.type == "DslError"
        assert "name is not valid Unicode text" in outcome.error.message
        assert "U+D800" in outcome.error.message
    assert service.evaluate("marker('drop', 4)\ntimeline.markers", timeout_s=10).result == (
        "[Marker('drop'@4)]"
    )
    assert store_restarts(weaver) == 0
    assert weaver.handle("store").stats.state == "alive"


@pytest.mark.parametrize(
    "code",
    [
        "session(name='a' * 257)",
        "session(vibe='v' * 5000)",
        "marker('m' * 1_000_000, 1)",
        "marker('x', 1, metadata={'blob': 'b' * 20_000_000})",
        "marker('x', 1, metadata={'bad': chr(0xdfff)})",
        "session(vibe=chr(0xd800))",
        "on_marker(chr(0xd800))",
        "on_artifact(tag='t' * 300)",
    ],
)
def test_oversized_or_invalid_text_is_refused_at_the_dsl(
    weaver: Weaver, service: ToolService, code: str
) -> None:
    outcome = service.evaluate(code, timeout_s=10)
    assert outcome.error is not None and outcome.error.type == "DslError", outcome.error
    assert len(outcome.error.message) < 300  # names the limit, does not echo the value
    assert store_restarts(weaver) == 0


def test_a_cell_whose_code_holds_a_lone_surrogate_is_answered_and_its_history_kept(
    weaver: Weaver, service: ToolService
) -> None:
    # MCP's JSON can carry "\\ud800"; Python cannot compile such source, so the cell is an error
    outcome = service.evaluate("s = '\ud800'\nlen(s)", timeout_s=10)
    assert outcome.error is not None and outcome.error.type == "UnicodeEncodeError"
    assert weaver.session is not None
    session_id = weaver.session.id
    stored = [
        f"{entry.action} {entry.params or ''} {entry.result or ''}"
        for entry in weaver.store.history(session_id, limit=5)
    ]
    assert any("\\ud800" in text for text in stored), stored
    assert store_restarts(weaver) == 0
