"""NotificationBox: the Notify messages waiting for the agent's next weave_eval result (SPEC §4.3).

The RuleScheduler posts into it as its Notify actions run and tells it which session is current;
an eval's answer takes the current session's messages from whatever thread assembles it (the
kernel channel's, as the reply arrives), without a round trip through the scheduler's mailbox:
the box is the agent's inbox, read the way a mailbox is. Messages of other sessions wait for
theirs. Bounded: the newest MAX_NOTIFICATIONS are kept (every one is in history regardless).
A message a rule posts while an eval's answer is being assembled comes with that answer or the
next one, never with neither or both.
"""

from __future__ import annotations

import threading
from collections import deque

from vibeweaver.types import SessionId

MAX_NOTIFICATIONS = 50
"""Notify messages kept for the next weave_eval result; older ones are only in history."""


class NotificationBox:
    """See the module docstring. Thread-safe; every method is quick and never blocks long."""

    def __init__(self, limit: int = MAX_NOTIFICATIONS) -> None:
        self._lock = threading.Lock()
        self._items: deque[tuple[SessionId, str]] = deque(maxlen=limit)
        self._session: SessionId | None = None

    def switch(self, session_id: SessionId | None) -> None:
        """The scheduler's current session changed: `take` takes its messages from now on."""
        with self._lock:
            self._session = session_id

    def post(self, session_id: SessionId, text: str) -> None:
        with self._lock:
            self._items.append((session_id, text))

    def take(self) -> tuple[str, ...]:
        """The current session's messages, oldest first; each is taken once."""
        with self._lock:
            if not self._items:
                return ()
            session = self._session
            mine = tuple(text for owner, text in self._items if owner == session)
            if mine:
                kept = [item for item in self._items if item[0] != session]
                self._items.clear()
                self._items.extend(kept)
            return mine

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
