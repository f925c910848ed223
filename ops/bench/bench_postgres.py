"""Scale-out on PostgreSQL (SPEC §4.7): N vibeweaver processes (1, 4, 16) on one PostgreSQL, each
with its own session, each doing acknowledged writes (`marker()`) and evals through the real
service (weaveEval over ZeroMQ from a raw DEALER, as hootenanny sends them). Reported: writes/s
in total and per process, and the p50/p99 of a marker cell's round trip; next to the same load
on sqlite (one process) and to pgbench's simple-update (`pgbench -N`, same client count) on the
same server in the same run (the floor: what the server does without vibeweaver in front).

The server is a throw-away cluster (tests/pg_server.py: Debian's binaries, installed with
apt-get if missing and run as root) with fsync on, as a real deployment runs; or `--pg-url` with
PGPASSWORD set for an existing one (pgbench then creates its tables in that database).

Run: .venv/bin/python ops/bench/bench_postgres.py [--processes 1 4 16] [--n 200] [--json F]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import Results, header, percentile
from tests.pg_server import PASSWORD, PgServer, start_server
from vibeweaver.wire import (
    WeaveEvalReply,
    WeaveEvalRequest,
    build_multipart,
    decode_reply,
    encode_request,
    parse_multipart,
    request_frame,
)

READY_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One `vibeweaver serve` subprocess with its ROUTER on a loopback port."""

    def __init__(self, data_dir: Path, db: str, session: str, env: dict[str, str]) -> None:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        args = ["--data-dir", str(data_dir), "--db", db, "--session", session]
        args += ["--router", self.endpoint, "--hootenanny", "none", "--broadcasts", "none"]
        args += ["--http", "none", "--log-level", "warning"]
        self.proc = subprocess.Popen(  # noqa: S603 - sys.executable, fixed arguments
            [sys.executable, "-m", "vibeweaver", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.ready = threading.Event()
        self.tail: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "vibeweaver: ready" in line:
                self.ready.set()
            self.tail = [*self.tail, line.rstrip()][-20:]

    def wait_ready(self, deadline: float) -> None:
        while not self.ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("a service did not start:\n" + "\n".join(self.tail))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Load:
    """What one client measured against one service."""

    marker_us: list[float] = field(default_factory=list)
    eval_us: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def drive(endpoint: str, n: int, start: threading.Barrier, load: Load) -> None:
    """n rounds of one acknowledged marker() cell then one plain eval cell, one at a time."""
    context: zmq.Context[Any] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, b"vibeweaver")
    sock.connect(endpoint)

    def call(code: str) -> float:
        rid = os.urandom(16)
        began = time.perf_counter()
        sock.send_multipart(build_multipart((), request_frame(rid, encode_request(rid, req(code)))))
        while True:
            if not sock.poll(60_000):
                raise RuntimeError("no reply within 60 s")
            _, frame = parse_multipart(sock.recv_multipart())
            if frame.request_id == rid:
                break
        elapsed = (time.perf_counter() - began) * 1e6
        reply = decode_reply(frame.body)
        if not isinstance(reply, WeaveEvalReply):
            load.errors.append(str(reply)[:200])
        return elapsed

    try:
        call("marker('warmup', 0)")
        start.wait(READY_TIMEOUT_S)
        for i in range(n):
            load.marker_us.append(call(f"marker('m{i}', {i})"))
            load.eval_us.append(call(f"x = {i} * 2"))
    finally:
        sock.close(0)
        context.term()


def req(code: str) -> WeaveEvalRequest:
    return WeaveEvalRequest(code=code)


def run_load(db_for: Any, processes: int, n: int, env: dict[str, str]) -> dict[str, Any]:
    """Start `processes` services (db_for(i) gives each one's --db), drive them together."""
    root = Path(tempfile.mkdtemp(prefix="vw-bench-pg-"))
    services: list[Service] = []
    try:
        for i in range(processes):
            services.append(Service(root / f"agent{i}", db_for(i), f"agent_{i}", env))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for service in services:
            service.wait_ready(deadline)
        loads = [Load() for _ in services]
        barrier = threading.Barrier(processes + 1)
        threads = [
            threading.Thread(target=drive, args=(s.endpoint, n, barrier, load), daemon=True)
            for s, load in zip(services, loads, strict=True)
        ]
        for thread in threads:
            thread.start()
        barrier.wait(READY_TIMEOUT_S)
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        errors = [e for load in loads for e in load.errors]
        if errors:
            raise RuntimeError(f"{len(errors)} cells failed, first: {errors[0]}")
        markers = [us for load in loads for us in load.marker_us]
        evals = [us for load in loads for us in load.eval_us]
        total = len(markers) / elapsed
        return {
            "processes": processes,
            "writes_per_s": total,
            "writes_per_s_per_process": total / processes,
            "marker_p50_ms": percentile(markers, 0.5) / 1000,
            "marker_p99_ms": percentile(markers, 0.99) / 1000,
            "eval_p50_ms": percentile(evals, 0.5) / 1000,
        }
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(root, ignore_errors=True)


def pgbench(server_bin: Path, url: str, clients: int, seconds: int, env: dict[str, str]) -> float:
    """tps of pgbench's simple-update script (-N) with `clients` clients."""
    tool = str(server_bin / "pgbench")
    subprocess.run(  # noqa: S603 - the server's own pgbench
        [tool, "-i", "-q", "-s", "1", url], env=env, check=True, capture_output=True, timeout=300
    )
    result = subprocess.run(  # noqa: S603 - the server's own pgbench
        [
            tool,
            "-N",
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            url,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps: {result.stdout[-500:]}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument("--n", type=int, default=200, help="marker+eval rounds per process")
    parser.add_argument("--pgbench-seconds", type=int, default=5)
    parser.add_argument("--pg-url", default=None, help="an existing server (PGPASSWORD set)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    title = "vibeweaver processes on one PostgreSQL: acknowledged marker() writes + evals"
    header(title)
    results = Results("bench_postgres", title)
    server: PgServer | None = None
    if args.pg_url is None:
        server = start_server(fsync=True)
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        base_url = server.url()
        bin_dir = server.bin_dir
    else:
        env = dict(os.environ)
        base_url = args.pg_url
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
        bin_dir = found[-1].parent if found else Path(shutil.which("pgbench") or "pgbench").parent
    env = {k: v for k, v in env.items() if not k.startswith("VIBEWEAVER_")}
    env["XDG_CONFIG_HOME"] = str(Path(tempfile.gettempdir()) / "vw-bench-no-config")
    figures: dict[str, Any] = {"n_per_process": args.n, "rows": []}
    try:
        print(
            f"{'setup':<34} {'procs':>5} {'writes/s':>10} {'per proc':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'floor':>22}"
        )
        sqlite_root = Path(tempfile.mkdtemp(prefix="vw-bench-sqlite-"))
        try:
            row = run_load(lambda i: f"sqlite:///{sqlite_root / 'vw.db'}", 1, args.n, env)
        finally:
            shutil.rmtree(sqlite_root, ignore_errors=True)
        row["setup"] = "sqlite"
        _print(row, "")
        figures["rows"].append(row)
        for count in args.processes:
            url = server.create_database("bench") if server is not None else base_url
            row = run_load(lambda i, url=url: url, count, args.n, env)
            tps = pgbench(bin_dir, url, count, args.pgbench_seconds, env)
            row["setup"] = "postgresql"
            row["pgbench_N_tps"] = tps
            _print(row, f"pgbench -N -c {count}: {tps:,.0f} tps")
            figures["rows"].append(row)
    finally:
        if server is not None:
            server.destroy()
    for row in figures["rows"]:
        setup, count = row["setup"], row["processes"]
        tps = row.get("pgbench_N_tps")
        results.add(
            f"writes_per_s.{setup}.{count}",
            row["writes_per_s"],
            "writes/s",
            f"marker() writes/s in total, {count} process(es) on {setup}",
            floor=tps,
            floor_label=None if tps is None else f"pgbench -N -c {count}, tps",
        )
        for stat in ("p50", "p99"):
            results.add(
                f"marker_{stat}_ms.{setup}.{count}",
                row[f"marker_{stat}_ms"],
                "ms",
                f"marker cell round trip {stat}, {count} process(es) on {setup}",
            )
    results.details.update(figures)
    results.write(args.json)


def _print(row: dict[str, Any], floor: str) -> None:
    print(
        f"{'vibeweaver on ' + row['setup']:<34} {row['processes']:>5} "
        f"{row['writes_per_s']:>10,.0f} {row['writes_per_s_per_process']:>9,.0f} "
        f"{row['marker_p50_ms']:>8.2f} {row['marker_p99_ms']:>8.2f} {floor:>22}",
        flush=True,
    )


if __name__ == "__main__":
    main()
