"""The kernel channel's value codec (`vibeweaver.channel.codec`): every value it may carry comes
back equal, and anything else, or any malformed message, is a CodecError (never another error,
never code of the sender's choosing)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeweaver.actors.scheduler.messages import ClockChanged, TransportMoved
from vibeweaver.channel import codec
from vibeweaver.channel.codec import CodecError
from vibeweaver.channel.messages import EvalReply, Events
from vibeweaver.kernel.outcome import ErrorInfo, EvalOutcome
from vibeweaver.scheduling.clock import ClockSnapshot
from vibeweaver.types import SessionId

finite = st.floats(allow_nan=False)
keys = st.one_of(st.text(max_size=8), st.sampled_from(["$t", "$c", "f", "$", "$m", "msg"]))
hashable = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), finite, st.text(max_size=8), st.binary(max_size=8)
    ),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
clocks = st.builds(
    ClockSnapshot,
    state=st.sampled_from(["playing", "paused", "stopped"]),
    tempo_bpm=finite,
    anchor_time=finite,
    anchor_beat=finite,
    taken_at=finite,
    position=finite,
)
messages = st.one_of(
    clocks,
    st.builds(TransportMoved, session_id=st.text(max_size=8).map(SessionId), action=st.text()),
    st.builds(
        ClockChanged,
        session_id=st.text(max_size=8).map(SessionId),
        epoch=st.tuples(st.integers(0, 9), st.integers(0, 9)),
        clock=clocks,
    ),
)
values = st.recursive(
    st.one_of(hashable, messages),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(hashable, inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_every_value_it_may_carry_comes_back_equal(value: Any) -> None:
    assert codec.decode(codec.encode(value)) == value


def test_floats_json_cannot_write_and_nested_messages_come_back() -> None:
    back = codec.decode(codec.encode((math.inf, -math.inf, math.nan)))
    assert back[:2] == (math.inf, -math.inf) and math.isnan(back[2])
    outcome = EvalOutcome(
        status="error",
        execution_count=3,
        result=None,
        has_expression=False,
        stdout="",
        stderr="boom\n",
        error=ErrorInfo(type="ValueError", message="bad", traceback="Traceback ..."),
        duration_ms=0.5,
        notifications=("a", "b"),
    )
    reply = EvalReply(id=7, outcome=outcome, session=None, callbacks=2)
    assert codec.decode(codec.encode(reply)) == reply
    events = Events(events=(TransportMoved(session_id=SessionId("s"), action="play"),))
    assert codec.decode(codec.encode(events)) == events


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"$c": "os:system", "f": {"command": "true"}}',
        b'{"$c": "vibeweaver.scheduling.clock:ClockSnapshot", "f": {"nope": 1}}',
        b'{"$c": "vibeweaver.scheduling.clock:ClockSnapshot", "f": {"$t": []}}',
        b'{"$s": [[1, 2]]}',
        b'{"$m": [[[1], 2]]}',
        b'{"$m": [[1, 2, 3]]}',
        b'{"$b": "***"}',
        b'{"$x": "1e999"}',
        b'{"$q": 1}',
        b'{"$f": 1}',
        b"[" * 100_000,
    ],
)
def test_malformed_or_disallowed_messages_are_codec_errors(raw: bytes) -> None:
    with pytest.raises(CodecError):
        codec.decode(raw)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), finite, st.text(max_size=6), keys),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=10,
    )
)
def test_any_json_decodes_or_is_a_codec_error(raw: Any) -> None:
    try:
        value = codec.decode(json.dumps(raw).encode())
    except CodecError:
        return
    assert codec.decode(codec.encode(value)) == value  # what it let through crosses again
