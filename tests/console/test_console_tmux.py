"""`vibeweaver console` driven in a real 80x24 tmux pane against a real service subprocess: the
actor table, the stuck KernelActor highlighted during a long eval, the detail pane, and `q`.

Every screen the test looks at is kept as `test-artifacts/console-*.txt` (the pane as text; the
`-ansi` variant keeps the colour escapes)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.admin.service import Peer, RunningService, start_service
from tests.conftest import REPO, cli_env, wait_until

TMUX = shutil.which("tmux")
ARTIFACTS = REPO / "test-artifacts"
ACTORS = ["supervisor", "store", "planner", "scheduler", "kernel", "gateway"]
SGR = re.compile(r"\x1b\[[0-9;:]*m")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        TMUX is None,
        reason="tmux is not installed (ops/scripts/test installs it with apt-get when it can); "
        "the console tests drive the terminal UI inside tmux",
    ),
]


class TmuxPane:
    """One detached tmux session on a private server socket, running one command."""

    def __init__(self, command: str, *, width: int = 80, height: int = 24) -> None:
        assert TMUX is not None
        self.socket = f"vibeweaver-test-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in cli_env().items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        self.env = env
        self._tmux(
            "new-session", "-d", "-s", "console", "-x", str(width), "-y", str(height), command
        )
        self._tmux("set-option", "-g", "escape-time", "0")

    def _tmux(self, *args: str) -> str:
        assert TMUX is not None
        result = subprocess.run(
            [TMUX, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=self.env,
            check=True,
        )
        return result.stdout

    def capture(self, *, escapes: bool = False) -> str:
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "console")

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "console", *keys)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 15.0) -> str:
        """Poll the pane until `predicate(text)` holds; returns that text."""
        seen: list[str] = []

        def check() -> str | None:
            text = self.capture()
            seen[:] = [text]
            return text if predicate(text) else None

        try:
            return str(wait_until(check, timeout=timeout, interval=0.1))
        except AssertionError:
            raise AssertionError("pane never matched; last screen:\n" + seen[-1]) from None

    def keep(self, name: str, *, escapes: bool = False) -> str:
        """Save the pane as test-artifacts/console-<name>.txt and return it."""
        text = self.capture(escapes=escapes)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"console-{name}.txt").write_text(text, encoding="utf-8")
        return text

    def close(self) -> None:
        subprocess.run(
            [TMUX or "tmux", "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=10,
            env=self.env,
            check=False,
        )


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RunningService]:
    running = start_service(tmp_path / "data")
    yield running
    running.stop()


@pytest.fixture
def console(service: RunningService) -> Iterator[TmuxPane]:
    command = (
        f"cd {shlex.quote(str(REPO))} && {shlex.quote(sys.executable)} -m vibeweaver console"
        f' --http {shlex.quote(service.http)}; echo "console exited with status $?"; sleep 600'
    )
    pane = TmuxPane(f"sh -c {shlex.quote(command)}")
    yield pane
    pane.close()


def row(text: str, name: str) -> str:
    """The table line of actor `name` (its first cell is the name, `!`-prefixed when stuck);
    colour escapes, if captured, are kept in the line but ignored for matching."""
    return next(
        line for line in text.splitlines() if re.match(rf"^\s*!?{name}\s", SGR.sub("", line))
    )


def test_the_console_shows_actors_flags_the_stuck_kernel_opens_its_detail_and_quits_on_q(
    service: RunningService, console: TmuxPane
) -> None:
    # 1. the actor table, every actor, at 80x24
    table = console.wait_for(
        lambda text: (
            all(f" {name} " in text for name in ACTORS)
            and "ACTOR" in text
            and "session default" in text
        )
    )
    console.keep("table")
    lines = table.splitlines()
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    assert "MBOX" in table and "CURRENT" in table and "HANDLED" in table
    assert "sockets:" in table and "router" in table  # the system pane below the table
    assert "!kernel" not in table

    # 2. a long eval (and one queued behind it) makes the kernel stuck, and the console says so
    peer = Peer(service.router)
    try:
        peer.send_eval("import time\ndef nap():\n    time.sleep(5)\nnap()")
        peer.send_eval("'queued behind the sleep'")
        stuck = console.wait_for(
            lambda text: "stuck: kernel (Evaluate running" in text and "!kernel" in text
        )
        console.keep("stuck")
        ansi = console.keep("stuck-ansi", escapes=True)
        kernel_line = row(stuck, "kernel")
        assert "Evaluate" in kernel_line
        assert not row(stuck, "planner").lstrip().startswith("!")
        # drawn differently from a healthy row that is not under the cursor either
        kernel_styles = set(SGR.findall(row(ansi, "kernel")))
        planner_styles = set(SGR.findall(row(ansi, "planner")))
        assert kernel_styles - planner_styles, (kernel_styles, planner_styles)

        # 3. select the kernel row (start order: 5th) and open its detail pane
        console.send("Down", "Down", "Down", "Down")
        console.send("Enter")
        detail = console.wait_for(
            lambda text: (
                "detail: kernel" in text
                and "current: Evaluate (ask) running" in text
                and "stack (innermost last):" in text
            )
        )
        console.keep("detail")
        assert "kernel (KernelActor) · alive" in detail
        assert "in hand: 2" in detail  # the running cell and the one queued behind it
        assert "_actor_loop" in detail  # the actor thread is free: the cell runs in the kernel
        assert re.search(r"eval at: <cell-\d+>:3 in nap: time\.sleep\(5\)", detail)  # the cell

        # Esc goes back to the system pane
        console.send("Escape")
        console.wait_for(lambda text: " system  (" in text and "detail: kernel" not in text)
        peer.receive(2, timeout=20)
    finally:
        peer.close()

    # 4. q quits cleanly
    console.send("q")
    console.wait_for(lambda text: "console exited with status 0" in text)
    console.keep("quit")


def test_the_console_sorts_by_a_column_and_survives_the_service_going_away(
    service: RunningService, console: TmuxPane
) -> None:
    console.wait_for(lambda text: all(f" {name} " in text for name in ACTORS))
    console.send("s")  # start order -> by name
    by_name = console.wait_for(lambda text: "sort: name" in text)
    order = [
        match.group(1)
        for line in by_name.splitlines()
        if (match := re.match(r"^\s*!?(\w+)\s+(?:alive|starting|restarting)", line))
    ]
    assert order == sorted(ACTORS)
    console.keep("sorted")

    service.stop()
    gone = console.wait_for(lambda text: "disconnected (retrying)" in text)
    console.keep("disconnected")
    assert f"{service.http}: Connection refused" in gone
    assert all(f" {name} " in gone for name in ACTORS)  # the last table stays on screen
    console.send("q")
    console.wait_for(lambda text: "console exited with status 0" in text)


TITLES_AT_80 = (
    "ACTOR",
    "STATE",
    "MBOX",
    "HIGH",
    "OLDEST",
    "CURRENT",
    "RUN",
    "HANDLED",
    "FAIL",
    "RST",
    "ASKS",
    "DEAD",
)


def test_at_80_columns_every_column_fits_and_enter_opens_the_detail_after_a_sort(
    service: RunningService, console: TmuxPane
) -> None:
    table = console.wait_for(lambda text: all(f" {name} " in text for name in ACTORS))
    console.keep("80-columns")
    lines = table.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "ACTOR" in line)
    assert [title for title in TITLES_AT_80 if not re.search(rf"\b{title}\b", header)] == []
    # the last column is whole: every row has a count right under DEAD
    dead_end = header.index("DEAD") + len("DEAD")
    for name in ACTORS:
        assert re.fullmatch(r"\s*\d+", row(table, name)[dead_end - 4 : dead_end]), row(table, name)

    # sort by name: the cursor stays on the selected actor (supervisor, first in start order),
    # now the last row; Enter opens its detail
    console.send("s")
    console.wait_for(lambda text: "sort: name" in text)
    console.send("Enter")
    console.wait_for(lambda text: "detail: supervisor" in text and "(Supervisor)" in text)
    console.keep("sorted-detail")
    console.send("Escape")
    console.wait_for(lambda text: " system  (" in text)
    # another row after the sort: one up is store
    console.send("Up")
    console.send("Enter")
    console.wait_for(lambda text: "detail: store" in text and "store (SessionStore)" in text)
    console.send("Escape")
    console.wait_for(lambda text: " system  (" in text)  # (Escape then a key at once is Alt+key)
    # sorted by a column as wide as its title: the arrow goes before it, the title stays whole
    console.send("s")
    console.send("s")
    by_mbox = console.wait_for(lambda text: "sort: mailbox_depth" in text)
    assert "▼MBOX" in by_mbox and "…" not in by_mbox.splitlines()[1]
    console.send("Enter")
    console.wait_for(lambda text: "detail: store" in text)
    console.send("q")
    console.wait_for(lambda text: "console exited with status 0" in text)


if os.environ.get("VIBEWEAVER_KEEP_TMUX"):  # pragma: no cover - a debugging aid
    TmuxPane.close = lambda self: None  # type: ignore[method-assign]
