"""Pure rendering of the admin JSON: the actor table, the system summary and the detail view.

Shared by `vibeweaver status` (plain text) and `vibeweaver console` (Textual): both get the same
columns, the same number formats and the same idea of a *stuck* actor (a message running longer
than a second, or a queued message older than a second). Nothing here does I/O; every function
takes the decoded JSON and returns strings, so it is tested without a service or a terminal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from vibeweaver.kernel.stack import frame_text

STUCK_MS = 1000.0
"""A current message running longer than this, or a queued one older than this, is stuck."""

Actor = Mapping[str, Any]
Level = Literal["ok", "stuck", "trouble", "down"]


# -- number formats -------------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    """A duration given in ms, in at most 5 characters below 100 days: 850µs, 850ms, 3.1s, 42s,
    9m05s, 12m, 3.1h, 1.2d."""
    if value is None:
        return "-"
    if value < 0.9995:  # (what would round to 1000µs is 1ms)
        return f"{value * 1000.0:.0f}µs"
    if value < 999.5:
        return f"{value:.0f}ms"
    seconds = value / 1000.0
    if seconds < 10.0:
        return f"{seconds:.1f}s"
    if seconds < 60.0:
        return f"{seconds:.0f}s"
    if seconds < 3600.0:
        whole = round(seconds)
        if whole < 600:
            return f"{whole // 60}m{whole % 60:02d}s"
        return f"{whole // 60}m"
    if seconds < 86400.0:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def fmt_s(value: float | None) -> str:
    """A duration given in seconds (uptimes, ages)."""
    return "-" if value is None else fmt_ms(value * 1000.0)


def fmt_count(value: int | float | None) -> str:
    """An integer in at most 6 characters: 999999, 1.2M, 34M."""
    if value is None:
        return "-"
    number = float(value)
    if abs(number) < 1_000_000:
        return f"{number:.0f}"
    if abs(number) < 10_000_000:
        return f"{number / 1e6:.1f}M"
    if abs(number) < 1e9:
        return f"{number / 1e6:.0f}M"
    return f"{number / 1e9:.1f}G"


def fmt_rate(value: float | None) -> str:
    """Messages per second."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.1f}"
    return fmt_count(round(value))


def fmt_bytes(value: int | None) -> str:
    """A size in B, KB, MB, GB."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover - the loop always returns


def clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, with an ellipsis when something was cut."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…"


# -- the actor table ------------------------------------------------------------------------------


def is_stuck(actor: Actor, threshold_ms: float = STUCK_MS) -> bool:
    """True when the actor's current message has run, or its oldest queued message has waited,
    longer than `threshold_ms`."""
    running = actor.get("current_message_ms")
    oldest = actor.get("oldest_message_age_ms")
    return (running is not None and running > threshold_ms) or (
        oldest is not None and oldest > threshold_ms
    )


def row_level(actor: Actor, threshold_ms: float = STUCK_MS) -> Level:
    """How a row is highlighted: down (failed/stopped), stuck, trouble (restarting), or ok."""
    state = actor.get("state")
    if state in ("failed", "stopped"):
        return "down"
    if is_stuck(actor, threshold_ms):
        return "stuck"
    if state in ("restarting", "starting", "stopping"):
        return "trouble"
    return "ok"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the actor table."""

    key: str
    title: str
    width: int
    priority: int
    """Columns with the highest priority number are dropped first when the screen is narrow."""
    cell: Callable[[Actor, Mapping[str, float]], str]
    sort_value: Callable[[Actor, Mapping[str, float]], Any]
    align: Literal["left", "right"] = "right"
    descending: bool = True
    """Default sort direction: biggest first for numbers, A-Z for names."""
    flexible: bool = False
    """Takes the width left over (at least `width`)."""


def _number(key: str) -> Callable[[Actor, Mapping[str, float]], float]:
    def value(actor: Actor, rates: Mapping[str, float]) -> float:
        raw = actor.get(key)
        return -1.0 if raw is None else float(raw)

    return value


def _name_cell(actor: Actor, rates: Mapping[str, float]) -> str:
    return ("!" if is_stuck(actor) else " ") + str(actor.get("name", "?"))


def _current_cell(actor: Actor, rates: Mapping[str, float]) -> str:
    label = actor.get("current_message")
    return "-" if label is None else str(label)


STATE_LABELS = {"starting": "start", "restarting": "restart", "stopping": "stop"}
"""Short forms that keep the STATE column at 7 characters (so every column fits 80)."""


def _state_cell(actor: Actor, rates: Mapping[str, float]) -> str:
    raw = actor.get("state")
    return "-" if raw is None else STATE_LABELS.get(str(raw), str(raw))


def _rate_cell(actor: Actor, rates: Mapping[str, float]) -> str:
    return fmt_rate(rates.get(str(actor.get("name"))))


def _text(key: str) -> Callable[[Actor, Mapping[str, float]], str]:
    def value(actor: Actor, rates: Mapping[str, float]) -> str:
        raw = actor.get(key)
        return "-" if raw is None else str(raw)

    return value


def _count(key: str) -> Callable[[Actor, Mapping[str, float]], str]:
    def value(actor: Actor, rates: Mapping[str, float]) -> str:
        return fmt_count(actor.get(key))

    return value


def _duration(key: str) -> Callable[[Actor, Mapping[str, float]], str]:
    def value(actor: Actor, rates: Mapping[str, float]) -> str:
        return fmt_ms(actor.get(key))

    return value


def _lower_text(key: str) -> Callable[[Actor, Mapping[str, float]], str]:
    def value(actor: Actor, rates: Mapping[str, float]) -> str:
        raw = actor.get(key)
        return "" if raw is None else str(raw).lower()

    return value


COLUMNS: tuple[Column, ...] = (
    Column("name", " ACTOR", 11, 0, _name_cell, _lower_text("name"), "left", descending=False),
    Column("state", "STATE", 7, 0, _state_cell, _lower_text("state"), "left", descending=False),
    Column("mailbox_depth", "MBOX", 4, 0, _count("mailbox_depth"), _number("mailbox_depth")),
    Column(
        "mailbox_high_water",
        "HIGH",
        4,
        2,
        _count("mailbox_high_water"),
        _number("mailbox_high_water"),
    ),
    Column(
        "oldest_message_age_ms",
        "OLDEST",
        6,
        0,
        _duration("oldest_message_age_ms"),
        _number("oldest_message_age_ms"),
    ),
    Column(
        "current_message",
        "CURRENT",
        8,
        0,
        _current_cell,
        _lower_text("current_message"),
        "left",
        descending=False,
    ),
    Column(
        "current_message_ms",
        "RUN",
        5,
        0,
        _duration("current_message_ms"),
        _number("current_message_ms"),
    ),
    Column("handled", "HANDLED", 7, 1, _count("handled"), _number("handled")),
    Column(
        "rate",
        "MSG/S",
        6,
        3,
        _rate_cell,
        lambda actor, rates: rates.get(str(actor.get("name")), -1.0),
    ),
    Column("failed", "FAIL", 4, 1, _count("failed"), _number("failed")),
    Column("restarts", "RST", 3, 1, _count("restarts"), _number("restarts")),
    Column("queued_asks", "ASKS", 4, 2, _count("queued_asks"), _number("queued_asks")),
    Column("dead_letters", "DEAD", 4, 2, _count("dead_letters"), _number("dead_letters")),
    Column(
        "last_error",
        "LAST ERROR",
        14,
        5,
        _text("last_error"),
        _lower_text("last_error"),
        "left",
        descending=False,
        flexible=True,
    ),
)
COLUMN_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)
SORT_KEYS: tuple[str, ...] = ("start", *COLUMN_KEYS)
"""What the table can be sorted by: "start" is the service's start order."""


def columns_for_width(width: int, *, with_rates: bool = True) -> list[Column]:
    """The columns that fit in `width` characters (one space between columns), in display order;
    the flexible column (last error) gets whatever width is left."""
    candidates = [c for c in COLUMNS if with_rates or c.key != "rate"]
    chosen = list(candidates)
    while len(chosen) > 1 and _table_width(chosen) > width:
        drop = max(chosen, key=lambda c: (c.priority, COLUMNS.index(c)))
        chosen.remove(drop)
    flexible = [c for c in chosen if c.flexible]
    if flexible:
        spare = width - _table_width(chosen)
        column = flexible[0]
        index = chosen.index(column)
        chosen[index] = Column(
            column.key,
            column.title,
            column.width + max(0, spare),
            column.priority,
            column.cell,
            column.sort_value,
            column.align,
            column.descending,
            column.flexible,
        )
    return chosen


def _table_width(columns: Sequence[Column]) -> int:
    return sum(c.width for c in columns) + max(0, len(columns) - 1)


def pad(text: str, column: Column) -> str:
    """`text` clipped and padded to the column's width and alignment."""
    text = clip(text, column.width)
    return text.ljust(column.width) if column.align == "left" else text.rjust(column.width)


def header_cells(columns: Sequence[Column]) -> list[str]:
    """The padded column titles."""
    return [pad(column.title, column) for column in columns]


def row_cells(
    actor: Actor, columns: Sequence[Column], rates: Mapping[str, float] | None = None
) -> list[str]:
    """The padded cells of one actor's row."""
    rates = rates or {}
    return [pad(column.cell(actor, rates), column) for column in columns]


def sort_actors(
    actors: Sequence[Actor],
    key: str = "start",
    *,
    reverse: bool = False,
    rates: Mapping[str, float] | None = None,
) -> list[Actor]:
    """Actors ordered by a column (its natural direction, flipped by `reverse`), ties in start
    order; "start" keeps the service's order."""
    rates = rates or {}
    if key == "start":
        return list(reversed(actors)) if reverse else list(actors)
    column = next((c for c in COLUMNS if c.key == key), None)
    if column is None:
        raise ValueError(f"cannot sort by {key!r}; choose one of {', '.join(SORT_KEYS)}")
    descending = column.descending != reverse
    indexed = list(enumerate(actors))
    indexed.sort(key=lambda pair: pair[0])
    indexed.sort(key=lambda pair: column.sort_value(pair[1], rates), reverse=descending)
    return [actor for _, actor in indexed]


def rates_between(
    previous: Sequence[Actor] | None, current: Sequence[Actor], elapsed_s: float
) -> dict[str, float]:
    """Handled messages per second of each actor between two snapshots `elapsed_s` apart."""
    if not previous or elapsed_s <= 0:
        return {}
    before = {str(a.get("name")): a.get("handled") for a in previous}
    rates: dict[str, float] = {}
    for actor in current:
        name = str(actor.get("name"))
        then, now = before.get(name), actor.get("handled")
        if isinstance(then, int) and isinstance(now, int) and now >= then:
            rates[name] = (now - then) / elapsed_s
    return rates


def stuck_summary(actors: Sequence[Actor], width: int = 80) -> str | None:
    """One line naming the stuck actors and why, or None when nothing is stuck."""
    parts = []
    for actor in actors:
        if not is_stuck(actor):
            continue
        name = actor.get("name", "?")
        label, running = actor.get("current_message"), actor.get("current_message_ms")
        if label is not None and running is not None and running > STUCK_MS:
            parts.append(f"{name} ({label} running {fmt_ms(running)})")
        else:
            parts.append(f"{name} (oldest queued {fmt_ms(actor.get('oldest_message_age_ms'))})")
    if not parts:
        return None
    return clip("stuck: " + ", ".join(parts), width)


def last_error_lines(actors: Sequence[Actor], width: int = 80) -> list[str]:
    """`name: last error` of each actor that has one (for a screen too narrow for the column)."""
    return [
        clip(f"  {actor.get('name', '?')}: {actor['last_error']}", width)
        for actor in actors
        if actor.get("last_error")
    ]


def render_table(
    actors: Sequence[Actor],
    *,
    width: int = 80,
    sort: str = "start",
    reverse: bool = False,
    rates: Mapping[str, float] | None = None,
) -> list[str]:
    """The actor table as plain text lines (header first), at most `width` characters each."""
    columns = columns_for_width(width, with_rates=rates is not None)
    lines = [" ".join(header_cells(columns)).rstrip()]
    for actor in sort_actors(actors, sort, reverse=reverse, rates=rates):
        lines.append(" ".join(row_cells(actor, columns, rates)).rstrip())
    return lines


# -- system summary -------------------------------------------------------------------------------


def session_text(system: Mapping[str, Any]) -> str:
    """The session as `name` (or its id)."""
    session = system.get("session")
    if not isinstance(session, Mapping):
        return "-"
    return str(session.get("name") or session.get("id") or "-")


def summary_line(system: Mapping[str, Any], address: str, width: int = 80) -> str:
    """One line: where, how long up, which session, how many dead letters."""
    dead = system.get("dead_letters") or {}
    parts = [
        f"vibeweaver {address}",
        f"up {fmt_s(system.get('uptime_s'))}",
        f"session {session_text(system)}",
        f"dead letters {dead.get('total', 0)}",
    ]
    state = system.get("state")
    if state and state != "running":
        parts.insert(1, str(state))
    return clip(" · ".join(parts), width)


def render_system(system: Mapping[str, Any], *, width: int = 80) -> list[str]:
    """The system view: session, database, rules, kernel, sockets and recent dead letters."""
    lines: list[str] = []
    session = system.get("session") if isinstance(system.get("session"), Mapping) else {}
    assert isinstance(session, Mapping)
    lines.append(
        f"session {session_text(system)} ({session.get('id', '-')})"
        f" · up {fmt_s(system.get('uptime_s'))} · pid {system.get('pid', '-')}"
        f" · {system.get('state', '-')}"
    )
    database = system.get("database") or {}
    lines.append(
        f"database {database.get('path') or database.get('url') or '-'}"
        f" · {fmt_bytes(database.get('size_bytes'))}"
    )
    if database.get("write_error"):
        lines.append(
            clip(
                f"  WRITES FAILING ({fmt_count(database.get('pending_writes'))} pending, "
                f"{fmt_count(database.get('dropped_writes'))} dropped): "
                f"{database['write_error']}",
                width,
            )
        )
    rules = system.get("rules") or {}
    kernel = system.get("kernel") or {}
    rule_text = f"rules {rules.get('total', 0)} ({rules.get('enabled', 0)} enabled)"
    if "execution_count" in kernel:
        rule_text += f" · kernel executions {kernel['execution_count']}"
    clock = system.get("clock")
    if isinstance(clock, Mapping) and clock:
        rule_text += " · clock " + " ".join(f"{k}={v}" for k, v in list(clock.items())[:3])
    lines.append(rule_text)
    sockets = system.get("sockets") or []
    if sockets:
        lines.append("sockets:")
        for sock in sockets:
            lines.append(
                f"  {sock.get('name', '?'):<7} {sock.get('kind', ''):<13}"
                f" {sock.get('endpoint', '')}"
                f"  in {fmt_count(sock.get('received'))} out {fmt_count(sock.get('sent'))}"
                + (f" drop {fmt_count(sock.get('dropped'))}" if sock.get("dropped") else "")
                + (f" err {fmt_count(sock.get('errors'))}" if sock.get("errors") else "")
                + f"  seen {_ago(sock.get('last_seen_age_s'))}"
            )
    else:
        lines.append("sockets: none (ZeroMQ disabled)")
    dead = system.get("dead_letters") or {}
    by_actor = dead.get("by_actor") or {}
    detail = ", ".join(f"{name} {count}" for name, count in sorted(by_actor.items()))
    lines.append(f"dead letters {dead.get('total', 0)}" + (f" ({detail})" if detail else ""))
    for letter in list(dead.get("recent") or [])[-5:][::-1]:
        at = letter.get("at")
        stamp = _clock(at) or "?"
        lines.append(
            f"  {stamp} {letter.get('actor', '?')} {letter.get('message', '?')}"
            f" ({letter.get('reason', '?')})"
        )
    return [clip(line, width) for line in lines]


def _clock(at: Any) -> str:
    """A wall-clock timestamp as HH:MM:SS local time ("" when missing)."""
    if not isinstance(at, (int, float)):
        return ""
    return time.strftime("%H:%M:%S", time.localtime(at))


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{fmt_s(seconds)} ago"


# -- the detail view ------------------------------------------------------------------------------


def render_detail(detail: Mapping[str, Any], *, width: int = 80, stack_lines: int = 8) -> list[str]:
    """One actor's detail view, most urgent first: current message, mailbox, counts, last
    error, queued messages, the thread's stack (innermost frame last), per-type timings, recent
    messages."""
    lines: list[str] = []
    lines.append(
        f"{detail.get('name', '?')} ({detail.get('actor_class') or '?'})"
        f" · {detail.get('state', '?')}"
        f" · thread {detail.get('thread') or '-'} · up {fmt_s(detail.get('uptime_s'))}"
    )
    current = detail.get("current_message")
    if current is None:
        lines.append("current: idle")
    else:
        kind = detail.get("current_message_kind")
        lines.append(
            f"current: {current}{f' ({kind})' if kind else ''}"
            f" running {fmt_ms(detail.get('current_message_ms'))}"
            + ("  << STUCK" if is_stuck(detail) else "")
        )
    if detail.get("in_hand"):
        lines.append(f"in hand: {detail['in_hand']} (asks answered when its work is done)")
    published = detail.get("published") or {}
    if isinstance(published, Mapping) and published.get("kernel_pid") is not None:
        death = published.get("kernel_last_death")
        lines.append(
            f"kernel pid {published['kernel_pid']} · restarts {published.get('kernel_restarts', 0)}"
            + (f" · last death {death}" if death else "")
        )
    if detail.get("eval_where"):
        lines.append(f"eval at: {detail['eval_where']}")
    wait = detail.get("mailbox_wait") or {}
    lines.append(
        f"mailbox {detail.get('mailbox_depth', 0)} ({detail.get('queued_asks', 0)} asks)"
        f" · oldest {fmt_ms(detail.get('oldest_message_age_ms'))}"
        f" · high {detail.get('mailbox_high_water', 0)}"
        f" · wait p50 {fmt_ms(wait.get('p50_ms'))} p95 {fmt_ms(wait.get('p95_ms'))}"
        f" max {fmt_ms(wait.get('max_ms'))}"
    )
    handled = detail.get("handled", 0)
    asks = detail.get("handled_asks")
    lines.append(
        f"handled {handled}"
        + (f" ({asks} asks, {detail.get('handled_tells', 0)} tells)" if asks is not None else "")
        + f" · failed {detail.get('failed', 0)} · restarts {detail.get('restarts', 0)}"
        f" · dead letters {detail.get('dead_letters', 0)}"
    )
    error = detail.get("last_error")
    if error:
        at = detail.get("last_error_at")
        stamp = _clock(at)
        lines.append(f"last error {stamp}: {error}")
        traceback_text = str(detail.get("last_error_traceback") or "")
        for line in traceback_text.rstrip("\n").splitlines()[-6:]:
            lines.append("  " + line.strip())
    queued = list(detail.get("queued_messages") or [])
    depth = detail.get("mailbox_depth", len(queued))
    if queued:
        runs: list[list[Any]] = []
        for item in queued:
            text = _queued_text(item)
            if runs and runs[-1][0] == text:
                runs[-1][1] += 1
            else:
                runs.append([text, 1])
        shown = ", ".join(text if n == 1 else f"{text} ×{n}" for text, n in runs)
        more = ""
        if isinstance(depth, int) and depth > len(queued):
            more = f" (first {len(queued)} of {depth})"
        lines.append(f"queued{more}: {shown}")
    stack = stack_text(detail.get("stack") or [])
    if stack:
        lines.append("stack (innermost last):")
        lines.extend("  " + line for line in stack[-stack_lines:])
    if "eval_stack" in detail:
        lines.extend(eval_stack_lines(detail, stack_lines=stack_lines))
    types = detail.get("message_types") or {}
    if types:
        lines.append(
            f"  {'MESSAGE TYPE':<24} {'COUNT':>7} {'FAIL':>5} {'P50':>7} {'P95':>7} {'MAX':>7}"
        )
        for label, stats in sorted(types.items(), key=lambda item: -int(item[1].get("count", 0))):
            lines.append(
                f"  {clip(label, 24):<24} {fmt_count(stats.get('count')):>7}"
                f" {fmt_count(stats.get('failed')):>5} {fmt_ms(stats.get('p50_ms')):>7}"
                f" {fmt_ms(stats.get('p95_ms')):>7} {fmt_ms(stats.get('max_ms')):>7}"
            )
    recent = list(detail.get("recent_messages") or [])
    if recent:
        lines.append("recent (newest first):")
        for item in recent[:8]:
            status = "ok" if item.get("ok") else "FAILED"
            ago = item.get("ago_s")
            lines.append(
                f"  {clip(str(item.get('type', '?')), 24):<24} {fmt_ms(item.get('duration_ms')):>7}"
                f" {status:<6} {_ago(ago) if ago is not None else ''}"
            )
    return [clip(line, width) for line in lines]


_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>.+)')


def stack_text(frames: Sequence[Any]) -> list[str]:
    """`traceback.format_stack` entries as short lines: `file.py:56 in evaluate: <code>`."""
    lines = []
    for entry in frames:
        parts = [part.strip() for part in str(entry).splitlines() if part.strip()]
        if not parts:
            continue
        match = _FRAME.match(parts[0])
        if match is None:
            lines.append(" ".join(parts))
            continue
        where = f"{PurePath(match['path']).name}:{match['line']} in {match['function']}"
        lines.append(where + (f": {parts[1]}" if len(parts) > 1 else ""))
    return lines


def eval_stack_lines(detail: Mapping[str, Any], *, stack_lines: int = 8) -> list[str]:
    """The eval thread's stack (innermost last), user frames marked `▶`: every user frame (up to
    `stack_lines` - 1, innermost kept) plus the innermost frames, gaps shown as `… N frames`."""
    frames = [entry for entry in detail.get("eval_stack") or [] if isinstance(entry, Mapping)]
    thread = detail.get("eval_thread") or "-"
    if not frames:
        return [f"eval thread {thread}: no stack (not running)"]
    lines = [f"eval thread {thread} (innermost last, ▶ user code):"]
    user = [index for index, entry in enumerate(frames) if entry.get("user")]
    user = user[-(stack_lines - 1) :] if stack_lines > 1 else []
    room = max(1, stack_lines - len(user))
    shown = sorted(set(user) | set(range(max(0, len(frames) - room), len(frames))))
    omitted = detail.get("eval_stack_omitted")
    skipped = omitted if isinstance(omitted, int) else 0
    previous = -1
    for index in shown:
        skipped += index - previous - 1
        if skipped:
            lines.append(f"  … {skipped} frame{'s' if skipped != 1 else ''}")
            skipped = 0
        entry = frames[index]
        lines.append(("  ▶ " if entry.get("user") else "    ") + frame_text(entry))
        previous = index
    return lines


def _queued_text(item: Any) -> str:
    if isinstance(item, Mapping):
        kind = item.get("kind")
        return f"{item.get('type', '?')}" + (f"[{kind}]" if kind == "ask" else "")
    return str(item)
