"""Link A codec: the requests hootenanny sends vibeweaver and our replies (sheet §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from vibeweaver.wire._capnp import (
    check_enum,
    check_u64,
    decode_root,
    encoding,
    enum_name,
    new_envelope,
    read_uuid,
    schemas,
    set_member,
    set_uuid,
    text,
    uuid_words,
)
from vibeweaver.wire.errors import WireDecodeError, WireEncodeError

__all__ = [
    "NO_ACTIVE_SESSION_MESSAGE",
    "RESET_OK_MESSAGE",
    "UNHANDLED_PAYLOAD_MESSAGE",
    "ErrorReply",
    "InboundRequest",
    "LinkAReply",
    "OutputType",
    "PingRequest",
    "PongReply",
    "SessionInfo",
    "UnhandledRequest",
    "WeaveEvalReply",
    "WeaveEvalRequest",
    "WeaveHelpReply",
    "WeaveHelpRequest",
    "WeaveResetReply",
    "WeaveResetRequest",
    "WeaveSessionReply",
    "WeaveSessionRequest",
    "decode_reply",
    "decode_request",
    "encode_error",
    "encode_pong",
    "encode_request",
    "encode_weave_eval_reply",
    "encode_weave_help_reply",
    "encode_weave_reset_reply",
    "encode_weave_session_reply",
]

# Texts the Rust service used (sheet §4.2).
NO_ACTIVE_SESSION_MESSAGE: Final = "No active session"
RESET_OK_MESSAGE: Final = "Kernel reset successfully"
UNHANDLED_PAYLOAD_MESSAGE: Final = "Vibeweaver does not handle this payload type"

OutputType: TypeAlias = Literal["expression", "statement"]
_OUTPUT_TYPES: Final[tuple[OutputType, ...]] = ("expression", "statement")

# ---------------------------------------------------------------------------------------------
# Requests (hootenanny -> vibeweaver)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveEvalRequest:
    """`toolRequest.weaveEval`: Python source to run, verbatim."""

    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveSessionRequest:
    """`toolRequest.weaveSession` (Void): describe the current session."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveResetRequest:
    """`toolRequest.weaveReset`: reset the kernel (optionally clearing the session)."""

    clear_session: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveHelpRequest:
    """`toolRequest.weaveHelp`: help text; topic "" means no topic."""

    topic: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PingRequest:
    """`payload.ping` (Void): answer with `pong`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnhandledRequest:
    """A decodable payload vibeweaver does not serve.

    `kind` is the Payload member name ("register", "toolResponse", ...) or, for a ToolRequest
    member, "toolRequest.<member>" (e.g. "toolRequest.gardenPlay"). Answer `unhandled_payload`.
    """

    kind: str


InboundRequest: TypeAlias = (
    WeaveEvalRequest
    | WeaveSessionRequest
    | WeaveResetRequest
    | WeaveHelpRequest
    | PingRequest
    | UnhandledRequest
)

# ---------------------------------------------------------------------------------------------
# Replies (vibeweaver -> hootenanny)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    """`WeaveSessionInfo`: the active session (vibe "" = none)."""

    id: str
    name: str
    vibe: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveEvalReply:
    """`toolResponse.weaveEval`."""

    output_type: OutputType
    result: str
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveSessionReply:
    """`toolResponse.weaveSession`; session None = null pointer = no session."""

    session: SessionInfo | None
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveResetReply:
    """`toolResponse.weaveReset`."""

    reset: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveHelpReply:
    """`toolResponse.weaveHelp`."""

    help: str
    topic: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PongReply:
    """`payload.pong`: the answer to `ping` (worker_id is 16 UUID bytes)."""

    worker_id: bytes
    uptime_secs: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorReply:
    """`payload.error` (common `Error`): any failed reply, on either link."""

    code: str
    message: str
    details: str = ""


LinkAReply: TypeAlias = (
    WeaveEvalReply | WeaveSessionReply | WeaveResetReply | WeaveHelpReply | PongReply | ErrorReply
)

# ---------------------------------------------------------------------------------------------
# Decoding


def _envelope_payload(env: Any) -> Any:
    if not env._has("payload"):
        raise WireDecodeError("Envelope has no payload (empty message or wrong root type)")
    return env.payload


def _read_request(env: Any) -> InboundRequest:
    payload = _envelope_payload(env)
    kind = payload.which()
    if kind == "toolRequest":
        tool = payload.toolRequest
        member = tool.which()
        if member == "weaveEval":
            return WeaveEvalRequest(code=tool.weaveEval.code)
        if member == "weaveSession":
            return WeaveSessionRequest()
        if member == "weaveReset":
            return WeaveResetRequest(clear_session=bool(tool.weaveReset.clearSession))
        if member == "weaveHelp":
            return WeaveHelpRequest(topic=tool.weaveHelp.topic)
        return UnhandledRequest(kind=f"toolRequest.{member}")
    if kind == "ping":
        return PingRequest()
    return UnhandledRequest(kind=str(kind))


def decode_request(body: bytes) -> InboundRequest:
    """Decode a request Envelope received on link A. Raises WireDecodeError if undecodable."""
    return decode_root(schemas().envelope.Envelope, body, _read_request, "request Envelope")


def read_error(err: Any) -> ErrorReply:
    """An `Error` reader as ErrorReply."""
    return ErrorReply(code=err.code, message=err.message, details=err.details)


def read_pong(pong: Any) -> PongReply:
    """A `Pong` reader as PongReply."""
    return PongReply(worker_id=read_uuid(pong.workerId), uptime_secs=int(pong.uptimeSecs))


def _read_reply(env: Any) -> LinkAReply:
    payload = _envelope_payload(env)
    kind = payload.which()
    if kind == "error":
        return read_error(payload.error)
    if kind == "pong":
        return read_pong(payload.pong)
    if kind != "toolResponse":
        raise WireDecodeError(f"not a vibeweaver reply: payload {kind}")
    resp = payload.toolResponse
    member = resp.which()
    if member == "weaveEval":
        r = resp.weaveEval
        return WeaveEvalReply(
            output_type=enum_name(r.outputType, _OUTPUT_TYPES, "WeaveOutputType"),
            result=r.result,
            stdout=r.stdout,
            stderr=r.stderr,
        )
    if member == "weaveSession":
        r = resp.weaveSession
        session = None
        if r._has("session"):
            s = r.session
            session = SessionInfo(id=s.id, name=s.name, vibe=s.vibe)
        return WeaveSessionReply(session=session, message=r.message)
    if member == "weaveReset":
        r = resp.weaveReset
        return WeaveResetReply(reset=bool(r.reset), message=r.message)
    if member == "weaveHelp":
        r = resp.weaveHelp
        return WeaveHelpReply(help=r.help, topic=r.topic)
    raise WireDecodeError(f"not a vibeweaver reply: toolResponse.{member}")


def decode_reply(body: bytes) -> LinkAReply:
    """Decode a reply Envelope as vibeweaver sends it (for tests and fake hootenanny clients)."""
    return decode_root(schemas().envelope.Envelope, body, _read_reply, "reply Envelope")


# ---------------------------------------------------------------------------------------------
# Encoding (Rust construction order, sheet §2.3, so the bytes equal sheet §5)


@encoding
def encode_request(request_id: bytes, request: InboundRequest) -> bytes:
    """An Envelope carrying `request` (what hootenanny sends on link A)."""
    msg, payload = new_envelope(request_id)
    if isinstance(request, PingRequest):
        payload.ping = None
    elif isinstance(request, UnhandledRequest):
        head, _, member = request.kind.partition(".")
        if head == "toolRequest" and member:
            set_member(payload.init("toolRequest"), "ToolRequest", member)
        elif not member:
            set_member(payload, "Payload", head)
        else:
            raise WireEncodeError(f"unknown request kind {request.kind!r}")
    else:
        tool = payload.init("toolRequest")
        if isinstance(request, WeaveEvalRequest):
            tool.init("weaveEval").code = text(request.code)
        elif isinstance(request, WeaveSessionRequest):
            tool.weaveSession = None
        elif isinstance(request, WeaveResetRequest):
            tool.init("weaveReset").clearSession = bool(request.clear_session)
        elif isinstance(request, WeaveHelpRequest):
            tool.init("weaveHelp").topic = text(request.topic)
        else:
            raise WireEncodeError(f"not an inbound request: {request!r}")
    return bytes(msg.to_bytes())


def _tool_response(request_id: bytes) -> tuple[Any, Any]:
    msg, payload = new_envelope(request_id)
    return msg, payload.init("toolResponse")


@encoding
def encode_weave_eval_reply(
    request_id: bytes, *, output_type: OutputType, result: str, stdout: str, stderr: str
) -> bytes:
    """`toolResponse.weaveEval{outputType, result, stdout, stderr}` (sheet V2/V3)."""
    check_enum(output_type, _OUTPUT_TYPES, "output type")
    msg, resp = _tool_response(request_id)
    r = resp.init("weaveEval")
    r.outputType = output_type
    r.result = text(result)
    r.stdout = text(stdout)
    r.stderr = text(stderr)
    return bytes(msg.to_bytes())


@encoding
def encode_weave_session_reply(
    request_id: bytes, *, session: SessionInfo | None, message: str
) -> bytes:
    """`toolResponse.weaveSession`; session None writes a null pointer (sheet V4/V5)."""
    msg, resp = _tool_response(request_id)
    r = resp.init("weaveSession")
    if session is not None:
        s = r.init("session")
        s.id = text(session.id)
        s.name = text(session.name)
        s.vibe = text(session.vibe)
    r.message = text(message)
    return bytes(msg.to_bytes())


@encoding
def encode_weave_reset_reply(request_id: bytes, *, reset: bool, message: str) -> bytes:
    """`toolResponse.weaveReset{reset, message}` (sheet V9)."""
    msg, resp = _tool_response(request_id)
    r = resp.init("weaveReset")
    r.reset = bool(reset)
    r.message = text(message)
    return bytes(msg.to_bytes())


@encoding
def encode_weave_help_reply(request_id: bytes, *, help: str, topic: str) -> bytes:
    """`toolResponse.weaveHelp{help, topic}` (sheet V11)."""
    msg, resp = _tool_response(request_id)
    r = resp.init("weaveHelp")
    r.help = text(help)
    r.topic = text(topic)
    return bytes(msg.to_bytes())


def write_pong(payload: Any, worker_id: bytes, uptime_secs: int) -> None:
    """Fill `payload.pong` (Rust order: workerId, then uptimeSecs)."""
    uuid_words(worker_id)
    check_u64(uptime_secs, "uptime_secs")
    pong = payload.init("pong")
    set_uuid(pong.init("workerId"), worker_id)
    pong.uptimeSecs = uptime_secs


@encoding
def encode_pong(request_id: bytes, *, worker_id: bytes, uptime_secs: int) -> bytes:
    """`payload.pong{workerId, uptimeSecs}` (sheet V13)."""
    msg, payload = new_envelope(request_id)
    write_pong(payload, worker_id, uptime_secs)
    return bytes(msg.to_bytes())


def write_error(payload: Any, code: str, message: str, details: str) -> None:
    """Fill `payload.error` (code, message, details; details always written)."""
    err = payload.init("error")
    err.code = text(code)
    err.message = text(message)
    err.details = text(details)


@encoding
def encode_error(request_id: bytes, *, code: str, message: str, details: str = "") -> bytes:
    """`payload.error{code, message, details}` (sheet V6)."""
    msg, payload = new_envelope(request_id)
    write_error(payload, code, message, details)
    return bytes(msg.to_bytes())
