"""The admin endpoint of a real `vibeweaver serve` subprocess, driven over its ZeroMQ ROUTER: every
actor listed, a thousand requests counted, and a kernel stuck in a long eval observed from outside
without ever waiting for it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.service import Peer, RunningService, start_service
from tests.conftest import wait_until
from vibeweaver.wire.envelope import WeaveHelpRequest

pytestmark = pytest.mark.slow

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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(Path(tmp_path_factory.mktemp("admin-service")) / "data")
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.stderr_text()


@pytest.fixture
def peer(service: RunningService) -> Iterator[Peer]:
    client = Peer(service.router)
    yield client
    client.close()


def test_a_running_service_lists_every_actor_and_counts_a_thousand_requests_to_one(
    service: RunningService, peer: Peer
) -> None:
    rows = service.get("/admin/actors")
    assert [row["name"] for row in rows] == [
        "supervisor",
        "store",
        "planner",
        "scheduler",
        "kernel",
        "gateway",
    ]
    for row in rows:
        assert set(row) >= SPEC_FIELDS, row
        assert row["state"] == "alive"

    before = service.actor("gateway")["handled"]
    types_before = service.get("/admin/actors/gateway")["message_types"]
    received_before = types_before.get("RequestReceived", {}).get("count", 0)
    for _ in range(1000):
        peer.send(WeaveHelpRequest(topic=""))
    assert len(peer.receive(1000, timeout=60)) == 1000

    # the reply can leave before the handler's bookkeeping finishes: wait for the last count
    wait_until(lambda: service.actor("gateway")["handled"] >= before + 1000)
    gateway = service.actor("gateway")
    assert gateway["handled"] == before + 1000
    assert gateway["failed"] == 0
    detail = service.get("/admin/actors/gateway")
    assert detail["message_types"]["RequestReceived"]["count"] == received_before + 1000

    def router_socket() -> dict[str, Any]:
        sockets = service.get("/admin/system")["sockets"]
        return next(sock for sock in sockets if sock["name"] == "router")

    # the socket counters are published by the IO thread twice a second
    router = wait_until(lambda: (sock := router_socket())["received"] >= 1000 and sock)
    assert router["sent"] >= 1000
    assert router["last_seen_age_s"] is not None


def test_while_an_eval_sleeps_the_endpoint_answers_fast_and_shows_the_busy_kernel(
    service: RunningService, peer: Peer
) -> None:
    peer.send_eval("import time; time.sleep(3)")
    wait_until(lambda: service.actor("kernel")["current_message"] == "Evaluate")
    peer.send_eval("'queued behind the sleep'")
    # both are in the kernel's hands (the actor answers them later and its mailbox stays free)
    wait_until(lambda: service.actor("kernel")["in_hand"] == 2)

    # The must-show is "answers within 200 ms while the kernel is busy": the endpoint never
    # asks the kernel, so a reply waits on nothing but the HTTP round trip. The best of three
    # reads keeps a noisy shared machine's scheduling hiccup from failing it; an endpoint
    # that waited on the kernel would take the rest of the 3 s sleep every time.
    latencies_s = []
    for _ in range(3):
        started = time.perf_counter()
        rows = service.get("/admin/actors")
        latencies_s.append(time.perf_counter() - started)
    assert min(latencies_s) < 0.2, f"/admin/actors took {latencies_s} s (kernel busy)"

    kernel = next(row for row in rows if row["name"] == "kernel")
    assert kernel["current_message"] == "Evaluate"
    assert kernel["current_message_kind"] == "ask"
    assert kernel["current_message_ms"] > 0
    assert kernel["mailbox_depth"] == 0
    assert kernel["in_hand"] == 2
    # the running time keeps growing while the cell sleeps
    wait_until(
        lambda: (
            (now := service.actor("kernel"))["current_message_ms"] is not None
            and now["current_message_ms"] > kernel["current_message_ms"]
        )
    )
    detail = service.get("/admin/actors/kernel")
    assert detail["queued_messages"] == []
    assert "in <module>: import time; time.sleep(3)" in detail["eval_where"]  # the eval thread

    assert len(peer.receive(2, timeout=20)) == 2
    wait_until(
        lambda: (
            (now := service.actor("kernel"))["current_message"] is None
            and now["mailbox_depth"] == 0
        )
    )
    assert service.actor("kernel")["mailbox_high_water"] >= 1
