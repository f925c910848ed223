"""With --hootenanny pointing at a port where nothing listens, DSL calls that need hootenanny fail
within their timeout with a message naming the endpoint, and the service keeps serving."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ServiceProcess, cli_env, free_port
from tests.gateway.peer import Peer
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver
from vibeweaver.wire import ErrorReply, PingRequest, PongReply, WeaveEvalReply, WeaveEvalRequest

HOOTENANNY_TIMEOUT_S = 1.0


def assert_fails_naming(peer: Peer, code: str, endpoint: str, *, within: float) -> ErrorReply:
    started = time.monotonic()
    _, reply = peer.call(WeaveEvalRequest(code=code), timeout=within + 10)
    elapsed = time.monotonic() - started
    assert isinstance(reply, ErrorReply), reply
    assert reply.code == "python_error"
    assert endpoint in reply.message, reply.message
    assert elapsed < within, f"took {elapsed:.1f} s"
    return reply


def assert_serving(peer: Peer) -> None:
    _, reply = peer.call(WeaveEvalRequest(code="1+1"))
    assert reply == WeaveEvalReply(output_type="expression", result="2", stdout="", stderr="")
    _, pong = peer.call(PingRequest())
    assert isinstance(pong, PongReply)


@pytest.fixture
def dead_endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def test_sample_fails_within_its_timeout_naming_the_endpoint_and_the_service_keeps_serving(
    make_weaver: Callable[..., Weaver],
    make_peer: Callable[..., Peer],
    router_endpoint: str,
    dead_endpoint: str,
) -> None:
    make_weaver(
        router=router_endpoint,
        hootenanny=dead_endpoint,
        broadcasts=None,
        hootenanny_timeout=HOOTENANNY_TIMEOUT_S,
        eval_timeout=15.0,
    )
    peer = make_peer()
    for space in ("orpheus_loops", "musicgen"):  # a direct tool and a job tool
        reply = assert_fails_naming(
            peer, f'kick = await sample("{space}", "kick")', dead_endpoint, within=8.0
        )
        assert reply.message.startswith("GenerationFailed: ")
        assert json.loads(reply.details)["type"] == "GenerationFailed"
        assert_serving(peer)
    assert_fails_naming(
        peer, 'await schedule("artifact_0123456789ab", at=0)', dead_endpoint, within=8.0
    )
    assert_serving(peer)
    # nothing was sent, so no job was made; the history says what failed
    _, states = peer.call(WeaveEvalRequest(code="[job.state for job in jobs]"))
    assert states == WeaveEvalReply(output_type="expression", result="[]", stdout="", stderr="")


@pytest.mark.slow
def test_the_serve_command_with_nothing_at_its_hootenanny_endpoint_fails_sample_and_keeps_serving(
    tmp_path: Path, router_endpoint: str, dead_endpoint: str
) -> None:
    process = ServiceProcess(
        "--data-dir", str(tmp_path / "data"), "--router", router_endpoint,
        "--hootenanny", dead_endpoint, "--broadcasts", "none", "--http", "127.0.0.1:0",
        "--log-level", "warning",
        env=cli_env(VIBEWEAVER_HOOTENANNY_TIMEOUT=str(HOOTENANNY_TIMEOUT_S)),
    )  # fmt: skip
    peer = Peer(router_endpoint)
    try:
        process.wait_for_line("vibeweaver: ready")
        assert_fails_naming(
            peer, 'kick = await sample("orpheus_loops", "kick")', dead_endpoint, within=8.0
        )
        assert_serving(peer)
        assert process.proc.poll() is None
    finally:
        peer.close()
        assert process.stop() == 0


def test_without_hootenanny_sample_and_schedule_fail_at_once_with_a_clear_error(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver(hootenanny=None, broadcasts=None)
    service = ToolService(weaver.system, eval_timeout=10.0)
    outcome = service.evaluate('kick = await sample("orpheus_loops", "kick")')
    assert outcome.status == "error" and outcome.error is not None
    assert outcome.error.type == "GenerationFailed"
    assert "--hootenanny none" in outcome.error.message
    outcome = service.evaluate('schedule("artifact_0123456789ab", at=0)')
    assert outcome.status == "error" and outcome.error is not None
    assert outcome.error.type == "NotConnected" and "--hootenanny none" in outcome.error.message
    assert service.evaluate("1+1").result == "2"
