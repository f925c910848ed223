"""MarkerTable against a sorted list rebuilt from scratch, and marker() telling the scheduler the
one marker it placed instead of making it re-read every marker from the store."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import wait_until
from vibeweaver.actors.scheduler.markers import MarkerTable
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver

names = st.sampled_from(["a", "b", "c", "drop", "intro", "outro"])
beats = st.sampled_from([0.0, 1.0, 4.0, 4.5, 8.0, 16.0, 64.0])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), names, beats), max_size=40),
    beats,
    beats,
    st.sets(names),
    st.sets(names),
)
def test_the_table_answers_like_a_list_rebuilt_from_scratch(
    changes: list[tuple[bool, str, float]],
    after: float,
    upto: float,
    waited: set[str],
    fired: set[str],
) -> None:
    table = MarkerTable()
    reference: dict[str, float] = {}
    for place, name, beat in changes:
        if place:
            table.place(name, beat)
            reference[name] = beat
        else:
            table.remove(name)
            reference.pop(name, None)
    rebuilt = sorted((beat, name) for name, beat in reference.items())
    assert list(table) == rebuilt
    assert list(table.passed(after, upto)) == [(b, n) for b, n in rebuilt if after < b <= upto]
    candidates = [b for b, n in rebuilt if b > after and n in waited and n not in fired]
    assert table.next_waited(waited, after, fired) == (min(candidates) if candidates else None)


def test_marker_writes_do_not_make_the_scheduler_reread_the_markers(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    service = ToolService(weaver.system, eval_timeout=10)
    store = weaver.handle("store")

    def list_marker_asks() -> int:
        types = store.stats.detail()["message_types"]
        return int(types.get("ListMarkers", {}).get("count", 0))

    assert service.evaluate("for i in range(5): marker(f'm{i}', i)", timeout_s=10).status == "ok"
    before = list_marker_asks()
    outcome = service.evaluate("for i in range(50): marker(f'n{i}', i)", timeout_s=10)
    assert outcome.status == "ok"
    assert list_marker_asks() == before
    # and the scheduler knows them: a rule on one fires when the playhead passes it
    code = "hits = []\n@on_marker('n3')\ndef hit(name):\n    hits.append(name)\ntempo(900)\nplay()"
    assert service.evaluate(code, timeout_s=10).status == "ok"
    wait_until(lambda: service.evaluate("hits", timeout_s=10).result == "['n3']", timeout=15)
