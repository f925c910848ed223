"""The actor system: typed dispatch, supervised restarts on a kept mailbox, dead letters."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from tests.conftest import wait_until
from vibeweaver.actors.base import UnknownMessage, WeaverActor, handles
from vibeweaver.actors.messages import InjectFault, Ping, Pong
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem
from vibeweaver.errors import ActorTimeout, ActorUnavailable, StartupError, VibeweaverError


@dataclass(frozen=True, slots=True)
class Add:
    amount: int = 1


@dataclass(frozen=True, slots=True)
class Total:
    pass


@dataclass(frozen=True, slots=True)
class Explode:
    pass


@dataclass(frozen=True, slots=True)
class Refuse:
    pass


@dataclass(frozen=True, slots=True)
class Block:
    release: threading.Event


class Counter(WeaverActor):
    """Keeps a running total; its state lives in the vault so a restart can re-read it."""

    def setup(self) -> None:
        self.total = self.context.vault.get("total", 0)
        self.context.vault.setdefault("setups", []).append(self.context.generation)

    @handles(Add)
    def add(self, message: Add) -> None:
        self.total += message.amount
        self.context.vault["total"] = self.total

    @handles(Total)
    def get_total(self, message: Total) -> int:
        return self.total

    @handles(Explode)
    def explode(self, message: Explode) -> None:
        raise ValueError("boom")

    @handles(Refuse)
    def refuse(self, message: Refuse) -> None:
        raise VibeweaverError("not allowed")

    @handles(Block)
    def block(self, message: Block) -> None:
        message.release.wait(5)


class BrokenStart(WeaverActor):
    def setup(self) -> None:
        raise RuntimeError("cannot start")


class CountedBrokenStart(WeaverActor):
    attempts = 0

    def setup(self) -> None:
        type(self).attempts += 1
        raise RuntimeError("the database cannot be opened")


class NeedsBroken(WeaverActor):
    """Asks the broken actor in its setup (as the scheduler asks the store), with a long timeout."""

    def setup(self) -> None:
        self.system.handle("broken").ask(Ping(), timeout=60)


@pytest.fixture
def system() -> ActorSystem:
    system = ActorSystem("test")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    system.define(ActorSpec("counter", Counter, max_restarts=3, restart_window_s=60))
    system.start()
    yield system
    system.stop()


def test_tells_and_asks_are_dispatched_by_message_type(system: ActorSystem) -> None:
    counter = system.handle("counter")
    for _ in range(5):
        counter.tell(Add(2))
    assert counter.ask(Total(), timeout=2) == 10
    assert counter.ask(Ping(), timeout=2) == Pong(name="counter", generation=0)


def test_an_unknown_message_is_refused_without_a_crash(system: ActorSystem) -> None:
    counter = system.handle("counter")
    with pytest.raises(UnknownMessage):
        counter.ask("hello", timeout=2)
    assert counter.stats.restarts == 0
    assert counter.ask(Total(), timeout=2) == 0


def test_a_deliberate_error_goes_back_to_the_asker_and_the_actor_keeps_running(
    system: ActorSystem,
) -> None:
    counter = system.handle("counter")
    with pytest.raises(VibeweaverError, match="not allowed"):
        counter.ask(Refuse(), timeout=2)
    assert counter.stats.restarts == 0
    assert counter.stats.failed == 1


def test_a_crash_in_a_told_handler_restarts_the_actor_and_keeps_queued_mail(
    system: ActorSystem,
) -> None:
    counter = system.handle("counter")
    counter.tell(Add(1))
    counter.tell(Explode())
    for _ in range(10):
        counter.tell(Add(1))
    assert wait_until(lambda: counter.ask(Total(), timeout=2) == 11)
    assert counter.stats.restarts == 1
    assert counter.stats.last_error == "ValueError: boom"
    assert counter.ask(Ping(), timeout=2).generation == 1


def test_a_crash_in_an_asked_handler_reaches_the_asker_and_restarts_the_actor(
    system: ActorSystem,
) -> None:
    counter = system.handle("counter")
    with pytest.raises(ValueError, match="boom"):
        counter.ask(Explode(), timeout=2)
    assert counter.ask(Ping(), timeout=2).generation == 1
    assert counter.stats.restarts == 1


def test_an_actor_that_keeps_crashing_is_given_up_and_its_mail_becomes_dead_letters(
    system: ActorSystem,
) -> None:
    counter = system.handle("counter")
    for _ in range(4):
        counter.tell(InjectFault())
    wait_until(lambda: counter.stats.state == "failed")
    assert counter.stats.restarts == 3
    with pytest.raises(ActorUnavailable):
        counter.ask(Total(), timeout=2)
    assert counter.tell(Add()) is False
    assert system.dead_letter_summary()["by_actor"]["counter"] >= 2


def test_an_ask_that_is_not_answered_in_time_raises_actor_timeout(system: ActorSystem) -> None:
    counter = system.handle("counter")
    release = threading.Event()
    counter.tell(Block(release))
    try:
        with pytest.raises(ActorTimeout, match="counter did not answer Total"):
            counter.ask(Total(), timeout=0.2)
        snapshot = counter.stats.snapshot()
        assert snapshot["current_message"] == "Block"
        assert snapshot["mailbox_depth"] == 1
    finally:
        release.set()


def test_messages_to_a_stopped_actor_are_counted_as_dead_letters() -> None:
    system = ActorSystem("stopped")
    system.define(ActorSpec("counter", Counter))
    system.start()
    system.stop()
    counter = system.handle("counter")
    assert counter.tell(Add()) is False
    with pytest.raises(ActorUnavailable):
        counter.ask(Total(), timeout=1)
    assert system.dead_letter_summary()["total"] == 2
    assert counter.stats.state == "stopped"


def test_ask_then_calls_back_with_the_reply_or_the_error_on_the_actors_thread(
    system: ActorSystem,
) -> None:
    counter = system.handle("counter")
    counter.tell(Add(3))
    got: list[tuple[object, BaseException | None, str]] = []

    def then(value: object, error: BaseException | None) -> None:
        got.append((value, error, threading.current_thread().name))

    counter.ask_then(Total(), then)
    counter.ask_then(Refuse(), then)
    wait_until(lambda: len(got) == 2, timeout=5)
    (value, error, thread), (_, refused, _) = got
    assert (value, error) == (3, None)
    assert thread != threading.current_thread().name  # nobody waited for it
    assert isinstance(refused, VibeweaverError) and "not allowed" in str(refused)


def test_ask_then_to_a_stopped_actor_calls_back_at_once_with_unavailable() -> None:
    system = ActorSystem("stopped-then")
    system.define(ActorSpec("counter", Counter))
    system.start()
    system.stop()
    got: list[BaseException | None] = []
    system.handle("counter").ask_then(Total(), lambda _value, error: got.append(error))
    assert len(got) == 1 and isinstance(got[0], ActorUnavailable)


def test_an_actor_whose_setup_fails_makes_start_fail_with_a_readable_error() -> None:
    system = ActorSystem("broken")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    system.define(ActorSpec("broken", BrokenStart, max_restarts=2))
    with pytest.raises(
        StartupError, match="actor broken did not start: RuntimeError: cannot start"
    ):
        system.start(timeout=5)
    assert all(not t.name.startswith(("BrokenStart", "Supervisor")) for t in threading.enumerate())


def test_an_actor_failing_while_the_system_starts_is_not_restarted_and_start_fails_at_once() -> (
    None
):
    CountedBrokenStart.attempts = 0
    system = ActorSystem("fails-at-start")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    broken = system.define(ActorSpec("broken", CountedBrokenStart, max_restarts=5))
    dependent = system.define(ActorSpec("dependent", NeedsBroken, max_restarts=5))
    started = time.monotonic()
    with pytest.raises(StartupError, match="actor broken did not start: RuntimeError: the data"):
        system.start(timeout=60)
    # neither the dependent's 60 s ask nor the stop of its crashed setup is waited out
    assert time.monotonic() - started < 30
    assert CountedBrokenStart.attempts == 1
    assert (broken.stats.restarts, dependent.stats.restarts) == (0, 0)
    assert broken.stats.state in ("failed", "stopped")
    assert dependent.stats.state in ("failed", "stopped")


def test_stopping_a_system_leaves_none_of_its_threads_alive() -> None:
    before = {t.ident for t in threading.enumerate()}
    system = ActorSystem("threads")
    system.define(ActorSpec(SUPERVISOR, Supervisor))
    system.define(ActorSpec("counter", Counter))
    system.start()
    assert len(list(system.threads())) == 2
    system.stop()
    assert {t.ident for t in threading.enumerate()} <= before


def test_a_deliberate_error_from_a_told_message_is_counted_and_the_actor_lives_on(
    system: ActorSystem,
) -> None:
    counter = system.handle("counter")
    counter.tell(Refuse())
    counter.tell("no handler for this")
    counter.tell(Add(3))
    assert counter.ask(Total(), timeout=2) == 3
    assert counter.stats.restarts == 0
    assert counter.stats.failed == 2
    assert counter.stats.state == "alive"
