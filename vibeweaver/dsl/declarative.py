"""rule(): the seed's declarative rules, triggers and actions as data (SPEC §4.3).

    rule(Beat(32), SampleAndSchedule("musicgen", "fresh hats"), priority="low")
    rule(Marker("stop_here"), Stop())
    rule(Transport("playing"), Notify("we are live"), one_shot=True)

Triggers: Beat(divisor), Marker(name), Transport(state), Artifact(tag=None), JobComplete(job_id),
Deadline(beat). Actions: Sample(space, prompt=None, inference=None), Schedule(content, at,
duration=None, gain=0.8), SampleAndSchedule(space, prompt, at=None, duration=None), Play(),
Pause(), Stop(), Seek(beat), Audition(content, duration=None), Notify(message).

The RuleScheduler executes these actions itself, in the service, without the kernel: they fire on
time whatever a cell is doing. A Deadline trigger takes a Sample or SampleAndSchedule and is
planned like latent(). Python callbacks keep their decorators (@on_beat, ...). In the kernel's
namespace `Marker` and `Artifact` are these trigger constructors; the value classes of the same
names stay in `vibeweaver.dsl.values` and `vibeweaver.dsl.live`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.checks import check_name, check_text
from vibeweaver.dsl.context import DslError, current
from vibeweaver.dsl.rules_api import RuleInfo, rule_info
from vibeweaver.scheduling.rules import (
    Action,
    ArtifactTrigger,
    AuditionAction,
    BeatTrigger,
    CallbackAction,
    DeadlineTrigger,
    JobCompleteTrigger,
    MarkerTrigger,
    NotifyAction,
    PauseAction,
    PlayAction,
    Rule,
    SampleAction,
    SampleAndScheduleAction,
    ScheduleAction,
    SeekAction,
    StopAction,
    TransportTrigger,
    Trigger,
    describe_rule,
    freeze_inference,
    rule_to_record,
)
from vibeweaver.types import JobId, Priority, RuleId, TransportState

T = TypeVar("T")

__all__ = [
    "Artifact",
    "Audition",
    "Beat",
    "Deadline",
    "JobComplete",
    "Marker",
    "Notify",
    "Pause",
    "Play",
    "Sample",
    "SampleAndSchedule",
    "Schedule",
    "Seek",
    "Stop",
    "Transport",
    "rule",
]


def _built(what: str, build: Callable[[], T]) -> T:
    try:
        return build()
    except (ValueError, TypeError) as exc:
        raise DslError(f"{what}: {exc}") from None


# -- triggers ------------------------------------------------------------------------------------


def Beat(divisor: int = 1) -> BeatTrigger:  # noqa: N802 - the seed's names for triggers
    """Fires on every beat b with b % divisor == 0 that the clock passes."""
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise DslError(f"Beat(): divisor must be a whole number ≥ 1, not {divisor!r}")
    return _built("Beat()", lambda: BeatTrigger(divisor=divisor))


def Marker(name: str) -> MarkerTrigger:  # noqa: N802
    """Fires when the transport passes the marker `name`."""
    checked = check_name(name, "Marker()")
    return _built("Marker()", lambda: MarkerTrigger(name=checked))


def Transport(state: str) -> TransportTrigger:  # noqa: N802
    """Fires when the transport changes to `state` ('playing', 'paused', 'stopped')."""
    return _built("Transport()", lambda: TransportTrigger(state=TransportState.parse(state)))


def Artifact(tag: str | None = None) -> ArtifactTrigger:  # noqa: N802
    """Fires for each new artifact (with `tag`, if given)."""
    checked = None if tag is None else check_name(tag, "Artifact()", "tag")
    return _built("Artifact()", lambda: ArtifactTrigger(tag=checked))


def JobComplete(job_id: Any) -> JobCompleteTrigger:  # noqa: N802
    """Fires when the job (a Job from sample() or its id) completes or fails."""
    identifier = getattr(job_id, "job_id", job_id)
    if identifier is None:
        raise DslError("JobComplete(): the job has no hootenanny job id (a direct space)")
    checked = check_name(identifier, "JobComplete()", "job_id")
    return _built("JobComplete()", lambda: JobCompleteTrigger(job_id=JobId(checked)))


def Deadline(beat: float) -> DeadlineTrigger:  # noqa: N802
    """A generation that must be ready by the absolute beat `beat` (planned like latent())."""
    return _built("Deadline()", lambda: DeadlineTrigger(beat=beat))


# -- actions -------------------------------------------------------------------------------------


def Sample(  # noqa: N802
    space: str, prompt: str | None = None, inference: Mapping[str, Any] | None = None
) -> SampleAction:
    """Generate in `space` (the artifact is announced; @on_artifact / Artifact() rules see it)."""
    checked_space = check_name(space, "Sample()", "space")
    checked_prompt = None if prompt is None else check_text(prompt, "Sample()", "prompt")
    return _built(
        "Sample()",
        lambda: SampleAction(
            space=checked_space,
            prompt=checked_prompt,
            inference=freeze_inference(dict(inference or {})),
        ),
    )


def Schedule(  # noqa: N802
    content: Any, at: float, duration: float | None = None, gain: float = 0.8
) -> ScheduleAction:
    """Place `content` (an Artifact or an artifact id) on the timeline at beat `at`."""
    from vibeweaver.dsl.timeline import content_id_of

    content_id = content_id_of(content, "Schedule")
    return _built(
        "Schedule()",
        lambda: ScheduleAction(content=content_id, at=at, duration=duration, gain=gain),
    )


def SampleAndSchedule(  # noqa: N802
    space: str,
    prompt: str | None = None,
    at: float | None = None,
    duration: float | None = None,
) -> SampleAndScheduleAction:
    """Generate, then place the result at beat `at` (required)."""
    if at is None:
        raise DslError("SampleAndSchedule(): give at=, the beat to place the result at")
    checked_space = check_name(space, "SampleAndSchedule()", "space")
    checked_prompt = None if prompt is None else check_text(prompt, "SampleAndSchedule()", "prompt")
    return _built(
        "SampleAndSchedule()",
        lambda: SampleAndScheduleAction(
            space=checked_space, prompt=checked_prompt, at=at, duration=duration
        ),
    )


def Play() -> PlayAction:  # noqa: N802
    """Start the transport."""
    return PlayAction()


def Pause() -> PauseAction:  # noqa: N802
    """Pause the transport where it is."""
    return PauseAction()


def Stop() -> StopAction:  # noqa: N802
    """Stop the transport and rewind to beat 0."""
    return StopAction()


def Seek(beat: float) -> SeekAction:  # noqa: N802
    """Move the playhead to `beat`."""
    return _built("Seek()", lambda: SeekAction(beat=beat))


def Audition(content: Any, duration: float | None = None) -> AuditionAction:  # noqa: N802
    """Play `content` now, from the current beat."""
    from vibeweaver.dsl.timeline import content_id_of

    content_id = content_id_of(content, "Audition")
    return _built("Audition()", lambda: AuditionAction(content=content_id, duration=duration))


def Notify(message: str) -> NotifyAction:  # noqa: N802
    """A message for history, the session summary and the next weave_eval result."""
    checked = check_text(message, "Notify()", "message")
    if not checked.strip():
        raise DslError("Notify(): message must not be empty")
    return _built("Notify()", lambda: NotifyAction(message=checked))


# -- rule() --------------------------------------------------------------------------------------

_TRIGGERS = (
    BeatTrigger,
    MarkerTrigger,
    TransportTrigger,
    ArtifactTrigger,
    JobCompleteTrigger,
    DeadlineTrigger,
)
_PLANNED = (SampleAction, SampleAndScheduleAction)
_ACTIONS = (
    *_PLANNED,
    ScheduleAction,
    PlayAction,
    PauseAction,
    StopAction,
    SeekAction,
    AuditionAction,
    NotifyAction,
)


def rule(
    trigger: Trigger, action: Action, *, priority: str = "normal", one_shot: bool = False
) -> RuleInfo:
    """Store a declarative rule: when `trigger` happens, the scheduler does `action`."""
    ctx = current()
    if not isinstance(trigger, _TRIGGERS):
        raise DslError(
            f"rule(): the trigger must be Beat(), Marker(), Transport(), Artifact(), "
            f"JobComplete() or Deadline(), not {trigger!r}"
        )
    if isinstance(action, CallbackAction) or not isinstance(action, _ACTIONS):
        raise DslError(
            f"rule(): the action must be Sample(), Schedule(), SampleAndSchedule(), Play(), "
            f"Pause(), Stop(), Seek(), Audition() or Notify(), not {action!r} (a Python "
            "function is a callback: decorate it with @on_beat, @on_marker, ...)"
        )
    if isinstance(trigger, DeadlineTrigger) and not isinstance(action, _PLANNED):
        raise DslError("rule(): a Deadline trigger takes Sample() or SampleAndSchedule()")
    if not isinstance(one_shot, bool):
        raise DslError(f"rule(): one_shot must be True or False, not {one_shot!r}")
    try:
        level = Priority.parse(priority)
    except ValueError as exc:
        raise DslError(f"rule(): {exc}") from None
    new = Rule(
        id=RuleId(f"rule_{uuid.uuid4().hex[:12]}"),
        session_id=ctx.session.id,
        trigger=trigger,
        action=action,
        priority=level,
        one_shot=one_shot,
        created_at=datetime.now(UTC),
    )
    saved = ctx.store.save_rule(rule_to_record(new))
    ctx.scheduler.tell(scheduler_messages.RuleSaved(rule=saved))
    ctx.record("rule", describe_rule(new), saved.id)
    return rule_info(saved)
