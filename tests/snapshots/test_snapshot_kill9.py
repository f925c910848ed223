"""Kernel snapshots across `kill -9` (SPEC §4.6): a Weaver in a subprocess talks to the
FakeHootenanny of this process, evaluates cells sent on its stdin and acknowledges each on stdout;
it is then killed with SIGKILL (no shutdown at all) and a Weaver on the same data dir shows what
the database kept.

What is kept: an acknowledged eval that changed jobs, artifacts or the transport has its snapshot
written before the reply; a change between evals (a broadcast) is written within the debounce
window, so a kill loses at most that window."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import cli_env, local_config, wait_until
from tests.doubles import FakeHootenanny
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.kernel.session_keeping import SNAPSHOT_DEBOUNCE_S
from vibeweaver.service import ToolService
from vibeweaver.snapshots import decode
from vibeweaver.weaver import Weaver
from vibeweaver.wire import ArtifactCreated
from vibeweaver.wire.kernel_state import KernelState

WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from vibeweaver.config import Config
    from vibeweaver.weaver import Weaver
    from vibeweaver.service import ToolService
    data_dir, router, pub = sys.argv[1:4]
    weaver = Weaver(Config(data_dir=Path(data_dir), router=None, hootenanny=router,
                           broadcasts=pub, http=None, hootenanny_timeout=5.0)).start()
    service = ToolService(weaver.system, eval_timeout=10)
    print("READY", flush=True)
    for line in sys.stdin:
        outcome = service.evaluate(json.loads(line))
        ok = outcome.status == "ok"
        print("ACK" if ok else "ERROR", json.dumps(outcome.result if ok else repr(outcome.error)),
              flush=True)
    """
)


class Writer:
    """The subprocess: `eval` returns the acknowledged result; `kill` is SIGKILL."""

    def __init__(self, data_dir: Path, fake: FakeHootenanny, log: Path) -> None:
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), fake.router_endpoint, fake.pub_endpoint],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=cli_env(),
            text=True,
        )
        assert self._line() == "READY"
        fake.wait_for_subscribers(1)

    def _line(self) -> str:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        return stdout.readline().strip()

    def eval(self, code: str) -> str:
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(code) + "\n")
        stdin.flush()
        kind, _, result = self._line().partition(" ")
        assert kind == "ACK", result
        return str(json.loads(result))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Callable[[FakeHootenanny], Writer]]:
    started: list[Writer] = []

    def make(fake: FakeHootenanny) -> Writer:
        started.append(Writer(tmp_path / "data", fake, tmp_path / "writer.log"))
        return started[-1]

    yield make
    for proc in started:
        proc.close()


@pytest.fixture
def fake() -> Iterator[FakeHootenanny]:
    fake = FakeHootenanny().start()
    yield fake
    fake.stop()


def stored(data_dir: Path) -> KernelState | None:
    """The (only) session's snapshot as the database holds it now (read from this process)."""
    with sqlite3.connect(data_dir / "vibeweaver.db") as raw:
        row = raw.execute("SELECT state_capnp FROM kernel_snapshots").fetchone()
    return None if row is None else decode(bytes(row[0]))


def test_an_acknowledged_eval_keeps_its_jobs_artifacts_and_transport_across_kill_9(
    tmp_path: Path, fake: FakeHootenanny, writer: Callable[[FakeHootenanny], Writer]
) -> None:
    proc = writer(fake)
    kick = proc.eval('kick = await sample("orpheus_loops", "kick")\ntempo(90)\nseek(7)\nkick.id')
    proc.kill()  # at once: only what the acknowledgement promised is there

    with Weaver(local_config(tmp_path / "data", http=None)) as weaver:
        service = ToolService(weaver.system, eval_timeout=10)
        outcome = service.evaluate("[a.id for a in artifacts], jobs[0].result().id")
        assert outcome.status == "ok", outcome.error
        assert outcome.result == f"([{kick}], {kick})"  # (kick is a repr)
        clock = weaver.handle("scheduler").ask(sm.GetClock(), timeout=5)
        assert (clock.state, clock.position, clock.tempo_bpm) == ("stopped", 7.0, 90.0)


def test_a_change_between_evals_is_lost_by_kill_9_only_within_the_debounce_window(
    tmp_path: Path, fake: FakeHootenanny, writer: Callable[[FakeHootenanny], Writer]
) -> None:
    data_dir = tmp_path / "data"
    proc = writer(fake)
    assert proc.eval("len(artifacts)") == "0"
    published = time.monotonic()
    fake.publish(ArtifactCreated(artifact_id="artifact_cccccccccccc", content_hash="c" * 32))

    def kept() -> bool:
        state = stored(data_dir)
        return state is not None and [a.artifact_id for a in state.recent_artifacts] == [
            "artifact_cccccccccccc"
        ]

    wait_until(kept, timeout=SNAPSHOT_DEBOUNCE_S + 5.0, interval=0.05)
    assert time.monotonic() - published < SNAPSHOT_DEBOUNCE_S + 2.0
    proc.kill()

    with Weaver(local_config(data_dir, http=None)) as weaver:
        service = ToolService(weaver.system, eval_timeout=10)
        outcome = service.evaluate("[a.id for a in artifacts]")
        assert outcome.result == "['artifact_cccccccccccc']", outcome
