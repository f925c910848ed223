"""The four tools through a real MCP client talking to `vibeweaver mcp` (a subprocess on stdio).

One service for the whole module: each test sets up the names it reads, so the order of the tests
does not matter.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import cli_env
from tests.mcp.helpers import isolated_flags, structured, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-stdio")


@pytest.fixture(scope="module")
async def client(data_dir: Path, anyio_backend: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "vibeweaver", "mcp", *isolated_flags(data_dir)],
        env=cli_env(),
    )
    async with Client(params, read_timeout_seconds=30) as connected:
        yield connected


async def run(client: Client, code: str, **arguments: object) -> dict[str, object]:
    result = await client.call_tool("weave_eval", {"code": code, **arguments})
    return structured(result)


async def test_globals_persist_and_the_execution_count_increases(client: Client) -> None:
    first = await run(client, "x = 41")
    second = await run(client, "x + 1")

    assert first["status"] == "ok" and first["result"] is None
    assert second["status"] == "ok"
    assert second["result"] == "42"
    assert isinstance(first["execution_count"], int)
    assert second["execution_count"] == first["execution_count"] + 1
    assert set(second) == {
        "status",
        "execution_count",
        "result",
        "stdout",
        "stderr",
        "error",
        "duration_ms",
        "notifications",
    }
    assert second["notifications"] == []


async def test_a_lone_print_comes_back_as_stdout(client: Client) -> None:
    result = await client.call_tool("weave_eval", {"code": 'print("hi")'})

    out = structured(result)
    assert out["stdout"] == "hi\n"
    assert out["result"] is None and out["stderr"] == "" and out["error"] is None
    assert "stdout:\nhi" in text_of(result)


async def test_an_error_after_a_print_keeps_the_output_and_ran_exactly_once(client: Client) -> None:
    await run(
        client,
        "calls = []\n"
        "def f():\n"
        "    calls.append(1)\n"
        "    print('about to fail')\n"
        "    raise RuntimeError('boom')\n",
    )

    result = await client.call_tool("weave_eval", {"code": "a = f()"})

    failed = structured(result)  # a Python error is a result, not an MCP error
    assert failed["status"] == "error"
    assert failed["stdout"] == "about to fail\n"
    error = failed["error"]
    assert isinstance(error, dict)
    assert error["type"] == "RuntimeError" and error["message"] == "boom"
    assert "a = f()" in error["traceback"]
    assert "RuntimeError: boom" in text_of(result)
    assert (await run(client, "len(calls)"))["result"] == "1"
    assert (await run(client, "'a' in globals()"))["result"] == "False"


async def test_division_by_zero_names_the_cell_line(client: Client) -> None:
    result = await client.call_tool("weave_eval", {"code": "z = 1\nz / 0"})

    out = structured(result)
    assert out["status"] == "error"
    error = out["error"]
    assert isinstance(error, dict)
    assert error["type"] == "ZeroDivisionError"
    assert error["message"] == "division by zero"
    assert "line 2" in error["traceback"]
    assert "z / 0" in error["traceback"]
    assert error["traceback"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert "\x1b[" not in error["traceback"]
    text = text_of(result)
    assert text.startswith(f"[{out['execution_count']}] error")
    assert "z / 0" in text


async def test_a_runaway_loop_times_out_and_the_namespace_survives(client: Client) -> None:
    await run(client, "x = 41")
    started = time.monotonic()

    timed_out = await run(client, "while True: pass", timeout_s=1)

    elapsed = time.monotonic() - started
    assert timed_out["status"] == "timeout"
    assert elapsed < 5.0, f"the timeout answer took {elapsed:.1f} s"
    error = timed_out["error"]
    assert isinstance(error, dict) and error["type"] == "TimeoutError"
    after = await run(client, "x")
    assert after["status"] == "ok" and after["result"] == "41"


async def test_top_level_await_works(client: Client) -> None:
    out = await run(client, "import asyncio\nawait asyncio.sleep(0)\n'after the await'")

    assert out["status"] == "ok", out
    assert out["result"] == "'after the await'"


async def test_the_dsl_is_importable_as_vibeweaver_inside_the_kernel(client: Client) -> None:
    looked_up = await run(client, "import vibeweaver\nvibeweaver.tempo")
    assert looked_up["status"] == "ok", looked_up["error"]
    assert looked_up["result"]


async def test_setting_the_tempo_from_the_kernel_shows_in_the_session(client: Client) -> None:
    called = await run(client, "import vibeweaver\nvibeweaver.tempo(128)")
    assert called["status"] == "ok", called["error"]
    session = structured(await client.call_tool("weave_session", {}))["session"]
    assert isinstance(session, dict) and session["tempo_bpm"] == 128


async def test_a_megabyte_print_is_capped_with_a_note_and_the_service_stays_responsive(
    client: Client,
) -> None:
    out = await run(client, "print('x' * 1_000_000)")

    assert out["status"] == "ok"
    stdout = out["stdout"]
    assert isinstance(stdout, str)
    assert len(stdout) < 20_000
    assert "cut" in stdout and stdout.startswith("xxx") and stdout.rstrip().endswith("xxx")
    assert (await run(client, "1 + 1"))["result"] == "2"


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        ({"code": 5}, "code"),
        ({}, "code"),
        ({"code": "1", "timeout_s": -1}, "timeout_s"),
        ({"code": "1", "timeout_s": 10_000}, "timeout_s"),
        ({"code": "1", "timeout_s": "soon"}, "timeout_s"),
        ({"code": "   \n"}, "code is empty"),
    ],
    ids=[
        "wrong-type",
        "missing-code",
        "negative-timeout",
        "absurd-timeout",
        "text-timeout",
        "empty",
    ],
)
async def test_bad_arguments_give_a_readable_tool_error_and_the_next_call_works(
    client: Client, arguments: dict[str, object], mentions: str
) -> None:
    result = await client.call_tool("weave_eval", arguments)

    assert result.is_error
    message = text_of(result)
    assert message.startswith("Error executing tool weave_eval: ")
    assert mentions in message
    assert (await run(client, "'still fine'"))["result"] == "'still fine'"


async def test_a_thread_printing_after_its_cell_does_not_break_the_session(client: Client) -> None:
    started = await run(
        client,
        "import os, subprocess, threading\n"
        "def chatter():\n"
        "    for i in range(200):\n"
        "        print('stray line', i)\n"
        "    os.write(1, b'raw write to fd 1\\n')\n"
        "chatter_thread = threading.Thread(target=chatter)\n"
        "chatter_thread.start()\n"
        "subprocess.run(['echo', 'from a child process'])\n",
    )
    assert started["status"] == "ok", started["error"]

    joined = await run(client, "chatter_thread.join(5)\nchatter_thread.is_alive()")

    assert joined["result"] == "False"
    assert (await run(client, "6 * 7"))["result"] == "42"


async def test_a_slow_cell_does_not_block_other_tools(client: Client, tmp_path: Path) -> None:
    release = tmp_path / "release"
    slow_done = anyio.Event()
    outcome: dict[str, object] = {}

    async def slow_cell() -> None:
        outcome.update(
            await run(
                client,
                "import os, time\n"
                f"while not os.path.exists({str(release)!r}):\n"
                "    time.sleep(0.01)\n"
                "'released'",
            )
        )
        slow_done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(slow_cell)
        with anyio.fail_after(5):
            helped = structured(await client.call_tool("weave_help", {"topic": "api"}))
        assert not slow_done.is_set()
        release.touch()
        with anyio.fail_after(10):
            await slow_done.wait()

    assert helped["topic"] == "api"
    assert outcome["result"] == "'released'"


async def test_session_returns_the_session_and_its_summary(client: Client) -> None:
    result = await client.call_tool("weave_session", {})

    out = structured(result)
    session = out["session"]
    assert isinstance(session, dict)
    assert set(session) == {"id", "name", "vibe", "tempo_bpm"}
    assert session["name"] == "default"
    assert "Session: default" in out["summary"]
    assert "Session: default" in text_of(result)


async def test_help_returns_a_topic_and_text(client: Client) -> None:
    overview = await client.call_tool("weave_help", {})
    api = structured(await client.call_tool("weave_help", {"topic": "api"}))

    assert structured(overview)["topic"] == "overview"
    assert "weave_eval" in text_of(overview)
    assert api["topic"] == "api" and "tempo(bpm)" in api["help"]


async def test_reset_clears_the_namespace_but_keeps_counting(client: Client) -> None:
    before = await run(client, "doomed = 1")

    reset = await client.call_tool("weave_reset", {})

    out = structured(reset)
    assert out["reset"] is True and isinstance(out["message"], str) and out["message"]
    assert text_of(reset) == out["message"]
    after = await run(client, "doomed")
    assert after["status"] == "error"
    error = after["error"]
    assert isinstance(error, dict) and error["type"] == "NameError"
    assert isinstance(before["execution_count"], int)
    assert isinstance(after["execution_count"], int)
    assert after["execution_count"] > before["execution_count"]


async def test_reset_interrupts_a_runaway_cell_instead_of_waiting_behind_it(
    client: Client, tmp_path: Path
) -> None:
    await run(client, "kept_until_reset = 1")
    started = tmp_path / "started"
    runaway: dict[str, object] = {}

    async def run_forever() -> None:
        code = f"open({str(started)!r}, 'w').close()\nwhile True: pass"
        runaway.update(await run(client, code, timeout_s=120))

    async with anyio.create_task_group() as group:
        group.start_soon(run_forever)
        with anyio.fail_after(20):
            while not started.exists():  # the runaway cell is running in the kernel now
                await anyio.sleep(0.01)
        reset = structured(await client.call_tool("weave_reset", {}))

    assert reset["reset"] is True
    error = runaway["error"]
    assert runaway["status"] == "error" and isinstance(error, dict)
    assert error["type"] == "Interrupted"
    assert "weave_reset was called while it ran" in str(error["message"])
    assert (await run(client, "kept_until_reset"))["status"] == "error"
    assert (await run(client, "1+1"))["result"] == "2"


async def test_the_tools_describe_themselves_for_an_agent(client: Client) -> None:
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(listed) == {"weave_eval", "weave_session", "weave_reset", "weave_help"}
    evaluate = listed["weave_eval"]
    assert evaluate.description is not None
    assert "persistent" in evaluate.description and "@on_beat" in evaluate.description
    assert "timeout" in evaluate.description and "8 KB" in evaluate.description
    assert evaluate.input_schema["required"] == ["code"]
    assert evaluate.input_schema["properties"]["timeout_s"]["default"] == 10.0
    assert evaluate.output_schema is not None
    assert set(evaluate.output_schema["properties"]) >= {"status", "execution_count", "error"}
    help_tool, reset_tool = listed["weave_help"], listed["weave_reset"]
    assert help_tool.annotations is not None and help_tool.annotations.read_only_hint is True
    assert reset_tool.annotations is not None and reset_tool.annotations.destructive_hint is True
    assert listed["weave_session"].annotations is not None
    assert listed["weave_session"].annotations.read_only_hint is True
    assert client.instructions is not None and "weave_session" in client.instructions
