"""The ROUTER serves hootenanny's requests over real loopback sockets: weaveEval (expression,
statement, python_error), weaveSession, weaveReset, weaveHelp, ping and heartbeats."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.conftest import wait_until
from tests.gateway.peer import Peer, kernel_busy, wait_for_file
from tests.wire.test_wire_vectors import F1, F2, F3, F3_REPLY
from vibeweaver.weaver import Weaver
from vibeweaver.wire import (
    Command,
    ContentType,
    ErrorReply,
    PingRequest,
    PongReply,
    WeaveEvalReply,
    WeaveEvalRequest,
    WeaveHelpReply,
    WeaveHelpRequest,
    WeaveResetReply,
    WeaveResetRequest,
    WeaveSessionReply,
    WeaveSessionRequest,
    build_multipart,
    decode_reply,
    heartbeat_frame,
)


def test_the_sheets_weave_eval_of_1_plus_1_gets_the_sheets_reply_with_the_same_request_id(
    peer: Peer,
) -> None:
    peer.send_frames(F1[1:])  # the DEALER's identity `vibeweaver` is F1's first frame
    reply = peer.receive_raw(timeout=20.0)
    assert reply == F2[1:]  # Reply, same id, service `vibeweaver`, body = vector V2 byte for byte


def test_an_expression_cell_returns_its_repr_as_an_expression(peer: Peer) -> None:
    frame, reply = peer.call(WeaveEvalRequest(code="1+1"))
    assert (frame.command, frame.content_type, frame.service) == (
        Command.REPLY,
        ContentType.CAPNPROTO,
        "vibeweaver",
    )
    assert reply == WeaveEvalReply(output_type="expression", result="2", stdout="", stderr="")


def test_a_statement_cell_returns_its_stdout(peer: Peer) -> None:
    _, reply = peer.call(WeaveEvalRequest(code="x = 41\nprint(x + 1)"))
    assert reply == WeaveEvalReply(output_type="statement", result="", stdout="42\n", stderr="")
    _, reply = peer.call(WeaveEvalRequest(code="x"))
    assert isinstance(reply, WeaveEvalReply) and reply.result == "41"


def test_a_raising_cell_returns_python_error_with_json_details(peer: Peer) -> None:
    _, reply = peer.call(WeaveEvalRequest(code="print('before')\ny"))
    assert isinstance(reply, ErrorReply)
    assert reply.code == "python_error"
    assert reply.message == "NameError: name 'y' is not defined"
    details = json.loads(reply.details)
    assert details["type"] == "NameError"
    assert details["message"] == "name 'y' is not defined"
    assert "line 2" in details["traceback"] and "NameError" in details["traceback"]
    assert details["stdout"] == "before\n" and details["stderr"] == ""


def test_weave_session_returns_the_open_session(peer: Peer, served: Weaver) -> None:
    _, reply = peer.call(WeaveSessionRequest())
    assert isinstance(reply, WeaveSessionReply) and reply.session is not None
    assert served.session is not None
    assert (reply.session.id, reply.session.name) == (served.session.id, served.session.name)
    assert f"Session: {served.session.name}" in reply.message


def test_weave_reset_and_weave_help_are_answered(peer: Peer) -> None:
    peer.call(WeaveEvalRequest(code="gone = 1"))
    _, reply = peer.call(WeaveResetRequest(clear_session=False))
    assert isinstance(reply, WeaveResetReply) and reply.reset
    _, reply = peer.call(WeaveEvalRequest(code="gone"))
    assert isinstance(reply, ErrorReply) and reply.code == "python_error"
    _, reply = peer.call(WeaveHelpRequest(topic=""))
    assert isinstance(reply, WeaveHelpReply) and "sample" in reply.help


def test_ping_returns_pong(peer: Peer) -> None:
    frame, reply = peer.call(PingRequest())
    assert frame.command is Command.REPLY
    assert isinstance(reply, PongReply) and len(reply.worker_id) == 16 and reply.uptime_secs >= 0


def test_a_heartbeat_is_echoed_with_the_same_id(
    served: Weaver, make_peer: Callable[..., Peer]
) -> None:
    hootenanny = make_peer(b"hootenanny")  # the sheet's F3 comes from a DEALER named hootenanny
    hootenanny.send_frames(F3[1:])
    assert hootenanny.receive_raw() == F3_REPLY[1:]


def test_pings_and_heartbeats_are_answered_while_a_cell_is_still_running(
    peer: Peer, served: Weaver, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    slow = peer.request(WeaveEvalRequest(code=wait_for_file(gate) + "'slow'"))
    wait_until(lambda: kernel_busy(served))
    _, pong = peer.call(PingRequest(), timeout=5.0)
    assert isinstance(pong, PongReply)
    beat = uuid.uuid4().bytes
    peer.send_frames(build_multipart((), heartbeat_frame(beat, "hootenanny")))
    echoed = peer.receive(timeout=5.0)
    assert (echoed.command, echoed.request_id) == (Command.HEARTBEAT, beat)
    assert kernel_busy(served)
    gate.touch()
    frame = peer.receive(timeout=20.0)
    assert frame.request_id == slow
    assert decode_reply(frame.body) == WeaveEvalReply(
        output_type="expression", result="'slow'", stdout="", stderr=""
    )
