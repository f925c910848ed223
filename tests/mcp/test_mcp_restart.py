"""Rules, sessions and resets through a real MCP client against `vibeweaver mcp` subprocesses,
across a SIGKILL and a restart on the same data dir (issue [2], must-shows 5-7).

Each test starts its own services on its own data dir. A service is killed with SIGKILL (no
shutdown at all), so what the next process sees is only what was already in the database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mcp.service import service

pytestmark = pytest.mark.anyio

KICK = "@on_beat(4)\ndef kick(beat):\n    return beat * 2\n"
KICK_RULE = "Beat(divisor=4) → callback kick"
PULSE = "accent = 2\n@on_beat(1)\ndef pulse(beat, gain=accent):\n    return beat * gain\n"
PULSE_RULE = "Beat(divisor=1) → callback pulse"


async def test_rules_survive_a_sigkill_and_a_broken_callback_is_disabled_and_named(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    async with service(data_dir) as first:
        await first.ok(KICK)
        assert KICK_RULE in (await first.ok("rules()") or "")
        summary = await first.summary()
        assert f"Active Rules: 1\n  - {KICK_RULE}" in summary
        await first.ok(PULSE)
        summary = await first.summary()
        assert "Active Rules: 2" in summary and PULSE_RULE in summary
        assert "Disabled Rules" not in summary
        await first.kill()

    async with service(data_dir) as second:
        # kick is defined again from its stored source, before any cell names it
        assert await second.ok("kick(21)") == "42"
        assert await second.ok("kick.__name__, callable(kick)") == "('kick', True)"
        # accent was a plain variable of the old process: pulse's default no longer evaluates
        assert await second.error_type("accent") == "NameError"
        assert await second.error_type("pulse") == "NameError"
        summary = await second.summary()
        assert f"Active Rules: 1\n  - {KICK_RULE}\n" in summary
        assert "Disabled Rules: 1\n" in summary
        disabled = summary.split("Disabled Rules: 1\n", 1)[1].splitlines()[0]
        assert PULSE_RULE in disabled
        assert "NameError" in disabled and "accent" in disabled
        listing = await second.ok("rules()") or ""
        assert KICK_RULE in listing
        assert PULSE_RULE in listing and "[disabled]" in listing


async def test_a_named_session_with_tempo_and_marker_survives_a_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with service(data_dir) as first:
        assert await first.ok('session(name="warehouse_3am", vibe="dark minimal techno")') == (
            "Session('warehouse_3am', vibe='dark minimal techno', tempo=120 BPM)"
        )
        await first.ok("tempo(130)")
        await first.ok('marker("drop", 256)')
        summary = await first.summary()
        assert summary.startswith(
            "Session: warehouse_3am\nVibe: dark minimal techno\nTempo: 130 BPM"
        )
        assert "Markers: drop@256" in summary
        assert "tempo(130) ✓" in summary and "marker(drop@256) ✓" in summary
        assert (await first.session())["tempo_bpm"] == 130
        await first.kill()

    # Without --session a restart opens the session that was current when the service last ran
    # (SPEC §3.1); session(load=...) switches, and the next restart comes back to that one.
    async with service(data_dir) as second:
        summary = await second.summary()
        assert summary.startswith(
            "Session: warehouse_3am\nVibe: dark minimal techno\nTempo: 130 BPM"
        )
        assert "Markers: drop@256" in summary
        assert "tempo(130) ✓" in summary and "marker(drop@256) ✓" in summary
        assert "Other sessions: default (" in summary
        assert await second.ok("tempo()") == "130.0"
        assert await second.ok("timeline.markers") == "[Marker('drop'@256)]"
        await second.ok('session(load="default")')
        assert (await second.summary()).startswith("Session: default\n")
        await second.kill()
    async with service(data_dir) as back:
        assert (await back.summary()).startswith("Session: default\n")
        await back.kill()

    # With --session the service opens it at start.
    async with service(data_dir, "--session", "warehouse_3am") as third:
        session = await third.session()
        assert session["name"] == "warehouse_3am"
        assert session["vibe"] == "dark minimal techno" and session["tempo_bpm"] == 130
        summary = await third.summary()
        assert summary.startswith(
            "Session: warehouse_3am\nVibe: dark minimal techno\nTempo: 130 BPM"
        )
        assert "Markers: drop@256" in summary


async def test_reset_keeps_the_dsl_and_clear_session_removes_rules_markers_and_history(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    async with service(data_dir) as first:
        await first.ok("x = 41")
        await first.ok('marker("drop", 1)\n@on_beat(2)\ndef f(beat):\n    pass\n')

        assert await first.reset() == "Kernel reset successfully"
        assert await first.error_type("x") == "NameError"
        assert await first.error_type("f") == "NameError"
        assert await first.ok("callable(marker) and callable(on_beat) and callable(rules)") == (
            "True"
        )
        assert await first.ok("tempo()") == "120.0"
        summary = await first.summary()  # a plain reset keeps the session's data
        assert "Active Rules: 1\n  - Beat(divisor=2) → callback f" in summary
        assert "Markers: drop@1" in summary and "marker(drop@1) ✓" in summary

        message = await first.reset(clear_session=True)
        assert message.startswith("Kernel reset successfully; session 'default' cleared (1 rules, ")
        assert "1 markers" in message
        summary = await first.summary()
        assert "Active Rules: 0" in summary and "Disabled Rules" not in summary
        assert "Markers: none" in summary
        assert "marker(drop@1)" not in summary and "eval(x = 41)" not in summary
        assert await first.ok("len(rules())") == "0"
        assert await first.ok("timeline.markers") == "[]"
        assert await first.ok('marker("after", 8)') == "Marker('after'@8)"
        await first.kill()

    async with service(data_dir) as second:  # the clearing was stored, not just shown
        summary = await second.summary()
        assert "Active Rules: 0" in summary
        assert "Markers: after@8" in summary
        assert "marker(drop@1)" not in summary
        assert await second.error_type("f") == "NameError"
