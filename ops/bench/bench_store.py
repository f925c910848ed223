"""SessionStore writes through the actor, next to raw sqlite3 floors on the same pragmas.

- Rule firings: N `RecordRuleFired` tells (batched by the store) then one `Flush` ask, in rows/s,
  vs raw sqlite3 `executemany` UPDATEs in one transaction (WAL, synchronous=NORMAL).
- Acknowledged writes: `SaveRule` asks (committed before the reply) p50/p99, vs one raw sqlite3
  INSERT in autocommit on the same pragmas.

Run: .venv/bin/python ops/bench/bench_store.py [--n 20000] [--json F]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import Results, header, latency_line, now_us, rate_line
from vibeweaver.config import Config
from vibeweaver.persistence.database import SQLITE_PRAGMAS
from vibeweaver.persistence.records import RuleRecord
from vibeweaver.persistence.repository import utc_now
from vibeweaver.types import RuleId
from vibeweaver.weaver import Weaver


def raw_floor(path: Path, rules: int, n: int) -> tuple[float, list[float]]:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode", "synchronous"):
        db.execute(f"PRAGMA {pragma} = {SQLITE_PRAGMAS[pragma]}")
    db.execute("CREATE TABLE rules (id TEXT PRIMARY KEY, fired_count INTEGER, last_fired_at TEXT)")
    db.executemany("INSERT INTO rules VALUES (?, 0, NULL)", [(f"r{i}",) for i in range(rules)])
    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(
        "UPDATE rules SET fired_count = fired_count + 1, last_fired_at = ? WHERE id = ?",
        [(utc_now(), f"r{i % rules}") for i in range(n)],
    )
    db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    samples = []
    for i in range(500):
        t0 = now_us()
        db.execute("INSERT INTO rules VALUES (?, 0, NULL)", (f"ack{i}",))
        samples.append(now_us() - t0)
    db.close()
    return elapsed, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="rule firings to persist")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    title = "session store writes (sqlite WAL, synchronous=NORMAL)"
    header(title)
    results = Results("bench_store", title)
    rules = 100
    with tempfile.TemporaryDirectory() as tmp:
        floor_s, floor_ack = raw_floor(Path(tmp) / "floor.db", rules, args.n)
        floor_rate = rate_line(
            "floor: raw sqlite3 executemany UPDATE, 1 txn", args.n, floor_s, "rows/s"
        )
        floor_latency = latency_line("floor: raw sqlite3 INSERT, autocommit", floor_ack)

        from vibeweaver import logs

        logs.configure("warning")
        config = Config(
            data_dir=Path(tmp) / "vw", router=None, hootenanny=None, broadcasts=None, http=None
        )
        with Weaver(config, configure_logging=False) as weaver:
            if weaver.session is None:
                raise SystemExit("the Weaver started without a session")
            session_id = weaver.session.id
            ids = [RuleId(f"rule_{i}") for i in range(rules)]
            for rule_id in ids:
                weaver.store.save_rule(
                    RuleRecord(
                        id=rule_id,
                        session_id=session_id,
                        trigger_type="beat",
                        trigger_params='{"divisor":1}',
                        action_type="notify",
                        action_params='{"message":"x"}',
                    )
                )
            stamp = utc_now()
            started = time.perf_counter()
            for i in range(args.n):
                weaver.store.record_rule_fired(ids[i % rules], stamp)
            weaver.store.flush()
            elapsed = time.perf_counter() - started
            rate = rate_line("vibeweaver: RecordRuleFired tells + Flush", args.n, elapsed, "rows/s")
            total = sum(r.fired_count for r in weaver.store.list_rules(session_id))
            assert total == args.n, f"persisted {total} of {args.n} firings"

            samples = []
            for i in range(500):
                record = RuleRecord(
                    id=RuleId(f"ack_{i}"),
                    session_id=session_id,
                    trigger_type="beat",
                    trigger_params='{"divisor":1}',
                    action_type="notify",
                    action_params='{"message":"x"}',
                )
                t0 = now_us()
                weaver.store.save_rule(record)
                samples.append(now_us() - t0)
            acked = latency_line("vibeweaver: SaveRule ask (committed before reply)", samples)
    results.add(
        "firings_per_s",
        rate,
        "rows/s",
        "rule firings persisted (batched RecordRuleFired tells + one Flush)",
        floor=floor_rate,
        floor_label="raw sqlite3 executemany UPDATE, 1 txn",
    )
    results.add_latencies(
        "save_rule_{stat}_us",
        "acknowledged rule write (SaveRule, committed before the reply), {stat}",
        acked,
        floor_latency,
        "raw sqlite3 INSERT, autocommit, {stat}",
    )
    results.write(args.json)


if __name__ == "__main__":
    main()
