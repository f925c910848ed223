"""Rules as data: triggers, actions, persisted form, descriptions and events (the index that
matches events to rules is `vibeweaver.scheduling.rule_index`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeAlias

from vibeweaver.errors import VibeweaverError
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.types import (
    ActionType,
    ArtifactId,
    JobId,
    Priority,
    RuleId,
    SessionId,
    TransportState,
    TriggerType,
)

__all__ = [
    "MAX_GAIN",
    "Action",
    "ArtifactSeen",
    "ArtifactTrigger",
    "AuditionAction",
    "BeatCrossed",
    "BeatTrigger",
    "CallbackAction",
    "DeadlineTrigger",
    "Event",
    "InferenceParams",
    "JobCompleteTrigger",
    "JobFinished",
    "MarkerHit",
    "MarkerTrigger",
    "NotifyAction",
    "PauseAction",
    "PlayAction",
    "Rule",
    "RuleRecordError",
    "SampleAction",
    "SampleAndScheduleAction",
    "ScheduleAction",
    "SeekAction",
    "StopAction",
    "TransportChanged",
    "TransportTrigger",
    "Trigger",
    "action_type_of",
    "describe_action",
    "describe_rule",
    "describe_trigger",
    "freeze_inference",
    "rule_from_record",
    "rule_to_record",
    "trigger_type_of",
]

MAX_GAIN = 4.0
"""Upper bound of a schedule gain (linear); 0.8 is the DSL default, 1.0 unity."""

InferenceParams: TypeAlias = tuple[tuple[str, object], ...]
"""Generation parameters as sorted (key, JSON scalar) pairs, so actions stay hashable."""


class RuleRecordError(VibeweaverError, ValueError):
    """A persisted rule cannot be turned back into a Rule (unknown type, missing or bad param)."""


# --------------------------------------------------------------------------------------------
# Validation helpers (each raises ValueError naming the field and the offending value)


def _require_str(value: object, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _require_beat(value: object, what: str) -> float:
    """A beat position: a finite real number >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of beats, got {type(value).__name__} {value!r}")
    beat = float(value)
    if not math.isfinite(beat):
        raise ValueError(f"{what} must be a finite number of beats, got {value!r}")
    if beat < 0:
        raise ValueError(f"{what} must be >= 0 beats, got {value!r}")
    return beat


def _require_duration(value: object, what: str) -> float | None:
    """An optional length in beats: None, or finite and > 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of beats or None, got {value!r}")
    duration = float(value)
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"{what} must be a finite number of beats > 0, got {value!r}")
    return duration


def _require_gain(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"gain must be a number, got {type(value).__name__} {value!r}")
    gain = float(value)
    if not math.isfinite(gain) or not 0.0 <= gain <= MAX_GAIN:
        raise ValueError(f"gain must be between 0 and {MAX_GAIN:g}, got {value!r}")
    return gain


def freeze_inference(
    params: Mapping[str, object] | Iterable[tuple[str, object]],
) -> InferenceParams:
    """Turn inference parameters (a mapping or pairs) into the sorted, hashable form actions hold.

    Keys are non-empty strings, unique; values are JSON scalars (str, int, finite float, bool,
    None) so that they survive the JSON round trip unchanged.
    """
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    seen: set[str] = set()
    frozen: list[tuple[str, object]] = []
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"inference parameters must be (name, value) pairs, got {pair!r}")
        key, value = pair
        key = _require_str(key, "inference parameter name")
        if key in seen:
            raise ValueError(f"inference parameter {key!r} given twice")
        seen.add(key)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"inference parameter {key!r} must be finite, got {value!r}")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(
                f"inference parameter {key!r} must be a string, number, bool or None, "
                f"got {type(value).__name__}"
            )
        frozen.append((key, value))
    return tuple(sorted(frozen, key=lambda kv: kv[0]))


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# --------------------------------------------------------------------------------------------
# Triggers


@dataclass(frozen=True, slots=True, kw_only=True)
class BeatTrigger:
    """Every `divisor` beats: each integer beat b with b % divisor == 0 that the clock passes."""

    kind: ClassVar[TriggerType] = TriggerType.BEAT
    divisor: int

    def __post_init__(self) -> None:
        if isinstance(self.divisor, bool) or not isinstance(self.divisor, int):
            raise ValueError(f"beat divisor must be an integer, got {self.divisor!r}")
        if self.divisor < 1:
            raise ValueError(f"beat divisor must be >= 1, got {self.divisor}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkerTrigger:
    """When the transport reaches the marker with this name (exact, case-sensitive)."""

    kind: ClassVar[TriggerType] = TriggerType.MARKER
    name: str

    def __post_init__(self) -> None:
        _require_str(self.name, "marker name")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadlineTrigger:
    """Work that must be complete by `beat` (latent jobs; planned by the DeadlinePlanner)."""

    kind: ClassVar[TriggerType] = TriggerType.DEADLINE
    beat: float

    def __post_init__(self) -> None:
        _set(self, "beat", _require_beat(self.beat, "deadline beat"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactTrigger:
    """A new artifact carrying `tag` (any new artifact when tag is None)."""

    kind: ClassVar[TriggerType] = TriggerType.ARTIFACT
    tag: str | None = None

    def __post_init__(self) -> None:
        if self.tag is not None:
            _require_str(self.tag, "artifact tag")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCompleteTrigger:
    """The generation job `job_id` finished (whatever its final state)."""

    kind: ClassVar[TriggerType] = TriggerType.JOB_COMPLETE
    job_id: JobId

    def __post_init__(self) -> None:
        _require_str(self.job_id, "job id")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportTrigger:
    """The transport entered `state` (a string such as "playing" is accepted and parsed)."""

    kind: ClassVar[TriggerType] = TriggerType.TRANSPORT
    state: TransportState

    def __post_init__(self) -> None:
        _set(self, "state", TransportState.parse(self.state))


Trigger: TypeAlias = (
    BeatTrigger
    | MarkerTrigger
    | DeadlineTrigger
    | ArtifactTrigger
    | JobCompleteTrigger
    | TransportTrigger
)


# --------------------------------------------------------------------------------------------
# Actions


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleAction:
    """Generate from `space` (prompt optional, as in the DSL's sample())."""

    kind: ClassVar[ActionType] = ActionType.SAMPLE
    space: str
    prompt: str | None = None
    inference: InferenceParams = ()

    def __post_init__(self) -> None:
        _require_str(self.space, "space")
        if self.prompt is not None:
            _require_str(self.prompt, "prompt", allow_empty=True)
        _set(self, "inference", freeze_inference(self.inference))


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleAction:
    """Place `content` (artifact id or content hash) on the timeline at beat `at`."""

    kind: ClassVar[ActionType] = ActionType.SCHEDULE
    content: str
    at: float
    duration: float | None = None
    gain: float = 0.8

    def __post_init__(self) -> None:
        _require_str(self.content, "content")
        _set(self, "at", _require_beat(self.at, "schedule position 'at'"))
        _set(self, "duration", _require_duration(self.duration, "schedule duration"))
        _set(self, "gain", _require_gain(self.gain))


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleAndScheduleAction:
    """Generate from `space`, then schedule the result at beat `at`."""

    kind: ClassVar[ActionType] = ActionType.SAMPLE_AND_SCHEDULE
    space: str
    prompt: str | None = None
    at: float
    duration: float | None = None
    gain: float = 0.8
    inference: InferenceParams = ()

    def __post_init__(self) -> None:
        _require_str(self.space, "space")
        if self.prompt is not None:
            _require_str(self.prompt, "prompt", allow_empty=True)
        _set(self, "at", _require_beat(self.at, "schedule position 'at'"))
        _set(self, "duration", _require_duration(self.duration, "schedule duration"))
        _set(self, "gain", _require_gain(self.gain))
        _set(self, "inference", freeze_inference(self.inference))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayAction:
    """Start the transport."""

    kind: ClassVar[ActionType] = ActionType.PLAY


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseAction:
    """Pause the transport where it is."""

    kind: ClassVar[ActionType] = ActionType.PAUSE


@dataclass(frozen=True, slots=True, kw_only=True)
class StopAction:
    """Stop the transport (pause and return to beat 0)."""

    kind: ClassVar[ActionType] = ActionType.STOP


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekAction:
    """Move the transport to `beat`."""

    kind: ClassVar[ActionType] = ActionType.SEEK
    beat: float

    def __post_init__(self) -> None:
        _set(self, "beat", _require_beat(self.beat, "seek beat"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditionAction:
    """Play `content` once outside the timeline (for `duration` beats, or its full length)."""

    kind: ClassVar[ActionType] = ActionType.AUDITION
    content: str
    duration: float | None = None

    def __post_init__(self) -> None:
        _require_str(self.content, "content")
        _set(self, "duration", _require_duration(self.duration, "audition duration"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyAction:
    """Leave a message for the agent (shown in the session summary and history)."""

    kind: ClassVar[ActionType] = ActionType.NOTIFY
    message: str

    def __post_init__(self) -> None:
        _require_str(self.message, "notify message", allow_empty=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackAction:
    """A Python function stored as source text; the kernel re-defines `name` from `source`."""

    kind: ClassVar[ActionType] = ActionType.CALLBACK
    name: str
    source: str

    def __post_init__(self) -> None:
        _require_str(self.name, "callback name")
        if not self.name.isidentifier():
            raise ValueError(f"callback name must be a Python identifier, got {self.name!r}")
        _require_str(self.source, "callback source")


Action: TypeAlias = (
    SampleAction
    | ScheduleAction
    | SampleAndScheduleAction
    | PlayAction
    | PauseAction
    | StopAction
    | SeekAction
    | AuditionAction
    | NotifyAction
    | CallbackAction
)

_TRIGGER_CLASSES: tuple[type[Trigger], ...] = (
    BeatTrigger,
    MarkerTrigger,
    DeadlineTrigger,
    ArtifactTrigger,
    JobCompleteTrigger,
    TransportTrigger,
)
_ACTION_CLASSES: tuple[type[Action], ...] = (
    SampleAction,
    ScheduleAction,
    SampleAndScheduleAction,
    PlayAction,
    PauseAction,
    StopAction,
    SeekAction,
    AuditionAction,
    NotifyAction,
    CallbackAction,
)


def trigger_type_of(trigger: Trigger) -> TriggerType:
    """The TriggerType stored in `rules.trigger_type` for this trigger."""
    return trigger.kind


def action_type_of(action: Action) -> ActionType:
    """The ActionType stored in `rules.action_type` for this action."""
    return action.kind


# --------------------------------------------------------------------------------------------
# Rule


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A persisted trigger + action pair (callbacks and latent jobs alike)."""

    id: RuleId
    session_id: SessionId
    trigger: Trigger
    action: Action
    priority: Priority = Priority.NORMAL
    enabled: bool = True
    one_shot: bool = False
    fired_count: int = 0
    last_fired_at: datetime | None = None
    seq: int = 0
    """Creation order (ties between equal priorities break on it, then on id)."""
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_str(self.id, "rule id")
        _require_str(self.session_id, "session id")
        if not isinstance(self.trigger, _TRIGGER_CLASSES):
            raise ValueError(f"rule trigger must be a trigger value, got {self.trigger!r}")
        if not isinstance(self.action, _ACTION_CLASSES):
            raise ValueError(f"rule action must be an action value, got {self.action!r}")
        _set(self, "priority", Priority.parse(self.priority))
        for flag in ("enabled", "one_shot"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"rule {flag} must be a bool, got {getattr(self, flag)!r}")
        if isinstance(self.fired_count, bool) or not isinstance(self.fired_count, int):
            raise ValueError(f"fired_count must be an integer, got {self.fired_count!r}")
        if self.fired_count < 0:
            raise ValueError(f"fired_count must be >= 0, got {self.fired_count}")
        if isinstance(self.seq, bool) or not isinstance(self.seq, int):
            raise ValueError(f"seq must be an integer, got {self.seq!r}")
        for stamp in ("last_fired_at", "created_at"):
            value = getattr(self, stamp)
            if value is not None and not isinstance(value, datetime):
                raise ValueError(f"{stamp} must be a datetime or None, got {value!r}")

    @property
    def trigger_type(self) -> TriggerType:
        return self.trigger.kind

    @property
    def action_type(self) -> ActionType:
        return self.action.kind

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Firing order within a bucket: priority (critical first), then creation order, then id."""
        return (self.priority.rank, self.seq, self.id)


# --------------------------------------------------------------------------------------------
# Persisted form


def _json(params: Mapping[str, object]) -> str:
    return json.dumps(
        params, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    )


def _trigger_params(trigger: Trigger) -> dict[str, object]:
    match trigger:
        case BeatTrigger(divisor=divisor):
            return {"divisor": divisor}
        case MarkerTrigger(name=name):
            return {"name": name}
        case DeadlineTrigger(beat=beat):
            return {"beat": beat}
        case ArtifactTrigger(tag=tag):
            return {"tag": tag}
        case JobCompleteTrigger(job_id=job_id):
            return {"job_id": job_id}
        case TransportTrigger(state=state):
            return {"state": state.value}


def _action_params(action: Action) -> dict[str, object]:
    match action:
        case SampleAction():
            return {
                "space": action.space,
                "prompt": action.prompt,
                "inference": dict(action.inference),
            }
        case ScheduleAction():
            return {
                "content": action.content,
                "at": action.at,
                "duration": action.duration,
                "gain": action.gain,
            }
        case SampleAndScheduleAction():
            return {
                "space": action.space,
                "prompt": action.prompt,
                "inference": dict(action.inference),
                "at": action.at,
                "duration": action.duration,
                "gain": action.gain,
            }
        case PlayAction() | PauseAction() | StopAction():
            return {}
        case SeekAction(beat=beat):
            return {"beat": beat}
        case AuditionAction(content=content, duration=duration):
            return {"content": content, "duration": duration}
        case NotifyAction(message=message):
            return {"message": message}
        case CallbackAction(name=name, source=source):
            return {"name": name, "source": source}


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def rule_to_record(rule: Rule) -> RuleRecord:
    """The row form of a rule; params are compact JSON objects with sorted keys."""
    return RuleRecord(
        id=rule.id,
        session_id=rule.session_id,
        trigger_type=rule.trigger.kind.value,
        trigger_params=_json(_trigger_params(rule.trigger)),
        action_type=rule.action.kind.value,
        action_params=_json(_action_params(rule.action)),
        priority=rule.priority.value,
        enabled=rule.enabled,
        one_shot=rule.one_shot,
        fired_count=rule.fired_count,
        last_fired_at=_stamp(rule.last_fired_at),
        created_at=_stamp(rule.created_at) or "",
        seq=rule.seq,
    )


class _Params:
    """Typed access to one decoded params object, with errors naming the rule and the field."""

    def __init__(self, raw: str, what: str) -> None:
        self.what = what
        try:
            decoded = json.loads(raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise RuleRecordError(f"{what}: params are not valid JSON ({exc})") from None
        if not isinstance(decoded, dict):
            raise RuleRecordError(f"{what}: params must be a JSON object, got {raw!r}")
        self.data: dict[str, object] = decoded

    def get(self, key: str) -> object:
        if key not in self.data:
            raise RuleRecordError(f"{self.what}: missing param {key!r}")
        return self.data[key]

    def opt(self, key: str) -> object:
        return self.data.get(key)

    def string(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise RuleRecordError(f"{self.what}: param {key!r} must be a string, got {value!r}")
        return value

    def opt_string(self, key: str) -> str | None:
        value = self.opt(key)
        if value is not None and not isinstance(value, str):
            raise RuleRecordError(f"{self.what}: param {key!r} must be a string, got {value!r}")
        return value

    def number(self, key: str) -> float:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleRecordError(f"{self.what}: param {key!r} must be a number, got {value!r}")
        return float(value)

    def opt_number(self, key: str) -> float | None:
        value = self.opt(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleRecordError(f"{self.what}: param {key!r} must be a number, got {value!r}")
        return float(value)

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RuleRecordError(f"{self.what}: param {key!r} must be an integer, got {value!r}")
        return value

    def inference(self) -> InferenceParams:
        value = self.opt("inference")
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise RuleRecordError(
                f"{self.what}: param 'inference' must be an object, got {value!r}"
            )
        return freeze_inference(value)


def _decode_trigger(kind: TriggerType, p: _Params) -> Trigger:
    match kind:
        case TriggerType.BEAT:
            return BeatTrigger(divisor=p.integer("divisor"))
        case TriggerType.MARKER:
            return MarkerTrigger(name=p.string("name"))
        case TriggerType.DEADLINE:
            return DeadlineTrigger(beat=p.number("beat"))
        case TriggerType.ARTIFACT:
            return ArtifactTrigger(tag=p.opt_string("tag"))
        case TriggerType.JOB_COMPLETE:
            return JobCompleteTrigger(job_id=JobId(p.string("job_id")))
        case TriggerType.TRANSPORT:
            return TransportTrigger(state=TransportState.parse(p.string("state")))


def _decode_action(kind: ActionType, p: _Params) -> Action:
    match kind:
        case ActionType.SAMPLE:
            return SampleAction(
                space=p.string("space"), prompt=p.opt_string("prompt"), inference=p.inference()
            )
        case ActionType.SCHEDULE:
            return ScheduleAction(
                content=p.string("content"),
                at=p.number("at"),
                duration=p.opt_number("duration"),
                gain=p.number("gain"),
            )
        case ActionType.SAMPLE_AND_SCHEDULE:
            return SampleAndScheduleAction(
                space=p.string("space"),
                prompt=p.opt_string("prompt"),
                inference=p.inference(),
                at=p.number("at"),
                duration=p.opt_number("duration"),
                gain=p.number("gain"),
            )
        case ActionType.PLAY:
            return PlayAction()
        case ActionType.PAUSE:
            return PauseAction()
        case ActionType.STOP:
            return StopAction()
        case ActionType.SEEK:
            return SeekAction(beat=p.number("beat"))
        case ActionType.AUDITION:
            return AuditionAction(content=p.string("content"), duration=p.opt_number("duration"))
        case ActionType.NOTIFY:
            return NotifyAction(message=p.string("message"))
        case ActionType.CALLBACK:
            return CallbackAction(name=p.string("name"), source=p.string("source"))


def _parse_stamp(value: str | None, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RuleRecordError(f"{what} is not an ISO-8601 timestamp: {value!r}") from None


def rule_from_record(record: RuleRecord) -> Rule:
    """Rebuild a Rule from its row; raises RuleRecordError naming the rule and what is wrong."""
    where = f"rule {record.id!r}"
    try:
        trigger_kind = TriggerType(record.trigger_type)
    except ValueError:
        known = ", ".join(t.value for t in TriggerType)
        raise RuleRecordError(
            f"{where}: unknown trigger type {record.trigger_type!r} (known: {known})"
        ) from None
    try:
        action_kind = ActionType(record.action_type)
    except ValueError:
        known = ", ".join(a.value for a in ActionType)
        raise RuleRecordError(
            f"{where}: unknown action type {record.action_type!r} (known: {known})"
        ) from None
    trigger_what = f"{where} {trigger_kind.value} trigger"
    action_what = f"{where} {action_kind.value} action"
    try:
        trigger = _decode_trigger(trigger_kind, _Params(record.trigger_params, trigger_what))
    except RuleRecordError:
        raise
    except ValueError as exc:
        raise RuleRecordError(f"{trigger_what}: {exc}") from None
    try:
        action = _decode_action(action_kind, _Params(record.action_params, action_what))
    except RuleRecordError:
        raise
    except ValueError as exc:
        raise RuleRecordError(f"{action_what}: {exc}") from None
    try:
        return Rule(
            id=record.id,
            session_id=record.session_id,
            trigger=trigger,
            action=action,
            priority=Priority.parse(record.priority),
            enabled=bool(record.enabled),
            one_shot=bool(record.one_shot),
            fired_count=record.fired_count,
            last_fired_at=_parse_stamp(record.last_fired_at, f"{where} last_fired_at"),
            seq=record.seq,
            created_at=_parse_stamp(record.created_at, f"{where} created_at"),
        )
    except RuleRecordError:
        raise
    except ValueError as exc:
        raise RuleRecordError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Descriptions (SPEC 4.5)


def _num(value: float) -> str:
    """256.0 -> '256', 3.5 -> '3.5' (shortest form that reads back the same)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def describe_trigger(trigger: Trigger) -> str:
    """`Beat(divisor=32)`, `Marker("drop")`, `Deadline(beat=256)`, `Artifact(any)` ..."""
    match trigger:
        case BeatTrigger(divisor=divisor):
            return f"Beat(divisor={divisor})"
        case MarkerTrigger(name=name):
            return f"Marker({_quoted(name)})"
        case DeadlineTrigger(beat=beat):
            return f"Deadline(beat={_num(beat)})"
        case ArtifactTrigger(tag=tag):
            return "Artifact(any)" if tag is None else f"Artifact(tag={_quoted(tag)})"
        case JobCompleteTrigger(job_id=job_id):
            return f"JobComplete({_quoted(job_id)})"
        case TransportTrigger(state=state):
            return f"Transport({state.value})"


_ACTION_NAMES: dict[ActionType, str] = {
    ActionType.SAMPLE: "Sample",
    ActionType.SCHEDULE: "Schedule",
    ActionType.SAMPLE_AND_SCHEDULE: "SampleAndSchedule",
    ActionType.PLAY: "Play",
    ActionType.PAUSE: "Pause",
    ActionType.STOP: "Stop",
    ActionType.SEEK: "Seek",
    ActionType.AUDITION: "Audition",
    ActionType.NOTIFY: "Notify",
}


def describe_action(action: Action) -> str:
    """The action's name as in the seed (`SampleAndSchedule`), or `callback <name>`."""
    if isinstance(action, CallbackAction):
        return f"callback {action.name}"
    return _ACTION_NAMES[action.kind]


def describe_rule(rule: Rule) -> str:
    """One summary line: `Deadline(beat=256) → Sample (high priority, pending)`.

    Notes in parentheses, in this order and only when they say something: the priority when not
    normal; for deadline rules "pending" until the rule has fired, then "fired"; "once" for other
    one-shot rules; "disabled" when disabled.
    """
    notes: list[str] = []
    if rule.priority is not Priority.NORMAL:
        notes.append(f"{rule.priority.value} priority")
    if isinstance(rule.trigger, DeadlineTrigger):
        notes.append("pending" if rule.fired_count == 0 else "fired")
    elif rule.one_shot:
        notes.append("once")
    if not rule.enabled:
        notes.append("disabled")
    text = f"{describe_trigger(rule.trigger)} → {describe_action(rule.action)}"
    return f"{text} ({', '.join(notes)})" if notes else text


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True, slots=True, kw_only=True)
class BeatCrossed:
    """The clock passed integer beat `beat`; `target_time` is its ideal monotonic time (seconds)."""

    beat: int
    target_time: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkerHit:
    """The transport reached the marker `name` at `beat`."""

    name: str
    beat: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactSeen:
    """A new artifact appeared (ArtifactCreated broadcast)."""

    artifact_id: ArtifactId
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFinished:
    """A generation job reached a final state ("complete", "failed", "cancelled" ...)."""

    job_id: JobId
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportChanged:
    """The transport entered `state`."""

    state: TransportState


Event: TypeAlias = BeatCrossed | MarkerHit | ArtifactSeen | JobFinished | TransportChanged
