"""sessions() and history(): what the store keeps beyond the current view (SPEC §4.2).

`sessions()` lists every stored session with its last use (newest first, the current one marked);
`history(n=20, kind=None)` reads the current session's history from the store, newest first, so an
agent that lost its context can see what happened before the summary's few lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

from vibeweaver.dsl.context import DslError, current
from vibeweaver.persistence.records import HistoryRecord, SessionRecord
from vibeweaver.persistence.summary import ago, history_line

__all__ = ["HistoryEntry", "HistoryList", "SessionInfo", "SessionList", "history", "sessions"]

MAX_HISTORY = 1000
"""The most rows one history() call returns."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One stored session: `session(load=info.name)` switches to it."""

    name: str
    id: str
    vibe: str | None
    tempo_bpm: float
    last_used_at: str | None
    """ISO-8601 UTC; None for a session not used since this was recorded."""
    current: bool

    @classmethod
    def of(cls, record: SessionRecord, *, current: bool) -> SessionInfo:
        return cls(
            name=record.name,
            id=record.id,
            vibe=record.vibe,
            tempo_bpm=record.tempo_bpm,
            last_used_at=record.last_used_at or record.updated_at,
            current=current,
        )

    def __repr__(self) -> str:
        parts = ["current" if self.current else f"last used {ago(self.last_used_at)}"]
        parts.append(f"{round(self.tempo_bpm, 1):g} BPM")
        if self.vibe:
            vibe = self.vibe if len(self.vibe) <= 60 else self.vibe[:59] + "…"
            parts.append(repr(vibe))
        return f"<session {self.name!r}: {', '.join(parts)}>"


class SessionList:
    """Every stored session, most recently used first (`sessions()[0]`, `sessions()["jam"]`)."""

    def __init__(self, items: list[SessionInfo]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[SessionInfo]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, key: int | str) -> SessionInfo: ...
    @overload
    def __getitem__(self, key: slice) -> list[SessionInfo]: ...
    def __getitem__(self, key: int | str | slice) -> SessionInfo | list[SessionInfo]:
        if isinstance(key, str):
            for item in self._items:
                if item.name == key:
                    return item
            raise KeyError(f"no session {key!r}")
        return self._items[key]

    @property
    def names(self) -> list[str]:
        return [item.name for item in self._items]

    def __repr__(self) -> str:
        head = (
            f"{len(self._items)} session{'s' if len(self._items) != 1 else ''} "
            "(most recently used first; session(load=name) switches):"
        )
        return "\n".join([head, *(f"  {item!r}" for item in self._items)])


def sessions() -> SessionList:
    """Every stored session with its last use, most recently used first."""
    ctx = current()
    records = ctx.store.list_sessions()
    infos = [SessionInfo.of(record, current=record.id == ctx.session.id) for record in records]
    infos.sort(key=lambda info: (info.current, info.last_used_at or ""), reverse=True)
    return SessionList(infos)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One thing that happened in the session: an action (`sample(...)`, `marker(...)`, a rule's
    `notify(...)`), an eval's code, a callback's output, a kernel restart ..."""

    id: int
    action: str
    params: str | None
    result: str | None
    success: bool
    at: str
    """When, ISO-8601 UTC."""

    @classmethod
    def of(cls, record: HistoryRecord) -> HistoryEntry:
        return cls(
            id=record.id,
            action=record.action,
            params=record.params,
            result=record.result,
            success=record.success,
            at=record.created_at,
        )

    @property
    def kind(self) -> str:
        """The action's name: `sample` for `sample(orpheus_loops, "kick")`, `callback` for a
        callback's output (what history(kind=...) filters on)."""
        return self.action.split("(", 1)[0].split(" ", 1)[0]

    def __repr__(self) -> str:
        record = HistoryRecord(
            id=self.id,
            session_id="",  # type: ignore[arg-type]
            action=self.action,
            params=self.params,
            result=self.result,
            success=self.success,
            created_at=self.at,
        )
        return f"<#{self.id} {ago(self.at)}: {history_line(record)}>"


class HistoryList:
    """History entries, newest first (`history()[0]` is the latest)."""

    def __init__(self, items: list[HistoryEntry], *, session: str, kind: str | None) -> None:
        self._items = items
        self.session = session
        self.kind = kind

    def __iter__(self) -> Iterator[HistoryEntry]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, key: int) -> HistoryEntry: ...
    @overload
    def __getitem__(self, key: slice) -> list[HistoryEntry]: ...
    def __getitem__(self, key: int | slice) -> HistoryEntry | list[HistoryEntry]:
        return self._items[key]

    def __repr__(self) -> str:
        of_kind = f" of kind {self.kind!r}" if self.kind else ""
        if not self._items:
            return f"No history{of_kind} in session {self.session!r} yet."
        head = (
            f"{len(self._items)} newest history entr{'ies' if len(self._items) != 1 else 'y'}"
            f"{of_kind} of session {self.session!r}, newest first:"
        )
        return "\n".join([head, *(f"  {item!r}" for item in self._items)])


def history(n: int = 20, kind: str | None = None) -> HistoryList:
    """The current session's `n` newest history entries (at most 1000), newest first; `kind`
    keeps one kind of entry: "sample", "schedule", "marker", "eval", "callback", "notify" ..."""
    ctx = current()
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_HISTORY:
        raise DslError(f"history(): n must be an integer from 1 to {MAX_HISTORY}, not {n!r}")
    if kind is not None and (not isinstance(kind, str) or not kind.strip()):
        raise DslError(f"history(): kind must be a non-empty string or None, not {kind!r}")
    wanted = None if kind is None else kind.strip()
    records = ctx.store.history(ctx.session.id, limit=n, kind=wanted)
    return HistoryList(
        [HistoryEntry.of(record) for record in records], session=ctx.session.name, kind=wanted
    )
