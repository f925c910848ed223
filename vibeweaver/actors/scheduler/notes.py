"""SessionNotes: the notifications the session summary shows, kept per session (SPEC §4.5).

A note belongs to the session it is about (a Notify rule's, a latent's, a snapshot's), so another
session's summary never shows it. A note may carry a key (`latent:<rule id>`): a later note with
the same key replaces it (an at-risk latent that then failed), and `resolve(key)` removes it (an
at-risk latent that finished on time after all: the notice is no longer true). Each session keeps
its newest `limit` notes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


def latent_note_key(rule_id: str) -> str:
    """The key of the notes about one latent (its at-risk report, its late or failed end)."""
    return f"latent:{rule_id}"


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    key: str | None = None


class SessionNotes:
    """Bounded notes per session; see the module docstring. Owned by the scheduler's thread."""

    __slots__ = ("_by_session", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"notes limit must be >= 1, got {limit}")
        self.limit = limit
        self._by_session: dict[str | None, deque[Note]] = {}

    def add(self, session_id: str | None, text: str, key: str | None = None) -> None:
        """Append a note to `session_id`'s (replacing that session's note with the same key)."""
        notes = self._by_session.setdefault(session_id, deque(maxlen=self.limit))
        if key is not None:
            self._drop(notes, key)
        notes.append(Note(text, key))

    def resolve(self, key: str, session_id: str | None = None) -> bool:
        """Remove the notes with `key` (of one session, or of all); True if any was there."""
        removed = False
        for sid, notes in self._by_session.items():
            if session_id is None or sid == session_id:
                removed = self._drop(notes, key) or removed
        return removed

    def of(self, session_id: str | None) -> tuple[str, ...]:
        """The session's notes, oldest first."""
        return tuple(note.text for note in self._by_session.get(session_id, ()))

    def __len__(self) -> int:
        return sum(len(notes) for notes in self._by_session.values())

    @staticmethod
    def _drop(notes: deque[Note], key: str) -> bool:
        kept = [note for note in notes if note.key != key]
        if len(kept) == len(notes):
            return False
        notes.clear()
        notes.extend(kept)
        return True
