"""NotificationBox (`vibeweaver.actors.scheduler.notifications`): the current session's Notify
messages are taken once, oldest first; other sessions' wait for theirs; the newest are kept."""

from __future__ import annotations

import threading

from vibeweaver.actors.scheduler.notifications import NotificationBox
from vibeweaver.types import SessionId

A, B = SessionId("a"), SessionId("b")


def test_the_current_sessions_messages_are_taken_once_and_others_wait_for_theirs() -> None:
    box = NotificationBox()
    box.switch(A)
    box.post(A, "one")
    box.post(B, "elsewhere")
    box.post(A, "two")
    assert box.take() == ("one", "two")
    assert box.take() == ()
    box.switch(B)
    assert box.take() == ("elsewhere",)
    assert len(box) == 0


def test_only_the_newest_are_kept() -> None:
    box = NotificationBox(limit=3)
    box.switch(A)
    for i in range(5):
        box.post(A, str(i))
    assert box.take() == ("2", "3", "4")


def test_posting_and_taking_from_many_threads_loses_and_repeats_nothing() -> None:
    box = NotificationBox(limit=100_000)
    box.switch(A)
    taken: list[str] = []

    def post(prefix: str) -> None:
        for i in range(2_000):
            box.post(A, f"{prefix}{i}")

    def take() -> None:
        for _ in range(500):
            taken.extend(box.take())

    threads = [threading.Thread(target=post, args=(p,)) for p in "xy"]
    threads.append(threading.Thread(target=take))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    taken.extend(box.take())
    assert sorted(taken) == sorted(f"{p}{i}" for p in "xy" for i in range(2_000))
