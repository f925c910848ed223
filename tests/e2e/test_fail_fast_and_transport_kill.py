"""`vibeweaver serve` as a subprocess, reached over its ROUTER as hootenanny does (issue [6],
item 7 and must-show 5): with nothing listening at `--hootenanny`, sample(), schedule() and the
transport calls fail in under 2 s naming the endpoint (not after the 10 s call timeout) and the
transport does not move; a transport move is in the database as soon as it is made, so a SIGKILL
while the cell that made it still runs brings the transport back where it was."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import ServiceProcess, free_port, local_config, wait_until
from tests.gateway.peer import Peer
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver
from vibeweaver.wire import ErrorReply, WeaveEvalReply, WeaveEvalRequest

pytestmark = pytest.mark.slow

FAIL_WITHIN_S = 2.0
"""The issue's bound (the link fails a call after about 1 s without a connection)."""


def serve(data_dir: Path, router: str, *extra: str) -> ServiceProcess:
    process = ServiceProcess(
        "--data-dir", str(data_dir), "--router", router, "--broadcasts", "none",
        "--http", "127.0.0.1:0", "--log-level", "warning", *extra,
    )  # fmt: skip
    process.wait_for_line("vibeweaver: ready")
    return process


def test_with_nothing_at_hootenanny_sample_schedule_and_transport_fail_in_under_2_s(
    tmp_path: Path,
) -> None:
    router = f"tcp://127.0.0.1:{free_port()}"
    dead = f"tcp://127.0.0.1:{free_port()}"
    process = serve(tmp_path / "data", router, "--hootenanny", dead)  # default 10 s timeout
    peer = Peer(router)
    try:
        for code, error in (
            ('job = sample("musicgen", "kick")', "GenerationFailed"),
            ('kick = await sample("orpheus_loops", "kick")', "GenerationFailed"),
            ('await schedule("artifact_0123456789ab", at=0)', "NotConnected"),
            ("play()", "NotConnected"),
            ("seek(8)", "NotConnected"),
            ("tempo(90)", "NotConnected"),
        ):
            started = time.monotonic()
            _, reply = peer.call(WeaveEvalRequest(code=code), timeout=30.0)
            elapsed = time.monotonic() - started
            assert isinstance(reply, ErrorReply), (code, reply)
            assert reply.message.startswith(f"{error}: "), reply.message
            assert f"hootenanny at {dead} is not reachable" in reply.message, reply.message
            assert elapsed < FAIL_WITHIN_S, f"{code}: failed after {elapsed:.2f} s"
        # nothing moved, nothing was made
        _, reply = peer.call(
            WeaveEvalRequest(code="transport.state, beat.current, tempo(), len(jobs)")
        )
        assert reply == WeaveEvalReply(
            output_type="expression", result="('stopped', 0.0, 120.0, 0)", stdout="", stderr=""
        )
        assert process.proc.poll() is None
    finally:
        peer.close()
        assert process.stop() == 0


def test_a_transport_move_survives_a_sigkill_while_its_cell_still_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    router = f"tcp://127.0.0.1:{free_port()}"
    moved = tmp_path / "moved"
    process = serve(data_dir, router, "--hootenanny", "none")
    peer = Peer(router)
    try:
        code = (
            "seek(12)\ntempo(100)\nplay()\n"
            f"open({str(moved)!r}, 'w').write('moved')\n"
            "import time\ntime.sleep(60)\n"
        )
        peer.request(WeaveEvalRequest(code=code))
        wait_until(moved.exists, timeout=10.0)
        process.proc.send_signal(signal.SIGKILL)  # the cell is still sleeping: no eval end
        assert process.proc.wait(10) == -signal.SIGKILL
    finally:
        peer.close()
        process.stop()

    with Weaver(local_config(data_dir, http=None)) as weaver:
        clock = weaver.handle("scheduler").ask(sm.GetClock(), timeout=5)
        # it was playing: it comes back paused where it was (SPEC §4.6), at its tempo
        assert clock.state == "paused" and clock.tempo_bpm == 100.0
        assert 12.0 <= clock.position < 13.0, clock
        outcome = ToolService(weaver.system, eval_timeout=10).evaluate("tempo(), transport.state")
        assert outcome.result == "(100.0, 'paused')", outcome
