"""Start → first eval with many stored rules and history rows, and the RSS that holds them.

Seeds a database with N rules (a tenth callbacks, the rest beat and marker rules with Notify
actions) and N history rows in one session, then measures, in a fresh process each time:

- `vibeweaver serve` started on it → the first weaveEval `1+1` answered over the ROUTER;
- until the scheduler has indexed every rule (they load in batches after the start), and the
  RSS then of the service and of its kernel process (its child);
- the floor: the same rows read back with raw sqlite3 (SELECT * of both tables) in the same run.

Target (SPEC §5): start → first eval ≤ 3 s with 100,000 rules and 100,000 history rows.

Run: .venv/bin/python ops/bench/bench_startup.py [--rules 100000] [--history 100000] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import Results, header
from vibeweaver.wire import envelope
from vibeweaver.wire.frames import build_multipart, parse_multipart, request_frame

ISOLATED = ["--hootenanny", "none", "--broadcasts", "none", "--http", "none"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(data_dir: Path, rules: int, history: int) -> None:
    """Create the schema with a short run (started, ready, SIGTERM), then insert rows with raw
    sqlite3."""
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "vibeweaver", "serve", "--data-dir", str(data_dir), "--router",
         "none", *ISOLATED, "--session", "big"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("vibeweaver: ready"):
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    db = data_dir / "vibeweaver.db"
    with sqlite3.connect(db) as raw:
        (session_id,) = raw.execute("SELECT id FROM sessions WHERE name = 'big'").fetchone()
        source = "def accent(beat):\n    return beat\n"
        rows = []
        for i in range(rules):
            if i % 10 == 0:
                trigger = ("beat", json.dumps({"divisor": 4}))
                action = ("callback", json.dumps({"name": "accent", "source": source}))
            elif i % 2:
                trigger = ("beat", json.dumps({"divisor": 8 + i % 7}))
                action = ("notify", json.dumps({"message": f"beat note {i}"}))
            else:
                trigger = ("marker", json.dumps({"name": f"m{i}"}))
                action = ("notify", json.dumps({"message": f"marker note {i}"}))
            rows.append((f"rule_{i}", session_id, *trigger, *action, 1, "2026-01-01", i + 1))
        raw.executemany(
            "INSERT INTO rules (id, session_id, trigger_type, trigger_params, action_type, "
            "action_params, enabled, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        columns = [row[1] for row in raw.execute("PRAGMA table_info(history)")]
        values = {
            "session_id": session_id,
            "action": "eval",
            "params": "x = 1",
            "result": None,
            "success": 1,
            "created_at": "2026-01-01T00:00:00+00:00",
        }
        names = [c for c in columns if c in values]
        raw.executemany(
            f"INSERT INTO history ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",  # noqa: S608
            [tuple(values[c] for c in names)] * history,
        )


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def first_eval(data_dir: Path, rules: int) -> tuple[float, float, int, int]:
    """(seconds from spawning serve to the first weaveEval reply, seconds until the scheduler
    has indexed every rule, RSS in bytes then of the service and of its children: the kernel)."""
    import urllib.request

    import zmq

    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    http = f"127.0.0.1:{free_port()}"
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "vibeweaver", "serve", "--data-dir", str(data_dir), "--router",
         endpoint, *ISOLATED[:-2], "--http", http],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        rid = os.urandom(16)
        frames = build_multipart(
            (),
            request_frame(rid, envelope.encode_request(rid, envelope.WeaveEvalRequest(code="1+1"))),
        )
        dealer.send_multipart(frames)  # queued by zmq until the ROUTER is bound
        while True:
            if not dealer.poll(120_000):
                raise RuntimeError("no reply within 120 s")
            _, frame = parse_multipart(dealer.recv_multipart())
            if frame.request_id == rid:
                break
        elapsed = time.monotonic() - started
        while True:  # every rule indexed by the scheduler (batches after the start)
            try:
                with urllib.request.urlopen(f"http://{http}/admin/system", timeout=10) as response:
                    total = json.load(response).get("rules", {}).get("total", 0)
            except OSError:  # the HTTP listener starts after the ROUTER: not up yet
                total = -1
            if total >= rules:
                break
            time.sleep(0.05)
        loaded = time.monotonic() - started
        kernel = 0
        for child in children(proc.pid):
            try:
                kernel += rss_bytes(child)
            except OSError:
                continue  # ended meanwhile
        return elapsed, loaded, rss_bytes(proc.pid), kernel
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        dealer.close(0)
        context.term()


def floor_read(db: Path) -> float:
    started = time.monotonic()
    with sqlite3.connect(db) as raw:
        raw.execute("SELECT * FROM rules").fetchall()
        raw.execute("SELECT * FROM history").fetchall()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    title = f"start → first eval with {args.rules:,} rules and {args.history:,} history rows"
    header(title)
    results = Results("bench_startup", title)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        seed(data_dir, args.rules, args.history)
        floor = floor_read(data_dir / "vibeweaver.db")
        elapsed, loaded, rss, kernel_rss = first_eval(data_dir, args.rules)
    print(f"{'floor: raw sqlite3 read of both tables':<52} {floor * 1000:>9.1f} ms")
    print(f"{'vibeweaver: serve started → first eval answered':<52} {elapsed * 1000:>9.1f} ms")
    print(f"{'vibeweaver: serve started → every rule indexed':<52} {loaded * 1000:>9.1f} ms")
    print(f"{'vibeweaver: RSS with every rule indexed':<52} {rss / 2**20:>9.1f} MiB")
    print(f"{'vibeweaver: RSS of the kernel process then':<52} {kernel_rss / 2**20:>9.1f} MiB")
    size = f"{args.rules:,} rules, {args.history:,} history rows"
    targeted = args.rules >= 100_000 and args.history >= 100_000
    floor_label = "raw sqlite3 read of both tables"
    results.add(
        "start_to_first_eval_ms",
        elapsed * 1000,
        "ms",
        f"serve started → first eval answered, {size}",
        floor=floor * 1000,
        floor_label=floor_label,
        target="≤ 3,000 ms (SPEC §5)" if targeted else None,
        met=elapsed <= 3.0 if targeted else None,
    )
    results.add(
        "start_to_rules_indexed_ms",
        loaded * 1000,
        "ms",
        f"serve started → every rule indexed by the scheduler, {size}",
        floor=floor * 1000,
        floor_label=floor_label,
    )
    results.add("rss_mib", rss / 2**20, "MiB", f"service RSS with every rule indexed, {size}")
    results.add("kernel_rss_mib", kernel_rss / 2**20, "MiB", f"kernel process RSS then, {size}")
    results.details.update(rules=args.rules, history=args.history)
    results.write(args.json)


if __name__ == "__main__":
    main()
