"""The four agent tools as an agent sees them: descriptions, argument checks, result shapes, text.

Pure: no actors, no I/O, no MCP transport. `vibeweaver.frontends.mcp` wires these to the
`ToolService`; the structured results follow SPEC §3.2 and the text renderings are the compact
form an agent reads when its client shows only text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.limits import MAX_CODE_CHARS
from vibeweaver.persistence.records import SessionRecord
from vibeweaver.persistence.storable import storable_optional, storable_text

MAX_EVAL_TIMEOUT_S = 3600.0
"""Upper bound of `timeout_s` (the ToolService refuses more)."""


MAX_TOPIC_CHARS = 200


class ArgumentError(ValueError):
    """A tool argument that passed the schema but cannot be used (shown to the agent as is)."""


# -- descriptions ---------------------------------------------------------------------------

SERVER_INSTRUCTIONS = """\
vibeweaver is a persistent Python kernel for making music. weave_eval runs Python in one \
namespace that survives between calls, with a small music DSL pre-imported (sessions, tempo, \
generation jobs, a timeline, transport and reactive rules). Session state (rules, markers, \
history) lives in a database, so after a restart or a context reset call weave_session first: \
its summary says where things stand. weave_help('api') lists the DSL; weave_reset clears the \
namespace when it is in a bad state. Keep cells small and print summaries rather than whole data \
sets: each output is capped at about 8 KB."""

DSL_PARAGRAPH = """\
The music DSL is pre-bound in the namespace (also `import vibeweaver`): session(name, vibe), \
tempo(bpm), marker(name, beat); `await sample(space, prompt)` -> Artifact, latent(space, prompt, \
deadline) for a job that must finish by a beat, gather(*jobs); schedule(content, at), \
audition(content); play(), pause(), stop(), seek(beat); decorators @on_beat(n), @on_marker(name), \
@on_artifact(tag), @on_transport(state), @on_job(id) create rules that are stored as data and \
survive restarts; read-only state beat, transport, timeline, jobs, artifacts, and rules() to list, \
disable or delete rules. Generation and the timeline need hootenanny; without it those calls fail \
fast with a clear error and everything else works. weave_help has the full reference."""


def eval_description(default_timeout_s: float) -> str:
    """The weave_eval description, with the service's default timeout."""
    return f"""\
Run Python code in vibeweaver's persistent music kernel and return what happened.

One namespace persists between calls (variables, functions, imports stay until weave_reset); each \
call is a cell with the next execution_count. If the cell's last statement is an expression, its \
repr comes back as `result`; print() output comes back as `stdout` and writes to stderr as \
`stderr`. Top-level `await` works. The code runs exactly once. A Python error is a normal result: \
status "error" with the error's type, message and a traceback of your cell's lines; output \
printed before the error is still returned and side effects before it stay done. A cell still \
running after timeout_s (default {default_timeout_s:g} s, at most {MAX_EVAL_TIMEOUT_S:g}) is \
interrupted: status "timeout", the namespace is kept and the next call works (a cell cut short \
because the service is stopping ends with status "error", error type "Interrupted"). input() \
raises at once. result, stdout and stderr are each capped at about 8 KB (head and tail kept, with \
a note of what was cut).

{DSL_PARAGRAPH}"""


SESSION_DESCRIPTION = """\
Show the current music session and a terse summary to resume from: name, vibe, tempo, transport, \
active rules, markers and recent history. Call it first after a restart or a context reset. It \
only reads; nothing changes."""

RESET_DESCRIPTION = """\
Clear the kernel's Python namespace: your variables, functions and pending tasks are dropped and \
the DSL names are bound again. The session's rules, markers and history are kept, unless \
clear_session is true, which also deletes them from the database for the current session (this \
cannot be undone). A weave_eval still running is interrupted first (its result says so). Only \
needed when the namespace is in a bad state, not between ordinary cells."""

HELP_DESCRIPTION = """\
The vibeweaver DSL reference. topic: "" or "overview" (default), "api" (every DSL call), "rules" \
(reactive rules and callbacks), "session" (sessions, persistence, resuming), "examples". It only \
reads; nothing changes."""


# -- arguments ------------------------------------------------------------------------------

Code = Annotated[
    str,
    Field(
        description="Python source of one cell (statements; the last expression is the result)",
        max_length=MAX_CODE_CHARS,
    ),
]


EvalTimeout = Annotated[
    float,
    Field(
        gt=0,
        le=MAX_EVAL_TIMEOUT_S,
        description=(
            "seconds before the cell is interrupted (default: the service's eval timeout, "
            f"at most {MAX_EVAL_TIMEOUT_S:g})"
        ),
    ),
]

ClearSession = Annotated[
    bool,
    Field(
        strict=True,
        description="also delete the current session's rules, markers and history (irreversible)",
    ),
]

Topic = Annotated[
    str,
    Field(
        description='"", "overview", "api", "rules", "session" or "examples"',
        max_length=MAX_TOPIC_CHARS,
    ),
]


def check_code(code: str) -> str:
    """The cell to run; refuses an empty or whitespace-only cell."""
    if not code.strip():
        raise ArgumentError("code is empty: send the Python source of the cell to run")
    if len(code) > MAX_CODE_CHARS:
        raise ArgumentError(f"code has {len(code):,} characters; the limit is {MAX_CODE_CHARS:,}")
    return code


def check_timeout(timeout_s: float) -> float:
    """The eval timeout in seconds; refuses zero, negative, infinite, NaN or over an hour."""
    value = float(timeout_s)
    if not 0 < value <= MAX_EVAL_TIMEOUT_S:  # also false for NaN
        raise ArgumentError(
            f"timeout_s must be more than 0 and at most {MAX_EVAL_TIMEOUT_S:g} seconds, "
            f"not {timeout_s!r}"
        )
    return value


# -- results --------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """A Python error of the cell (or the timeout that interrupted it)."""

    type: str = Field(
        description=(
            "exception type name, e.g. ZeroDivisionError, TimeoutError, or Interrupted when the "
            "service stopped during the cell"
        )
    )
    message: str
    traceback: str = Field(description="your cell's frames with their source lines, no ANSI codes")


def _or_null(schema: dict[str, Any], description: str | None = None) -> WithJsonSchema:
    """`schema` or null, written as a type list rather than pydantic's `anyOf` with a `$ref`.

    Clients check every structured result against the tool's output schema; with jsonschema (the
    Python SDK's client) a `$ref` and an `anyOf` made that check of a weave_eval result twice as
    slow (~120 µs against ~60 µs). Same constraints, cheaper to apply."""
    flat = {key: value for key, value in schema.items() if key != "title"}
    flat["type"] = [flat["type"], "null"]
    if description is not None:
        flat["description"] = description
    return WithJsonSchema(flat)


class EvalResult(BaseModel):
    """What weave_eval returns."""

    status: Literal["ok", "error", "timeout"]
    execution_count: int = Field(description="the cell's number; increases by one per call")
    result: Annotated[
        str | None,
        _or_null({"type": "string"}, "repr of the cell's last expression, or null"),
    ]
    stdout: str
    stderr: str
    error: Annotated[ErrorDetail | None, _or_null(ErrorDetail.model_json_schema())]
    duration_ms: float
    notifications: list[str] = Field(
        default_factory=list,
        description="messages of Notify rules that fired since the previous weave_eval",
    )


class SessionInfo(BaseModel):
    """The current session's identity and musical settings."""

    id: str
    name: str
    vibe: str | None
    tempo_bpm: float


class SessionResult(BaseModel):
    """What weave_session returns."""

    session: SessionInfo
    summary: str = Field(description="context-restoration text: rules, markers, recent history")


class ResetResult(BaseModel):
    """What weave_reset returns."""

    reset: bool
    message: str


class HelpResult(BaseModel):
    """What weave_help returns."""

    topic: str = Field(description="the topic shown (unknown topics show the overview)")
    help: str


def eval_result(outcome: EvalOutcome, notifications: tuple[str, ...] = ()) -> EvalResult:
    """The structured result of one evaluation.

    A cell's output may hold lone surrogates (`print(chr(0xd800))`, a file name decoded with
    surrogateescape); JSON cannot carry them, and on stdio one such reply ended the whole MCP
    session. They are sent as backslash escapes, like the store keeps them."""
    error = None
    if outcome.error is not None:
        error = ErrorDetail(
            type=storable_text(outcome.error.type),
            message=storable_text(outcome.error.message),
            traceback=storable_text(outcome.error.traceback),
        )
    return EvalResult(
        status=outcome.status,
        execution_count=outcome.execution_count,
        result=storable_optional(outcome.result),
        stdout=storable_text(outcome.stdout),
        stderr=storable_text(outcome.stderr),
        error=error,
        duration_ms=round(outcome.duration_ms, 3),
        notifications=[storable_text(line) for line in notifications],
    )


def render_eval(result: EvalResult) -> str:
    """Compact text: a status line, the result, stdout, stderr, then the error's traceback.

    For example:

        [3] ok (0.4 ms)
        result: 42
    """
    head = f"[{result.execution_count}] {result.status} ({_ms(result.duration_ms)})"
    if result.error is not None:
        head += f": {result.error.type}: {result.error.message}"
    parts = [head + "\n"]
    if result.result is not None:
        sep = "\n" if "\n" in result.result else " "
        parts.append(_block(f"result:{sep}{result.result}"))
    if result.stdout:
        parts.append(_block(f"stdout:\n{result.stdout}"))
    if result.stderr:
        parts.append(_block(f"stderr:\n{result.stderr}"))
    if result.notifications:
        parts.append(_block("notifications:\n" + "\n".join(result.notifications)))
    if result.error is not None and result.error.traceback:
        trace = result.error.traceback
        if trace.strip() != f"{result.error.type}: {result.error.message}":
            parts.append(_block(trace))
    return "".join(parts).rstrip("\n")


def session_result(session: SessionRecord, summary: str) -> SessionResult:
    return SessionResult(
        session=SessionInfo(
            id=str(session.id), name=session.name, vibe=session.vibe, tempo_bpm=session.tempo_bpm
        ),
        summary=summary,
    )


def render_session(result: SessionResult) -> str:
    """The summary, then the session id (the summary already names the session)."""
    return f"{result.summary.rstrip()}\n\n(session id {result.session.id})"


def reset_result(reset: bool, message: str) -> ResetResult:
    return ResetResult(reset=reset, message=message)


def render_reset(result: ResetResult) -> str:
    return result.message


def help_result(topic: str, text: str) -> HelpResult:
    return HelpResult(topic=topic, help=text)


def render_help(result: HelpResult) -> str:
    return result.help


def _block(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _ms(duration_ms: float) -> str:
    if duration_ms >= 10_000:
        return f"{duration_ms / 1000:.1f} s"
    if duration_ms >= 100:
        return f"{duration_ms:.0f} ms"
    return f"{duration_ms:.1f} ms"
