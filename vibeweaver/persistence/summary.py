"""The context-restoration summary of a session (SPEC §4.5), rendered from plain records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from vibeweaver.persistence.records import HistoryRecord, MarkerRecord, RuleRecord, SessionRecord
from vibeweaver.scheduling.rules import RuleRecordError, describe_rule, rule_from_record

MAX_HISTORY_LINES = 10
MAX_PARAM_TEXT = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockLine:
    """The transport as the summary shows it."""

    state: str
    beat: float


def render_summary(
    session: SessionRecord,
    *,
    rules: Sequence[RuleRecord],
    markers: Sequence[MarkerRecord],
    history: Sequence[HistoryRecord],
    clock: ClockLine | None = None,
    notes: Sequence[str] = (),
    lateness: str | None = None,
) -> str:
    """Session, vibe, tempo/transport, active and disabled rules, markers, notes, recent history."""
    lines = [f"Session: {session.name}"]
    if session.vibe:
        lines.append(f"Vibe: {session.vibe}")
    tempo = f"Tempo: {session.tempo_bpm:g} BPM"
    if clock is not None:
        tempo += f" · transport {clock.state} at beat {clock.beat:.1f}"
    lines.append(tempo)
    if lateness:
        lines.append(f"Timing: {lateness}")

    active = [rule for rule in rules if rule.enabled]
    disabled = [rule for rule in rules if not rule.enabled]
    lines.append("")
    lines.append(f"Active Rules: {len(active)}")
    lines.extend(f"  - {_describe(rule)}" for rule in active)
    if disabled:
        lines.append(f"Disabled Rules: {len(disabled)}")
        for rule in disabled:
            reason = _disabled_reason(rule)
            lines.append(f"  - {_describe(rule)}" + (f" — {reason}" if reason else ""))

    lines.append("")
    if markers:
        lines.append("Markers: " + ", ".join(f"{m.name}@{m.beat:g}" for m in markers))
    else:
        lines.append("Markers: none")

    if notes:
        lines.append("")
        lines.append("Notifications:")
        lines.extend(f"  - {note}" for note in notes)

    lines.append("")
    lines.append("Recent History:")
    if history:
        lines.extend(f"  - {_history_line(entry)}" for entry in history[-MAX_HISTORY_LINES:])
    else:
        lines.append("  (nothing yet)")
    return "\n".join(lines)


def _describe(record: RuleRecord) -> str:
    try:
        return describe_rule(rule_from_record(record))
    except RuleRecordError as exc:
        return f"{record.trigger_type} → {record.action_type} (unreadable: {exc})"


def _disabled_reason(record: RuleRecord) -> str | None:
    try:
        params = json.loads(record.action_params)
    except ValueError:
        return None
    reason = params.get("disabled_reason") if isinstance(params, dict) else None
    return str(reason) if reason else None


def _history_line(entry: HistoryRecord) -> str:
    mark = "✓" if entry.success else "✗"
    text = entry.action
    if entry.params:
        text += f"({_clip(entry.params)})"
    if entry.result:
        text += f" → {_clip(entry.result)}"
    return f"{text} {mark}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_PARAM_TEXT else text[: MAX_PARAM_TEXT - 1] + "…"
