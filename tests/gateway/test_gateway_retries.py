"""hootenanny re-sends a slow weaveEval with a new request id (sheet §1.6): the code runs once and
every copy gets the result (SPEC §3.3), over real loopback sockets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import wait_until
from tests.gateway.peer import Peer, kernel_busy, wait_for_file
from vibeweaver.actors.gateway.messages import GatewayStatus, GetGatewayStatus
from vibeweaver.weaver import Weaver
from vibeweaver.wire import WeaveEvalReply, WeaveEvalRequest, decode_reply


def counting_cell(gate: Path) -> str:
    """A cell that counts its executions in the namespace and finishes when `gate` exists."""
    return "runs = globals().get('runs', 0) + 1\n" + wait_for_file(gate) + "runs"


def gateway_status(weaver: Weaver) -> GatewayStatus:
    status = weaver.handle("gateway").ask(GetGatewayStatus(), timeout=5)
    assert isinstance(status, GatewayStatus)
    return status


def result_of(peer: Peer, code: str) -> str:
    _, reply = peer.call(WeaveEvalRequest(code=code))
    assert isinstance(reply, WeaveEvalReply), reply
    return reply.result


def test_a_weave_eval_resent_with_a_new_id_while_running_executes_once_and_both_get_the_result(
    peer: Peer, served: Weaver, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    code = counting_cell(gate)
    first = peer.request(WeaveEvalRequest(code=code))
    wait_until(lambda: kernel_busy(served))
    second = peer.request(WeaveEvalRequest(code=code))  # hootenanny's retry: same code, new id
    wait_until(lambda: gateway_status(served).retries_joined == 1)
    gate.touch()
    replies = {}
    for _ in range(2):
        frame = peer.receive(timeout=20.0)
        replies[frame.request_id] = decode_reply(frame.body)
    expected = WeaveEvalReply(output_type="expression", result="1", stdout="", stderr="")
    assert replies == {first: expected, second: expected}
    assert result_of(peer, "runs") == "1"


def test_a_retry_after_the_first_finished_is_answered_from_that_execution(
    peer: Peer, served: Weaver, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    gate.touch()
    code = counting_cell(gate)
    assert result_of(peer, code) == "1"
    assert result_of(peer, code) == "1"  # the retry within 60 s: not run again
    assert gateway_status(served).retries_joined == 1
    assert result_of(peer, "runs") == "1"


def test_the_same_code_from_another_peer_runs_again(
    peer: Peer, served: Weaver, make_peer: Callable[..., Peer], tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    gate.touch()
    code = counting_cell(gate)
    assert result_of(peer, code) == "1"
    assert result_of(make_peer(b"another-peer"), code) == "2"
