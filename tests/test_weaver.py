"""The embedding API: one object starts and stops a whole system; systems are isolated;
every actor is supervised."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import LOCAL_HTTP, free_port, local_config, wait_until
from vibeweaver.actors.gateway.messages import GatewayStatus, GetGatewayStatus
from vibeweaver.actors.kernel.messages import Evaluate
from vibeweaver.actors.messages import InjectFault, Ping
from vibeweaver.actors.planner.messages import GetPlannerStatus, PlannerStatus
from vibeweaver.actors.scheduler.messages import GetSchedulerStatus, SchedulerStatus
from vibeweaver.errors import StartupError
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.weaver import Weaver


def _socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def test_importing_the_package_starts_nothing_and_binds_nothing() -> None:
    code = (
        "import threading, vibeweaver, vibeweaver.actors, vibeweaver.weaver, vibeweaver.cli;"
        "print(threading.active_count())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "1"
    assert result.stderr == ""


def _answers(weaver: Weaver, name: str) -> object:
    handle = weaver.handle(name)
    if name == "store":
        session = weaver.store.open_session("after-restart")
        return weaver.store.find_session("after-restart") == session
    if name == "kernel":
        return handle.ask(Evaluate(code="6 * 7", timeout_s=5), timeout=10).result == "42"
    if name == "scheduler":
        return isinstance(handle.ask(GetSchedulerStatus(), timeout=5), SchedulerStatus)
    if name == "planner":
        return isinstance(handle.ask(GetPlannerStatus(), timeout=5), PlannerStatus)
    if name == "gateway":
        return isinstance(handle.ask(GetGatewayStatus(), timeout=5), GatewayStatus)
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["store", "planner", "scheduler", "kernel", "gateway"])
def test_each_actor_that_raises_in_a_handler_is_restarted_and_the_system_still_answers(
    make_weaver: Callable[..., Weaver], name: str
) -> None:
    weaver = make_weaver(router=f"tcp://127.0.0.1:{free_port()}")
    handle = weaver.handle(name)
    handle.tell(InjectFault(reason=f"test crash of {name}"))
    wait_until(lambda: handle.stats.restarts == 1 and handle.stats.state == "alive")
    assert handle.ask(Ping(), timeout=5).generation == 1
    assert handle.stats.last_error == f"InjectedFault: test crash of {name}"
    assert _answers(weaver, name)
    # the store, the sole writer, still reads and writes after any restart
    rule = RuleRecord(
        id=f"rule_after_{name}",
        session_id=weaver.session.id,
        trigger_type="beat",
        trigger_params='{"divisor":1}',
        action_type="notify",
        action_params="{}",
    )
    assert weaver.store.save_rule(rule).id == rule.id


def test_two_systems_in_one_process_share_nothing_and_leave_nothing_behind(tmp_path: Path) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    sockets_before = _socket_fds()
    one, two = tmp_path / "one", tmp_path / "two"
    first = Weaver(local_config(one, router=f"tcp://127.0.0.1:{free_port()}", http=LOCAL_HTTP))
    second = Weaver(local_config(two, router=f"tcp://127.0.0.1:{free_port()}", http=LOCAL_HTTP))
    first.start()
    second.start()
    try:
        first.store.open_session("only_in_first")
        assert first.store.find_session("only_in_first") is not None
        assert second.store.find_session("only_in_first") is None
        first.handle("kernel").ask(Evaluate(code="secret = 1", timeout_s=5), timeout=10)
        other = second.handle("kernel").ask(Evaluate(code="secret", timeout_s=5), timeout=10)
        assert other.status == "error" and other.error.type == "NameError"
        assert first.http_address != second.http_address
    finally:
        first.stop()
        second.stop()
    assert first.state == second.state == "stopped"
    wait_until(lambda: {t.ident for t in threading.enumerate()} <= threads_before)
    wait_until(lambda: _socket_fds() <= sockets_before)


def test_a_weaver_is_a_context_manager_and_can_be_stopped_twice(tmp_path: Path) -> None:
    with Weaver(local_config(tmp_path)) as weaver:
        assert weaver.state == "running"
        assert weaver.session is not None and weaver.session.name == "default"
    assert weaver.state == "stopped"
    weaver.stop()
    assert weaver.state == "stopped"


def test_a_second_weaver_on_the_same_database_is_refused_until_the_first_stops(
    tmp_path: Path,
) -> None:
    first = Weaver(local_config(tmp_path)).start()
    try:
        in_use = rf"in use by another vibeweaver \(pid {os.getpid()}\)"
        with pytest.raises(StartupError, match=in_use):
            Weaver(local_config(tmp_path), lock_wait_s=0).start()
        same_db = local_config(tmp_path / "elsewhere", db=first.config.db_url)
        with pytest.raises(StartupError, match="--db"):
            Weaver(same_db, lock_wait_s=0).start()
        first.store.open_session("still_served")  # the refused ones took nothing from it
        assert first.store.find_session("still_served") is not None
    finally:
        first.stop()
    with Weaver(local_config(tmp_path), lock_wait_s=0) as after:
        assert after.store.find_session("still_served") is not None


def test_a_weaver_waiting_for_the_database_starts_once_its_owner_stops(tmp_path: Path) -> None:
    first = Weaver(local_config(tmp_path)).start()
    second = Weaver(local_config(tmp_path), lock_wait_s=30)
    outcome: list[BaseException | str] = []

    def start_second() -> None:
        try:
            second.start()
            outcome.append(second.state)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    waiter = threading.Thread(target=start_second)
    waiter.start()
    try:
        wait_until(lambda: second.state == "starting")
        assert not outcome  # still waiting while the first runs
        first.stop()
        waiter.join(30)
        assert outcome == ["running"]
    finally:
        first.stop()
        waiter.join(30)
        second.stop()
