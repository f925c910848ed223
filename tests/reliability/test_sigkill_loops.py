"""SIGKILL loops (SPEC §4.6: nothing acknowledged to a caller is lost by a `kill -9`).

`vibeweaver serve` runs as a real subprocess with its ROUTER on a loopback port. In each round a
writer thread keeps a few weaveEval requests in flight over a raw DEALER (hootenanny's side of the
wire), each cell writing one marker or one decorated rule; the test SIGKILLs the process at a
seeded random point of that stream. A write is acknowledged when its WeaveEvalReply arrived
before the kill. After every kill the sqlite file must pass `PRAGMA integrity_check`, and after
every restart every acknowledged marker and rule must read back through the service itself
(`timeline.markers`, `rules()`).
"""

from __future__ import annotations

import ast
import json
import random
import signal
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from tests.conftest import ServiceProcess, free_port, wait_until
from tests.gateway.peer import Peer
from vibeweaver.wire import (
    WeaveEvalReply,
    WeaveEvalRequest,
    decode_reply,
    parse_multipart,
)

SEED = 20_240_914
ROUNDS = 10
WINDOW = 3
"""Requests the writer keeps in flight, so a kill can land on several writes at different stages."""

CHECK_BACK = """\
import json
_names = {{m.name for m in timeline.markers}}
_ids = {{r.id for r in rules()}}
print(json.dumps({{
    "missing_markers": sorted(set({markers!r}) - _names),
    "missing_rules": sorted(set({rules!r}) - _ids),
    "in_flight_committed": sorted(set({in_flight!r}) & _names),
    "markers": len(_names),
    "rules": len(_ids),
}}))
"""
"""Compares inside the service: a cell's captured output is capped (8 KB); the lists are not."""


@dataclass
class RoundLog:
    """What one round's writer saw: acknowledged markers and rules, and the writes in flight."""

    markers: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    in_flight: dict[bytes, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return len(self.markers) + len(self.rules)


def write_cell(round_no: int, i: int) -> tuple[str, str]:
    """Every fourth write is a decorated rule (the cell returns its id), the rest markers."""
    if i % 4 == 3:
        name = f"r{round_no}_{i}"
        code = f"@on_beat(4)\ndef {name}(beat):\n    pass\n{name}.rule_id"
        return f"rule:{name}", code
    name = f"m{round_no}_{i}"
    return f"marker:{name}", f"marker({name!r}, {i})"


def writer(endpoint: str, round_no: int, log: RoundLog, stop: threading.Event) -> None:
    """Keep WINDOW writes in flight until `stop`; record each one acknowledged with a reply."""
    peer = Peer(endpoint)
    try:
        i = 0
        while not stop.is_set():
            while len(log.in_flight) < WINDOW:
                label, code = write_cell(round_no, i)
                rid = peer.request(WeaveEvalRequest(code=code))
                log.in_flight[rid] = label
                i += 1
            if not peer.socket.poll(20):
                continue
            _, frame = parse_multipart(peer.socket.recv_multipart(zmq.NOBLOCK))
            label = log.in_flight.pop(frame.request_id, "")
            reply = decode_reply(frame.body)
            if isinstance(reply, WeaveEvalReply) and label.startswith("rule:"):
                log.rules.append(ast.literal_eval(reply.result))
            elif isinstance(reply, WeaveEvalReply) and label.startswith("marker:"):
                log.markers.append(label.removeprefix("marker:"))
            else:
                log.errors.append(f"{label}: {reply}")
    finally:
        peer.close()


def start_service(data_dir: Path) -> tuple[ServiceProcess, str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    service = ServiceProcess(
        "--data-dir",
        str(data_dir),
        "--router",
        endpoint,
        "--hootenanny",
        "none",
        "--broadcasts",
        "none",
        "--http",
        "none",
    )
    service.wait_for_line("vibeweaver: ready", timeout=30)
    return service, endpoint


def check_back(
    endpoint: str, markers: set[str], rules: set[str], in_flight: set[str]
) -> dict[str, Any]:
    """Which acknowledged markers and rules the restarted service does not have (read through
    `timeline.markers` and `rules()`), and which markers in flight at the kill it does have."""
    code = CHECK_BACK.format(
        markers=sorted(markers), rules=sorted(rules), in_flight=sorted(in_flight)
    )
    peer = Peer(endpoint)
    try:
        _, reply = peer.call(WeaveEvalRequest(code=code), timeout=30)
    finally:
        peer.close()
    assert isinstance(reply, WeaveEvalReply), reply
    found: dict[str, Any] = json.loads(reply.stdout)
    return found


def integrity(db: Path) -> str:
    raw = sqlite3.connect(db)
    try:
        return "; ".join(str(row[0]) for row in raw.execute("PRAGMA integrity_check"))
    finally:
        raw.close()


def test_sigkill_during_acknowledged_writes_loses_nothing_and_keeps_the_file_intact(
    tmp_path: Path, service_processes: list[ServiceProcess]
) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    db = data_dir / "vibeweaver.db"
    acked_markers: set[str] = set()
    acked_rules: set[str] = set()
    unacked_found = 0
    kills = 0

    service, endpoint = start_service(data_dir)
    service_processes.append(service)
    for round_no in range(ROUNDS):
        log = RoundLog()
        stop = threading.Event()
        thread = threading.Thread(
            target=writer, args=(endpoint, round_no, log, stop), name=f"writer-{round_no}"
        )
        thread.start()
        # the kill lands at a random point of the stream: after a seeded number of acks, at
        # whatever stage the writes in flight have reached then
        target = rng.randint(5, 120)
        try:
            wait_until(lambda: log.acknowledged >= target or log.errors, timeout=30, interval=0.002)  # noqa: B023
        finally:
            service.proc.send_signal(signal.SIGKILL)
            kills += 1
            assert service.proc.wait(10) == -signal.SIGKILL
            stop.set()
            thread.join(10)
        assert not thread.is_alive()
        assert log.errors == []
        in_flight = set(log.in_flight.values())
        acked_markers.update(log.markers)
        acked_rules.update(log.rules)

        assert integrity(db) == "ok", f"round {round_no}"

        service, endpoint = start_service(data_dir)
        service_processes.append(service)
        in_flight_markers = {
            label.removeprefix("marker:") for label in in_flight if label.startswith("marker:")
        }
        found = check_back(endpoint, acked_markers, acked_rules, in_flight_markers)
        assert found["missing_markers"] == [], f"round {round_no}: acknowledged markers lost"
        assert found["missing_rules"] == [], f"round {round_no}: acknowledged rules lost"
        assert found["markers"] >= len(acked_markers) and found["rules"] >= len(acked_rules)
        unacked_found += len(found["in_flight_committed"])

    assert service.stop() == 0
    assert integrity(db) == "ok"
    acknowledged = len(acked_markers) + len(acked_rules)
    assert kills == ROUNDS and acknowledged >= ROUNDS * 5
    print(
        f"\n{kills} SIGKILLs during writes: 0 of {acknowledged} acknowledged writes lost "
        f"({len(acked_markers)} markers, {len(acked_rules)} rules), integrity_check ok after "
        f"every kill; {unacked_found} writes in flight at a kill were also found committed"
    )
