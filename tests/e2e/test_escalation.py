"""Supervisor escalation (SPEC §4.6): an actor given up (restart intensity exceeded) is not left
as a zombie; the service stops with one line naming it and exit code 3, for its own supervisor
(systemd, the MCP client) to restart it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import ServiceProcess, cli_env, wait_until
from vibeweaver.actors.messages import InjectFault
from vibeweaver.weaver import Weaver

ISOLATED = ("--router", "none", "--hootenanny", "none", "--broadcasts", "none", "--http", "none")

CRASH_THE_PLANNER_AFTER_START = """\
import threading, time
import vibeweaver.weaver as weaver_module
from vibeweaver.actors.messages import InjectFault

_start = weaver_module.Weaver.start


def crash_repeatedly(weaver):
    handle = weaver.handle("planner")
    for attempt in range(50):
        while handle.stats.state == "restarting":
            time.sleep(0.01)
        if handle.stats.state != "alive":
            return
        handle.tell(InjectFault(reason=f"test crash {attempt}"))
        time.sleep(0.05)


def start(self, *args, **kwargs):
    result = _start(self, *args, **kwargs)
    threading.Thread(target=crash_repeatedly, args=(self,), daemon=True).start()
    return result


weaver_module.Weaver.start = start
"""


def test_an_actor_past_its_restart_intensity_stops_serve_with_exit_3(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CRASH_THE_PLANNER_AFTER_START)
    service = ServiceProcess(
        "--data-dir", str(tmp_path / "data"), *ISOLATED, env=cli_env(PYTHONPATH=str(hooks))
    )
    service_processes.append(service)

    assert service.proc.wait(timeout=60) == 3
    service.wait_for_line("vibeweaver: error:")
    errors = [line for line in service.lines if line.startswith("vibeweaver: error:")]
    assert len(errors) == 1
    assert "actor 'planner' was given up after 5 restarts in 30 s" in errors[0]
    assert "InjectedFault: test crash" in errors[0]
    assert "vibeweaver: stopped" not in service.stderr_text()


def test_an_embedder_is_told_once_when_an_actor_is_given_up(
    make_weaver: Callable[..., Weaver], tmp_path: Path
) -> None:
    failures: list[str] = []
    weaver = make_weaver()
    weaver._on_failure = failures.append  # as if passed to the constructor
    handle = weaver.handle("planner")
    for attempt in range(6):
        wait_until(lambda: handle.stats.state in ("alive", "failed"), timeout=10)
        restarts = handle.stats.restarts
        handle.tell(InjectFault(reason=f"crash {attempt}"))
        wait_until(
            lambda: handle.stats.restarts > restarts or handle.stats.state == "failed",  # noqa: B023
            timeout=10,
        )
    wait_until(lambda: failures, timeout=10)
    assert weaver.failure == failures[0]
    assert failures[0].startswith("actor 'planner' was given up after 5 restarts")
    assert len(failures) == 1
