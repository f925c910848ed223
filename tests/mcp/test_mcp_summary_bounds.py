"""The session summary stays short and belongs to its session (issue [6], must-show 3), through a
real MCP client against `vibeweaver mcp` subprocesses.

Session "big" holds 10,000 rules (written straight into the service's sqlite file between two
runs, as a long-lived session would have accumulated them); session "noisy" has a Notify rule
firing on every beat. "noisy"'s notification shows in its own summary and never in "big"'s, and
"big"'s summary stays under 100 lines and 100 KB (grouped rules, `rules()` named for the rest).
"""

from __future__ import annotations

import ast
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from tests.mcp.service import Service, service

pytestmark = pytest.mark.anyio

NOISE = "noise from the other session"
RULES = 10_000
DISABLED = 20
CALLBACKS = 500


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll `check` until it is true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await anyio.sleep(0.05)


def _seed_rules(db: Path, big: str, noisy: str) -> None:
    """10,000 rules in `big` (markers, beats, callbacks, some disabled) and one Notify on every
    beat in `noisy`, as rows of the rules table."""
    source = "def accent(beat):\n    return beat\n"
    rows: list[tuple[object, ...]] = []
    for i in range(RULES):
        if i < CALLBACKS:
            trigger = ("beat", json.dumps({"divisor": 4}))
            action = ("callback", json.dumps({"name": "accent", "source": source}))
        elif i < 4000:
            trigger = ("beat", json.dumps({"divisor": 8 + i % 7}))
            action = ("notify", json.dumps({"message": f"beat note {i}"}))
        else:
            trigger = ("marker", json.dumps({"name": f"m{i}"}))
            action = ("notify", json.dumps({"message": f"marker note {i} " + "x" * 200}))
        enabled = 0 if RULES - i <= DISABLED else 1
        params = action[1]
        if not enabled:
            params = json.dumps({**json.loads(params), "disabled_reason": f"broken {i}"})
        rows.append(
            (f"rule_big_{i}", big, *trigger, action[0], params, enabled, "2026-01-01", i + 1)
        )
    rows.append(
        (
            "rule_noise",
            noisy,
            "beat",
            json.dumps({"divisor": 1}),
            "notify",
            json.dumps({"message": NOISE}),
            1,
            "2026-01-01",
            RULES + 1,
        )
    )
    with sqlite3.connect(db) as raw:
        raw.executemany(
            "INSERT INTO rules (id, session_id, trigger_type, trigger_params, action_type, "
            "action_params, enabled, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


async def _noise_shown(svc: Service) -> bool:
    return NOISE in await svc.summary()


async def test_a_summary_with_10000_rules_is_short_and_never_shows_another_sessions_notice(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    async with service(data_dir) as first:
        noisy = await first.ok('session(name="noisy").id')
        big = await first.ok('session(name="big").id')
        await first.kill()
    assert noisy and big
    _seed_rules(data_dir / "vibeweaver.db", ast.literal_eval(big), ast.literal_eval(noisy))

    async with service(data_dir) as second:  # resumes "big", the session current at the kill
        assert (await second.session())["name"] == "big"
        await second.ok('session(load="noisy")\ntempo(600)\nplay()')
        await eventually(lambda: _noise_shown(second))  # the notice shows where it belongs
        await second.ok("pause()")
        await second.ok('session(load="big")')

        out = await second.client.call_tool("weave_session", {})
        assert out.structured_content is not None
        summary: str = out.structured_content["summary"]
        assert summary.startswith("Session: big\n")
        assert NOISE not in summary  # never another session's notification
        lines = summary.splitlines()
        assert len(lines) < 100, summary
        assert len(summary.encode()) < 100_000
        total = sum(len(block.text) for block in out.content if hasattr(block, "text"))
        assert total < 100_000  # the text rendering of the reply too
        assert f"Active Rules: {RULES - DISABLED}\n" in summary
        assert f"  - Beat(divisor=4) → callback accent ×{CALLBACKS}" in summary
        assert "rules() lists them" in summary
        assert f"Disabled Rules: {DISABLED}\n" in summary
        assert "— broken 9980" in summary
        assert all(len(line) <= 200 for line in lines)
        assert "Other sessions: noisy (just now), default (" in summary

        # and the other way round: noisy's summary has its own notice only
        await second.ok('session(load="noisy")')
        assert NOISE in await second.summary()
