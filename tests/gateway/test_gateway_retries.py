"""hootenanny re-sends a slow weaveEval with a new request id (sheet §1.6): a copy that arrives
while the code runs joins that execution, and any other request runs (SPEC §3.3, v2), over real
loopback sockets. The replay of a finished long run is covered with a fake clock in
test_retry_cache.py."""

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


def test_the_same_code_sent_three_times_in_a_row_executes_three_times(
    peer: Peer, served: Weaver
) -> None:
    assert result_of(peer, "n = 0") == ""
    for _ in range(3):
        result_of(peer, "n += 1")
    assert result_of(peer, "n") == "3"
    assert gateway_status(served).retries_replayed == 0


def test_play_stop_play_sent_in_a_row_leaves_the_transport_playing(peer: Peer) -> None:
    for code in ("play()", "stop()", "play()"):
        result_of(peer, code)
    assert result_of(peer, "transport.state") == "'playing'"


def test_polling_the_beat_gets_fresh_values(peer: Peer) -> None:
    result_of(peer, "tempo(240); play()")
    first = float(result_of(peer, "beat.current"))
    wait_until(lambda: float(result_of(peer, "beat.current")) > first, timeout=10.0)


def test_a_duplicate_sent_while_a_two_second_cell_runs_is_joined(
    peer: Peer, served: Weaver
) -> None:
    code = "import time\nslow_runs = globals().get('slow_runs', 0) + 1\ntime.sleep(2)\nslow_runs"
    first = peer.request(WeaveEvalRequest(code=code))
    wait_until(lambda: kernel_busy(served))
    second = peer.request(WeaveEvalRequest(code=code))
    wait_until(lambda: gateway_status(served).retries_joined == 1)
    replies = {}
    for _ in range(2):
        frame = peer.receive(timeout=20.0)
        replies[frame.request_id] = decode_reply(frame.body)
    expected = WeaveEvalReply(output_type="expression", result="1", stdout="", stderr="")
    assert replies == {first: expected, second: expected}
    assert result_of(peer, "slow_runs") == "1"


def test_the_same_code_from_another_peer_runs_again(
    peer: Peer, served: Weaver, make_peer: Callable[..., Peer], tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    gate.touch()
    code = counting_cell(gate)
    assert result_of(peer, code) == "1"
    assert result_of(make_peer(b"another-peer"), code) == "2"
