"""Actor fault injection while traffic flows (SPEC §2, §4.6): no caller hangs.

An in-process Weaver serves a ROUTER on a loopback port and HTTP. Threads keep traffic going:
weaveEval over the ROUTER from raw DEALERs (hootenanny's side of the wire), marker writes through
cells (over the ROUTER and through the tool service the MCP front end uses), store reads, and
admin reads over HTTP. Meanwhile the test tells `InjectFault` to the store, scheduler, planner,
gateway and kernel actors, each fewer times than its restart intensity (5 restarts in 30 s), and
in a second test more often than that to the store.

What must hold: every request gets an answer (a reply or a clear error) within ANSWER_BOUND_S,
every traffic thread ends when told to, every restart is counted, the service answers normally
afterwards and no acknowledged marker is lost; an actor given up is named by `weaver.failure`
while its callers get errors naming it, not silence.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_HTTP, free_port, wait_until
from tests.gateway.peer import Peer
from vibeweaver.actors.messages import InjectFault
from vibeweaver.errors import VibeweaverError
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver
from vibeweaver.wire import ErrorReply, WeaveEvalReply, WeaveEvalRequest


@pytest.fixture
def make_weaver(make_weaver: Callable[..., Weaver]) -> Callable[..., Weaver]:
    """Weavers with their HTTP listener: these tests read the admin endpoint."""
    return functools.partial(make_weaver, http=LOCAL_HTTP)


FAULTED = ("store", "scheduler", "planner", "gateway", "kernel")
FAULTS_PER_ACTOR = 4
"""Below the restart intensity (5 in 30 s): no actor may be given up."""
ANSWER_BOUND_S = 15.0
"""The longest any request may wait for its answer: the tool service's eval timeout (5 s here)
plus its grace fit in it. A request still unanswered then counts as a hang."""
EVAL_TIMEOUT_S = 5.0
ROUTER_ANSWERS_BETWEEN_FAULTS = 10
"""ROUTER requests answered between two faults: paces the injection so that faults land among
requests in flight, not in a burst before the traffic has started."""
WORK = "sum(range(20_000))"
"""A little work in every cell (about 1 ms), so a request is in flight for a while."""


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str
    sent: float
    seconds: float
    """From the request to its answer."""
    outcome: str
    """'ok' or the error."""


@dataclass
class Traffic:
    """What the traffic threads saw (list appends are atomic, so threads share it unlocked)."""

    answers: list[Answer] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    acked_markers: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    in_flight: dict[str, float] = field(default_factory=dict)
    """Thread name → when its request now in flight was sent."""
    stop: threading.Event = field(default_factory=threading.Event)

    def begin(self) -> float:
        started = time.monotonic()
        self.in_flight[threading.current_thread().name] = started
        return started

    def answered(self, kind: str, started: float, outcome: str) -> None:
        self.in_flight.pop(threading.current_thread().name, None)
        self.answers.append(Answer(kind, started, time.monotonic() - started, outcome))

    def count(self, kind: str) -> int:
        return sum(1 for answer in self.answers if answer.kind == kind)

    @property
    def errors(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.outcome != "ok"]

    @property
    def slowest(self) -> float:
        return max(answer.seconds for answer in self.answers)


def router_traffic(endpoint: str, identity: bytes, traffic: Traffic, markers: bool) -> None:
    """weaveEval over the ROUTER, one request at a time, each waiting at most ANSWER_BOUND_S."""
    peer = Peer(endpoint, identity)
    try:
        i = 0
        while not traffic.stop.is_set():
            name = f"{identity.decode()}_{i}"
            code = f"{WORK}\n" + (f"_ = marker({name!r}, {i})" if markers else f"{i} * 2")
            started = traffic.begin()
            try:
                _, reply = peer.call(WeaveEvalRequest(code=code), timeout=ANSWER_BOUND_S)
            except AssertionError as exc:  # Peer.call's "no answer within ..."
                traffic.unanswered.append(f"ROUTER {identity!r} {code!r}: {exc}")
                return
            if isinstance(reply, WeaveEvalReply):
                assert reply.result == ("" if markers else str(i * 2)), reply
                traffic.answered("router", started, "ok")
                if markers:
                    traffic.acked_markers.append(name)
            else:
                assert isinstance(reply, ErrorReply), reply
                traffic.answered("router", started, f"{reply.code}: {reply.message}")
            i += 1
    finally:
        peer.close()


def tool_traffic(weaver: Weaver, traffic: Traffic) -> None:
    """Marker writes through cells, by the tool service (the MCP front end's path)."""
    service = ToolService(weaver.system, eval_timeout=EVAL_TIMEOUT_S)
    i = 0
    while not traffic.stop.is_set():
        name = f"tool_{i}"
        started = traffic.begin()
        try:
            outcome = service.evaluate(f"{WORK}\nmarker({name!r}, {i})")
        except VibeweaverError as exc:  # ActorTimeout, ActorUnavailable: answers, not hangs
            traffic.answered("tool", started, f"{type(exc).__name__}: {exc}")
        else:
            if outcome.status == "ok":
                traffic.acked_markers.append(name)
                traffic.answered("tool", started, "ok")
            else:
                error = outcome.error
                message = f"{error.type}: {error.message}" if error else outcome.status
                traffic.answered("tool", started, message)
        i += 1


def store_reads(weaver: Weaver, traffic: Traffic) -> None:
    assert weaver.session is not None
    session_id = weaver.session.id
    while not traffic.stop.is_set():
        started = traffic.begin()
        try:
            weaver.store.list_markers(session_id)
        except VibeweaverError as exc:
            traffic.answered("store", started, f"{type(exc).__name__}: {exc}")
        else:
            traffic.answered("store", started, "ok")


def admin_reads(base: str, traffic: Traffic) -> None:
    with httpx.Client(base_url=base, timeout=ANSWER_BOUND_S) as client:
        while not traffic.stop.is_set():
            started = traffic.begin()
            try:
                response = client.get("/admin/actors")
            except httpx.TimeoutException as exc:
                traffic.unanswered.append(f"GET /admin/actors: {exc}")
                return
            outcome = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
            traffic.answered("admin", started, outcome)


def admin_base(weaver: Weaver) -> str:
    bound = weaver.http_address
    assert bound is not None
    return f"http://{bound[0]}:{bound[1]}"


def start_traffic(weaver: Weaver, endpoint: str, traffic: Traffic) -> list[threading.Thread]:
    jobs: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [
        ("router-evals", router_traffic, (endpoint, b"peer_evals", traffic, False)),
        ("router-markers", router_traffic, (endpoint, b"peer_markers", traffic, True)),
        ("tool-markers", tool_traffic, (weaver, traffic)),
        ("store-reads", store_reads, (weaver, traffic)),
        ("admin-reads", admin_reads, (admin_base(weaver), traffic)),
    ]

    def guarded(target: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported by the test's assertions
            traffic.crashed.append(f"{target.__name__}: {type(exc).__name__}: {exc}")
            raise

    threads = [
        threading.Thread(target=guarded, args=(target, args), name=name, daemon=True)
        for name, target, args in jobs
    ]
    for thread in threads:
        thread.start()
    return threads


def stop_traffic(traffic: Traffic, threads: list[threading.Thread]) -> None:
    """Stop the traffic and join every thread within a bound (a thread still alive is a hang)."""
    traffic.stop.set()
    for thread in threads:
        thread.join(ANSWER_BOUND_S + 5)
    assert [thread.name for thread in threads if thread.is_alive()] == []
    assert traffic.crashed == []
    assert traffic.unanswered == []


@pytest.fixture
def served(make_weaver: Callable[..., Weaver]) -> tuple[Weaver, str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    return make_weaver(router=endpoint, eval_timeout=EVAL_TIMEOUT_S), endpoint


@pytest.fixture
def traffic() -> Iterator[Traffic]:
    traffic = Traffic()
    yield traffic
    traffic.stop.set()


def inject(weaver: Weaver, name: str, reason: str) -> None:
    """Tell `name` to crash once, when it is alive, and wait until it has been restarted."""
    handle = weaver.handle(name)
    wait_until(lambda: handle.stats.state == "alive", timeout=10)
    restarts = handle.stats.restarts
    handle.tell(InjectFault(reason=reason))
    wait_until(lambda: handle.stats.restarts > restarts and handle.stats.state == "alive", 10)


def test_faults_injected_while_traffic_flows_leave_no_caller_hanging(
    served: tuple[Weaver, str], traffic: Traffic
) -> None:
    weaver, endpoint = served
    threads = start_traffic(weaver, endpoint, traffic)
    injected = hit_in_flight = 0
    try:
        for round_no in range(FAULTS_PER_ACTOR):
            for name in FAULTED:
                answered = traffic.count("router")
                wait_until(
                    lambda: traffic.count("router") >= answered + ROUTER_ANSWERS_BETWEEN_FAULTS,  # noqa: B023
                    timeout=ANSWER_BOUND_S,
                )
                hit_in_flight += len(traffic.in_flight)
                inject(weaver, name, f"fault {round_no} of {name}")
                injected += 1
        answered = len(traffic.answers)
        wait_until(lambda: len(traffic.answers) >= answered + 20, timeout=ANSWER_BOUND_S)
    finally:
        stop_traffic(traffic, threads)

    assert traffic.errors == []
    assert traffic.slowest < ANSWER_BOUND_S
    rows = {row["name"]: row for row in httpx.get(f"{admin_base(weaver)}/admin/actors").json()}
    for name in FAULTED:
        assert weaver.handle(name).stats.restarts == FAULTS_PER_ACTOR
        assert rows[name]["restarts"] == FAULTS_PER_ACTOR and rows[name]["state"] == "alive"
    assert weaver.failure is None
    assert weaver.system.dead_letter_summary()["total"] == 0

    # the service answers normally afterwards, and has every acknowledged marker
    peer = Peer(endpoint, b"after")
    try:
        _, reply = peer.call(WeaveEvalRequest(code="marker('after', 1)\n6 * 7"), timeout=10)
    finally:
        peer.close()
    assert reply == WeaveEvalReply(output_type="expression", result="42", stdout="", stderr="")
    assert weaver.session is not None
    stored = {marker.name for marker in weaver.store.list_markers(weaver.session.id)}
    assert set(traffic.acked_markers) | {"after"} <= stored
    print(
        f"\n{injected} faults injected into {len(FAULTED)} actors while traffic flowed "
        f"({hit_in_flight} requests in flight at the faults): {len(traffic.answers)} requests, "
        f"all answered without error, slowest {traffic.slowest:.2f} s; "
        f"{len(traffic.acked_markers)} acknowledged markers, none lost"
    )


def test_an_actor_pushed_past_its_restart_intensity_is_named_and_its_callers_get_errors(
    served: tuple[Weaver, str], traffic: Traffic
) -> None:
    weaver, endpoint = served
    threads = start_traffic(weaver, endpoint, traffic)
    store = weaver.handle("store")
    try:
        for attempt in range(6):
            wait_until(lambda: store.stats.state in ("alive", "failed"), timeout=10)
            restarts = store.stats.restarts
            answered = len(traffic.answers)
            wait_until(lambda: len(traffic.answers) >= answered + 5, timeout=ANSWER_BOUND_S)  # noqa: B023
            store.tell(InjectFault(reason=f"crash {attempt}"))
            wait_until(
                lambda: store.stats.restarts > restarts or store.stats.state == "failed",  # noqa: B023
                timeout=10,
            )
        wait_until(lambda: weaver.failure is not None, timeout=10)
        given_up_at = time.monotonic()
        counts = {kind: traffic.count(kind) for kind in ("router", "tool", "store", "admin")}
        wait_until(
            lambda: all(traffic.count(kind) >= n + 3 for kind, n in counts.items()),
            timeout=ANSWER_BOUND_S,
        )
    finally:
        stop_traffic(traffic, threads)

    assert weaver.failure is not None
    assert weaver.failure.startswith("actor 'store' was given up after 5 restarts in 30 s")
    assert "InjectedFault: crash 5" in weaver.failure
    assert store.stats.state == "failed"
    assert traffic.slowest < ANSWER_BOUND_S
    after = [answer for answer in traffic.answers if answer.sent > given_up_at]
    # what needs the store is refused naming it; what does not goes on
    for kind in ("tool", "store"):
        outcomes = {answer.outcome for answer in after if answer.kind == kind}
        assert outcomes, kind
        for outcome in outcomes:
            assert outcome.startswith("ActorUnavailable: store "), (kind, outcome)
    assert {answer.outcome for answer in after if answer.kind == "admin"} == {"ok"}
    router = {answer.outcome for answer in after if answer.kind == "router"}
    assert "ok" in router  # plain evals go on; marker writes are errors naming the store
    assert all(o == "ok" or "ActorUnavailable: store " in o for o in router), router
    print(
        f"\nstore given up under traffic: {len(after)} requests after it, all answered "
        f"(slowest {traffic.slowest:.2f} s of the run), store calls refused naming it"
    )


def test_a_gateway_given_up_releases_its_sockets(
    make_weaver: Callable[..., Weaver],
) -> None:
    port = free_port()
    weaver = make_weaver(router=f"tcp://127.0.0.1:{port}")
    gateway = weaver.handle("gateway")
    for attempt in range(6):
        wait_until(lambda: gateway.stats.state in ("alive", "failed"), timeout=10)
        restarts = gateway.stats.restarts
        gateway.tell(InjectFault(reason=f"crash {attempt}"))
        wait_until(
            lambda: gateway.stats.restarts > restarts or gateway.stats.state == "failed",  # noqa: B023
            timeout=10,
        )
    failure = wait_until(lambda: weaver.failure, timeout=10)
    assert "actor 'gateway' was given up" in failure
    # the IO thread kept across its restarts was closed with it: the port is free again
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
    assert not any(t.name == "gateway-io" and t.is_alive() for t in threading.enumerate())
