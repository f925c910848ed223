"""The HTTP admin endpoint of an in-process Weaver: SPEC §3.4 fields, message counts, crashes and
restarts, the detail view (with the kernel's eval thread stack), the system view (socket ages exact
at read time) and the bearer-token rule of SPEC §3.1."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.admin.service import Peer
from tests.conftest import LOCAL_HTTP, free_port, wait_until
from vibeweaver.actors.kernel.messages import Evaluate
from vibeweaver.actors.messages import InjectFault, Ping
from vibeweaver.console.client import AdminClient, AdminError
from vibeweaver.frontends.admin import socket_rows
from vibeweaver.weaver import Weaver
from vibeweaver.wire.envelope import WeaveHelpRequest


@pytest.fixture
def make_weaver(make_weaver: Callable[..., Weaver]) -> Callable[..., Weaver]:
    """Weavers with their HTTP listener: these tests read the admin endpoint."""
    return functools.partial(make_weaver, http=LOCAL_HTTP)


SPEC_FIELDS = {
    "name",
    "state",
    "mailbox_depth",
    "mailbox_high_water",
    "oldest_message_age_ms",
    "current_message",
    "current_message_ms",
    "handled",
    "failed",
    "restarts",
    "last_error",
}
ACTORS = ["supervisor", "store", "planner", "scheduler", "kernel", "gateway"]


def address(weaver: Weaver) -> str:
    bound = weaver.http_address
    assert bound is not None
    return f"{bound[0]}:{bound[1]}"


def base(weaver: Weaver) -> str:
    return f"http://{address(weaver)}"


def get(weaver: Weaver, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(base(weaver) + path, timeout=5, **kwargs)


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows}


def test_every_actor_is_listed_with_the_fields_of_the_spec(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    response = get(weaver, "/admin/actors")
    assert response.status_code == 200
    rows = response.json()
    assert [row["name"] for row in rows] == ACTORS
    for row in rows:
        assert set(row) >= SPEC_FIELDS, row
        assert row["state"] == "alive"
        assert row["restarts"] == 0
        assert row["last_error"] is None
        assert row["current_message"] is None
        assert row["current_message_ms"] is None


def test_a_thousand_messages_told_to_an_actor_raise_its_handled_count_by_a_thousand(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    before = by_name(get(weaver, "/admin/actors").json())["store"]
    pings_before = get(weaver, "/admin/actors/store").json()["message_types"]["Ping"]["count"]
    store = weaver.handle("store")
    for _ in range(1000):
        assert store.tell(Ping())

    def handled_now() -> int:
        return int(by_name(get(weaver, "/admin/actors").json())["store"]["handled"])

    wait_until(lambda: handled_now() >= before["handled"] + 1000, timeout=20)
    after = by_name(get(weaver, "/admin/actors").json())["store"]
    assert after["handled"] == before["handled"] + 1000
    assert after["failed"] == before["failed"]
    assert after["mailbox_high_water"] >= 1
    detail = get(weaver, "/admin/actors/store").json()
    assert detail["message_types"]["Ping"]["count"] == pings_before + 1000


def test_a_crashed_and_restarted_actor_shows_its_restarts_and_last_error(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    weaver.handle("planner").tell(InjectFault(reason="operator test"))

    def planner() -> dict[str, Any]:
        return by_name(get(weaver, "/admin/actors").json())["planner"]

    row = wait_until(lambda: (p := planner())["restarts"] >= 1 and p["state"] == "alive" and p)
    assert row["last_error"] == "InjectedFault: operator test"
    assert row["failed"] >= 1
    assert isinstance(row["last_error_at"], float)
    detail = get(weaver, "/admin/actors/planner").json()
    assert "InjectedFault: operator test" in detail["last_error_traceback"]
    assert "Traceback" in detail["last_error_traceback"]
    assert any(m["type"] == "InjectFault" and m["ok"] is False for m in detail["recent_messages"])
    # the restarted actor answers again
    assert weaver.handle("planner").ask(Ping(), timeout=5).generation == 1


def test_the_detail_view_has_queued_messages_recent_messages_timings_and_the_stack(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    detail = get(weaver, "/admin/actors/kernel").json()
    assert detail["name"] == "kernel"
    assert detail["actor_class"] == "KernelActor"
    assert set(detail) >= SPEC_FIELDS
    assert detail["queued_messages"] == []
    # the supervisor's start-up ping is among them (the kernel's figures may have come since)
    pings = [entry for entry in detail["recent_messages"] if entry["type"] == "Ping"]
    assert pings and pings[0]["duration_ms"] >= 0
    assert set(detail["message_types"]["Ping"]) == {"count", "failed", "p50_ms", "p95_ms", "max_ms"}
    assert set(detail["mailbox_wait"]) == {"p50_ms", "p95_ms", "max_ms", "samples"}
    stack = "\n".join(detail["stack"])
    assert "_actor_loop" in stack  # the idle actor thread, waiting on its inbox
    # the idle eval thread: its stack is there, with no user code in it
    assert detail["eval_thread"].startswith("kernel-eval")
    assert isinstance(detail["eval_thread_ident"], int)
    assert detail["eval_stack"]
    assert not any(frame["user"] for frame in detail["eval_stack"])
    assert detail["eval_where"] is None
    assert get(weaver, "/admin/actors/store").json().keys().isdisjoint({"eval_stack", "eval_where"})


SPIN = """\
import time

def spin():
    deadline = time.monotonic() + 20
    turns = 0
    while time.monotonic() < deadline:
        turns += 1
    return turns

spin()
"""


def test_while_a_cell_spins_the_kernel_detail_shows_where_in_the_eval_thread_it_is(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    kernel = weaver.handle("kernel")
    reply = kernel.ask_future(Evaluate(code=SPIN, timeout_s=30))
    try:
        detail = wait_until(
            lambda: (d := get(weaver, "/admin/actors/kernel").json())["eval_where"] and d
        )
        assert detail["current_message"] == "Evaluate"
        assert detail["eval_where"].startswith("<cell-1>:")
        assert " in spin: " in detail["eval_where"]
        user = [frame for frame in detail["eval_stack"] if frame["user"]]
        assert [frame["function"] for frame in user] == ["<module>", "spin"]
        assert user[0]["file"] == user[1]["file"] == "<cell-1>"  # the token is not shown
        assert user[0]["code"] == "spin()"
        assert user[1]["code"] in {"while time.monotonic() < deadline:", "turns += 1"}
        assert detail["eval_stack"][-1] == user[-1]  # the innermost frame is the user's loop
        assert not any(frame["user"] for frame in detail["eval_stack"][:-2])
        # the actor is free meanwhile: the cell runs in the kernel process
        assert any("_actor_loop" in line for line in detail["stack"])
    finally:
        weaver.stop()  # interrupts the spinning cell
    later = reply.get(timeout=10)  # the KernelActor answers at once; the outcome comes later
    assert later.future.result(10).error.type == "Interrupted"


def test_an_unknown_actor_is_a_404_with_a_readable_error(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    response = get(weaver, "/admin/actors/nobody")
    assert response.status_code == 404
    assert response.json() == {"error": "no actor named 'nobody'"}
    with pytest.raises(AdminError, match="not found"):
        AdminClient(address(weaver)).actor("nobody")


def test_the_system_view_has_uptime_session_sockets_rules_dead_letters_and_database(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    system = get(weaver, "/admin/system").json()
    assert system["uptime_s"] >= 0
    assert system["state"] == "running"
    assert system["session"]["name"] == "default"
    assert system["session"]["id"] == weaver.session.id  # type: ignore[union-attr]
    assert system["sockets"] == []  # ZeroMQ is disabled in this configuration
    assert system["rules"]["total"] == 0
    assert system["rules"]["enabled"] == 0
    assert system["dead_letters"] == {"total": 0, "by_actor": {}, "recent": []}
    assert system["database"]["path"] == str(weaver.db_path)
    assert system["database"]["size_bytes"] > 0
    assert (
        system["database"]["pending_writes"],
        system["database"]["write_error"],
        system["database"]["dropped_writes"],
    ) == (0, None, 0)
    assert system["actors"] == ACTORS


def test_socket_ages_in_the_system_view_are_exact_when_read(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver(router=f"tcp://127.0.0.1:{free_port()}")
    assert weaver.config.router is not None
    peer = Peer(weaver.config.router)
    try:
        sent = time.monotonic()
        peer.send(WeaveHelpRequest(topic=""))
        peer.receive(1)
        answered = time.monotonic()
    finally:
        peer.close()

    def router() -> dict[str, Any]:
        sockets = get(weaver, "/admin/system").json()["sockets"]
        return next(sock for sock in sockets if sock["name"] == "router")

    wait_until(lambda: router()["received"] >= 1)  # published by the IO thread (twice a second)
    for pause in (0.0, 0.3, 0.6):
        time.sleep(pause)
        asked = time.monotonic()
        sock = router()
        done = time.monotonic()
        assert "last_seen_monotonic" not in sock
        # exact to the millisecond at read time, not as of the last publish (up to 0.5 s old)
        assert asked - answered - 0.001 <= sock["last_seen_age_s"] <= done - sent + 0.001


def test_socket_rows_turn_published_monotonic_timestamps_into_ages() -> None:
    published = [
        {"name": "router", "received": 3, "last_seen_monotonic": 10.0},
        {"name": "dealer", "received": 0, "last_seen_monotonic": None},
    ]
    assert socket_rows(published, now=12.5) == [
        {"name": "router", "received": 3, "last_seen_age_s": 2.5},
        {"name": "dealer", "received": 0, "last_seen_age_s": None},
    ]
    assert socket_rows(None) == []


def test_dead_letters_show_in_the_system_view_and_on_the_actor_row(
    make_weaver: Callable[..., Weaver],
) -> None:
    weaver = make_weaver()
    weaver.system._stop_one("planner", timeout=5)  # a stopped actor cannot take mail
    assert weaver.handle("planner").tell(Ping()) is False
    system = get(weaver, "/admin/system").json()
    assert system["dead_letters"]["total"] == 1
    assert system["dead_letters"]["by_actor"] == {"planner": 1}
    assert system["dead_letters"]["recent"][0]["message"] == "Ping"
    row = by_name(get(weaver, "/admin/actors").json())["planner"]
    assert row["state"] == "stopped"
    assert row["dead_letters"] == 1


def test_with_a_token_configured_the_admin_endpoint_demands_the_bearer_token(
    make_weaver: Callable[..., Weaver], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIBEWEAVER_TOKEN", raising=False)
    weaver = make_weaver(token="s3cret")  # noqa: S106 - a test token
    assert get(weaver, "/admin/actors").status_code == 401
    assert get(weaver, "/admin/system", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = get(weaver, "/admin/actors", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    where = address(weaver)
    assert [row["name"] for row in AdminClient(where, "s3cret").actors()] == ACTORS
    with pytest.raises(AdminError, match="refused the request with no token"):
        AdminClient(where, None).actors()
    with pytest.raises(AdminError, match="refused the request with a wrong token"):
        AdminClient(where, "wrong").system()
