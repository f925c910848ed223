"""A session an agent can pick up again (issue [6], must-show 2), through a real MCP client against
`vibeweaver mcp` subprocesses talking to a FakeHootenanny over the real wire.

A session opened with `session(name=...)` gets a marker, a rule and two generated artifacts; the
service is killed with SIGKILL and started again without `--session`: it opens that session (the
one current when it last ran), `weave_session` names it with its marker and rule, `artifacts` and
`jobs` read back with the space and prompt of what was sampled (from the store's tables: a kernel
snapshot cannot hold them), and `sessions()` lists both stored sessions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles import FakeHootenanny
from tests.mcp.service import service

pytestmark = pytest.mark.anyio

ACCENT = "@on_beat(4)\ndef accent(beat):\n    return beat\n"
ACCENT_RULE = "Beat(divisor=4) → callback accent"


@pytest.fixture
def fake() -> Iterator[FakeHootenanny]:
    hootenanny = FakeHootenanny().start()
    yield hootenanny
    hootenanny.stop()


async def test_a_sigkilled_service_started_without_session_resumes_the_named_session_with_what_it_made(  # noqa: E501
    tmp_path: Path, fake: FakeHootenanny
) -> None:
    data_dir = tmp_path / "data"
    wire = ("--hootenanny", fake.router_endpoint, "--broadcasts", fake.pub_endpoint)
    async with service(data_dir, *wire) as first:
        assert (await first.session())["name"] == "default"
        await first.ok('session(name="warehouse_3am", vibe="dark minimal techno")')
        await first.ok('marker("drop", 64)')
        await first.ok(ACCENT)
        kick = ast.literal_eval(
            await first.ok('kick = await sample("orpheus_loops", "driving kick")\nkick.id') or ""
        )
        pad = ast.literal_eval(
            await first.ok('pad = await sample("musicgen", "dark pad")\npad.id') or ""
        )
        assert kick.startswith("artifact_") and pad.startswith("artifact_")
        await first.kill()

    async with service(data_dir, *wire) as second:  # no --session
        session = await second.session()
        assert session["name"] == "warehouse_3am" and session["vibe"] == "dark minimal techno"
        summary = await second.summary()
        assert summary.startswith("Session: warehouse_3am\nVibe: dark minimal techno\n")
        assert "Markers: drop@64" in summary
        assert f"Active Rules: 1\n  - {ACCENT_RULE}\n" in summary
        assert "Other sessions: default (" in summary
        assert 'sample(orpheus_loops, "driving kick") → ' + kick + " ✓" in summary

        shown = await second.ok("artifacts") or ""
        assert f"Artifact({kick!r}, space='orpheus_loops', prompt='driving kick'" in shown
        assert f"Artifact({pad!r}, space='musicgen', prompt='dark pad'" in shown
        made = await second.ok(
            f"a = artifacts[{kick!r}], artifacts[{pad!r}]\n[(x.space, x.prompt) for x in a]"
        )
        assert made == "[('orpheus_loops', 'driving kick'), ('musicgen', 'dark pad')]"
        jobs = await second.ok("[(j.space, j.prompt, j.state, j.restored) for j in jobs]")
        assert jobs == (
            "[('orpheus_loops', 'driving kick', 'complete', True), "
            "('musicgen', 'dark pad', 'complete', True)]"
        )
        assert await second.ok("jobs[-1].result().id") == repr(pad)

        listing = await second.ok("sessions()") or ""
        assert listing.startswith("2 sessions")
        assert "<session 'warehouse_3am': current, 120 BPM, 'dark minimal techno'>" in listing
        assert "<session 'default': last used " in listing
        assert await second.ok("sessions().names") == "['warehouse_3am', 'default']"
        # the callback's source came back too: the rule is defined again in the new kernel
        assert await second.ok("accent(8)") == "8"
