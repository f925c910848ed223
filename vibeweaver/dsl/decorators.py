"""@on_beat, @on_marker, @on_artifact, @on_transport, @on_job: a function becomes a stored rule.

The rule's action stores the function's source text (decorators stripped), so after a restart the
kernel re-defines the function from the database and the rule fires again. The decorator returns
the function unchanged, with `rule_id` set on it.
"""

from __future__ import annotations

import contextlib
import difflib
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.checks import check_name
from vibeweaver.dsl.context import DslError, current
from vibeweaver.dsl.live import Job
from vibeweaver.kernel.callbacks import CallbackSourceError, extract_source
from vibeweaver.scheduling.rules import (
    ArtifactTrigger,
    BeatTrigger,
    CallbackAction,
    JobCompleteTrigger,
    MarkerTrigger,
    Rule,
    TransportTrigger,
    Trigger,
    describe_rule,
    rule_to_record,
)
from vibeweaver.types import JobId, Priority, RuleId, TransportState

F = TypeVar("F", bound=Callable[..., Any])


def _register(trigger: Trigger, fn: Callable[..., Any], priority: str, one_shot: bool) -> RuleId:
    ctx = current()
    if not callable(fn):
        raise DslError(f"a rule decorator needs a function, not {fn!r}")
    try:
        level = Priority.parse(priority)
    except ValueError as exc:
        raise DslError(str(exc)) from None
    try:
        source = extract_source(fn)
    except CallbackSourceError as exc:
        raise DslError(f"cannot store {getattr(fn, '__name__', fn)!r} as a rule: {exc}") from None
    rule = Rule(
        id=RuleId(f"rule_{uuid.uuid4().hex[:12]}"),
        session_id=ctx.session.id,
        trigger=trigger,
        action=CallbackAction(name=fn.__name__, source=source),
        priority=level,
        one_shot=bool(one_shot),
        created_at=datetime.now(UTC),
    )
    saved = ctx.store.save_rule(rule_to_record(rule))
    ctx.callbacks[saved.id] = fn
    ctx.scheduler.tell(scheduler_messages.RuleSaved(rule=saved))
    ctx.record("rule", describe_rule(rule), saved.id)
    return saved.id


def _decorator(trigger: Trigger, priority: str, one_shot: bool) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        rule_id = _register(trigger, fn, priority, one_shot)
        with contextlib.suppress(AttributeError):  # a callable without a __dict__ stays as is
            fn.rule_id = rule_id  # type: ignore[attr-defined]
        return fn

    return decorate


def _build(factory: Callable[[], Trigger], what: str) -> Trigger:
    try:
        return factory()
    except (ValueError, TypeError) as exc:
        raise DslError(f"{what}: {exc}") from None


def on_beat(
    divisor: int = 1, *, priority: str = "normal", one_shot: bool = False
) -> Callable[[F], F]:
    """Run the function on every beat b with b % divisor == 0 that the clock passes: fn(beat)."""
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise DslError(f"on_beat(): divisor must be a whole number ≥ 1, not {divisor!r}")
    return _decorator(_build(lambda: BeatTrigger(divisor=divisor), "on_beat()"), priority, one_shot)


def on_marker(name: str, *, priority: str = "normal", one_shot: bool = False) -> Callable[[F], F]:
    """Run the function when the transport passes the marker `name`: fn(name).

    The marker may be placed later; a name that is not a marker yet gets a note on stderr (with
    the closest existing marker, when one is close), since a typo would never fire.
    """
    name = check_name(name, "on_marker()")
    decorate = _decorator(
        _build(lambda: MarkerTrigger(name=name), "on_marker()"), priority, one_shot
    )
    _note_unknown_marker(name)
    return decorate


def _note_unknown_marker(name: str) -> None:
    ctx = current()
    known = [record.name for record in ctx.store.list_markers(ctx.session.id)]
    if name in known:
        return
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    print(
        f"on_marker({name!r}): no marker named {name!r} yet; the rule fires once one is "
        f"placed with marker({name!r}, beat).{hint}",
        file=sys.stderr,
    )


def on_artifact(
    tag: str | None = None, *, priority: str = "normal", one_shot: bool = False
) -> Callable[[F], F]:
    """Run the function for each new artifact (with `tag`, if given): fn(artifact_id, tags)."""
    if tag is not None:
        tag = check_name(tag, "on_artifact()", "tag")
    return _decorator(_build(lambda: ArtifactTrigger(tag=tag), "on_artifact()"), priority, one_shot)


def on_transport(
    state: str, *, priority: str = "normal", one_shot: bool = False
) -> Callable[[F], F]:
    """Run the function when the transport changes to `state`: fn(state)."""

    def trigger() -> Trigger:
        return TransportTrigger(state=TransportState.parse(state))

    return _decorator(_build(trigger, "on_transport()"), priority, one_shot)


def on_job(job: Job | str, *, priority: str = "normal", one_shot: bool = True) -> Callable[[F], F]:
    """Run the function when the job finishes: fn(job_id, state). `job` is a Job from sample()
    (of a job space: its id is known when sample() returns) or a job id. One-shot by default."""
    job_id = _job_id_of(job)
    return _decorator(
        _build(lambda: JobCompleteTrigger(job_id=JobId(job_id)), "on_job()"),
        priority,
        one_shot,
    )


def _job_id_of(job: Job | str) -> str:
    if not isinstance(job, Job):
        return check_name(job, "on_job()", "job")
    if job.done:
        raise DslError(
            f"on_job(): {job.label} already ended ({job.state}); a callback would never run"
        )
    if job.job_id is None:
        raise DslError(
            f"on_job(): {job.label} has no hootenanny job id (a direct space answers with its "
            "result, no job): await it instead"
        )
    return job.job_id
