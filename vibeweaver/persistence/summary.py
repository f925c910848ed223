"""The context-restoration summary of a session (SPEC §4.5), rendered from plain records.

It is what an agent reads after losing its context, so it stays short whatever the session holds:
about 60 lines at most (rules listed one by one when few, else grouped by trigger and action with
counts; a few markers, notifications and actions), every line clipped, numbers rounded, and
`rules()`, `timeline.markers`, `history()` and `sessions()` named for the rest. Everything in it
belongs to the current session; one line names the other stored sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vibeweaver.persistence.disabled_reason import disabled_reason
from vibeweaver.persistence.records import HistoryRecord, RuleGroup, RuleRecord, SummaryData
from vibeweaver.scheduling.rules import (
    RuleRecordError,
    describe_rule,
    describe_trigger,
    rule_from_record,
)

MAX_PARAM_TEXT = 60
MAX_LINE = 200
"""Every line is clipped to this many characters (names may be 256, messages 4 KB)."""
NOTES_SHOWN = 8
TRIGGER_NAMES = {
    "beat": "Beat",
    "marker": "Marker",
    "deadline": "Deadline",
    "artifact": "Artifact",
    "job_complete": "JobComplete",
    "transport": "Transport",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockLine:
    """The transport as the summary shows it."""

    state: str
    beat: float


def render_summary(
    data: SummaryData,
    *,
    clock: ClockLine | None = None,
    notes: Sequence[str] = (),
    lateness: str | None = None,
    now: datetime | None = None,
) -> str:
    """Session, vibe, tempo/transport, timing, other sessions, rules, markers, notifications
    (the current session's only) and recent actions; see the module docstring."""
    session = data.session
    lines = [f"Session: {session.name}"]
    if session.vibe:
        lines.append(f"Vibe: {session.vibe}")
    tempo = f"Tempo: {_round(session.tempo_bpm)} BPM"
    if clock is not None:
        tempo += f" · transport {clock.state} at beat {clock.beat:.1f}"
    lines.append(tempo)
    if lateness:
        lines.append(f"Timing: {lateness}")
    if data.other_sessions:
        shown = [
            f"{_clip(other.name)} ({ago(other.last_used_at or other.updated_at, now)})"
            for other in data.other_sessions
        ]
        lines.append(_listing("Other sessions: ", shown, data.other_session_count, "sessions()"))

    lines.append("")
    lines.extend(_rules(data))

    lines.append("")
    if data.markers:
        shown = [f"{_clip(m.name)}@{_round(m.beat, 2)}" for m in data.markers]
        lines.append(_listing("Markers: ", shown, data.marker_count, "timeline.markers"))
    else:
        lines.append("Markers: none")

    if notes:
        lines.append("")
        lines.append("Notifications:")
        older = len(notes) - NOTES_SHOWN
        if older > 0:
            lines.append(f"  ({older} older not shown)")
        lines.extend(f"  - {note}" for note in notes[-NOTES_SHOWN:])

    lines.append("")
    lines.append("Recent History:")
    if data.actions:
        lines.extend(f"  - {history_line(entry)}" for entry in data.actions)
    last_eval = data.last_eval
    if last_eval is not None and any(entry.id == last_eval.id for entry in data.actions):
        last_eval = None  # a failed eval counts as an action: shown already
    if last_eval is not None:
        lines.append(f"  - last eval: {history_line(last_eval)}")
    if not data.actions and last_eval is None:
        lines.append("  (nothing yet)")
    shown_count = len(data.actions) + (last_eval is not None)
    if data.history_count > shown_count:
        lines.append(f"  ({data.history_count} entries in all: history(n, kind) reads them)")
    return "\n".join(_clip_line(line) for line in lines)


def _rules(data: SummaryData) -> list[str]:
    overview = data.rules
    lines = [f"Active Rules: {overview.active}"]
    if overview.active_rules:
        lines.extend(f"  - {_describe(rule)}" for rule in overview.active_rules)
    elif overview.active_groups:
        for group in overview.active_groups:
            times = f" ×{group.count}" if group.count > 1 else ""
            lines.append(f"  - {_describe_group(group)}{times}")
        rest = overview.active - sum(group.count for group in overview.active_groups)
        if rest > 0:
            groups = overview.active_group_count - len(overview.active_groups)
            by_trigger = ", ".join(
                f"{TRIGGER_NAMES.get(kind, kind)} {count}"
                for kind, count in overview.active_by_trigger
            )
            lines.append(
                f"  - … {rest} more in {groups} group{'s' if groups != 1 else ''} "
                f"(all active rules by trigger: {by_trigger}); rules() lists them"
            )
    if overview.disabled:
        lines.append(f"Disabled Rules: {overview.disabled}")
        for rule in overview.disabled_rules:
            reason = disabled_reason(rule)
            lines.append(f"  - {_describe(rule)}" + (f" — {reason}" if reason else ""))
        more = overview.disabled - len(overview.disabled_rules)
        if more > 0:
            lines.append(f"  - … {more} more: rules() lists them, rules().enable(id) revives one")
    return lines


def _describe(record: RuleRecord) -> str:
    try:
        return describe_rule(rule_from_record(record))
    except RuleRecordError as exc:
        return f"{record.trigger_type} → {record.action_type} (unreadable: {exc})"


def _describe_group(group: RuleGroup) -> str:
    probe = RuleRecord(
        id="group",  # type: ignore[arg-type]
        session_id="group",  # type: ignore[arg-type]
        trigger_type=group.trigger_type,
        trigger_params=group.trigger_params,
        action_type="notify",
        action_params='{"message":"-"}',
    )
    try:
        trigger = describe_trigger(rule_from_record(probe).trigger)
    except RuleRecordError:
        trigger = f"{group.trigger_type} (unreadable)"
    if group.action_type == "callback":
        action = f"callback {group.callback}" if group.callback else "callback"
    else:
        action = "".join(part.capitalize() for part in group.action_type.split("_"))
    return f"{trigger} → {action}"


def history_line(entry: HistoryRecord) -> str:
    """One history entry as the summary and history() show it: `action(params) → result ✓`."""
    mark = "✓" if entry.success else "✗"
    text = entry.action
    if entry.params:
        text += f"({_clip(entry.params)})"
    if entry.result:
        text += f" → {_clip(entry.result)}"
    return f"{text} {mark}"


def ago(stamp: str | None, now: datetime | None = None) -> str:
    """`just now`, `5 min ago`, `2 h ago`, `3 d ago` for an ISO-8601 timestamp."""
    if not stamp:
        return "never"
    try:
        then = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def _listing(head: str, items: list[str], total: int, where: str) -> str:
    """`head` + as many items as fit in a line, then how many more and where to find them."""
    budget = MAX_LINE - len(head) - 40  # room for the tail
    taken: list[str] = []
    for item in items:
        if taken and sum(len(t) + 2 for t in taken) + len(item) > budget:
            break
        taken.append(item)
    text = head + ", ".join(taken)
    more = total - len(taken)
    if more > 0:
        text += f", … (+{more} more: {where})"
    return text


def _round(value: float, digits: int = 1) -> str:
    return f"{round(value, digits):g}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_PARAM_TEXT else text[: MAX_PARAM_TEXT - 1] + "…"


def _clip_line(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
