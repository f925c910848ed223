"""Beat lateness of declarative actions at 180 BPM, with the kernel idle and while a cell burns CPU.

`rule(Beat(1), Notify(...))` fires on every beat; the RuleScheduler records each firing's lateness
(the time it ran minus the beat's ideal time) and reports p50/p99 (GetSchedulerStatus). Two runs of
`--seconds` each in fresh Weavers: the kernel idle, and a cell spinning in a `while` loop the whole
time (SPEC §5: declarative action lateness p99 ≤ 5 ms while a cell burns CPU). Floor, same run: a
thread sleeping to deadlines with the same period (threading.Event.wait), its oversleep p50/p99.

Run: .venv/bin/python ops/bench/bench_lateness.py [--seconds 5] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.bench.benchlib import header, percentile
from vibeweaver import logs
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.config import Config
from vibeweaver.weaver import Weaver

BPM = 180.0


def floor_oversleep(seconds: float) -> tuple[float, float]:
    period = 60.0 / BPM
    event = threading.Event()
    late = []
    due = time.monotonic() + period
    end = time.monotonic() + seconds
    while due < end:
        event.wait(max(0.0, due - time.monotonic()))
        late.append((time.monotonic() - due) * 1000)
        due += period
    return percentile(late, 0.5), percentile(late, 0.99)


def lateness(seconds: float, *, burn: bool) -> sm.SchedulerStatus:
    from vibeweaver.service import ToolService  # after the Weaver: it imports the actors

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            data_dir=Path(tmp), router=None, hootenanny=None, broadcasts=None, http=None
        )
        with Weaver(config, configure_logging=False) as weaver:
            service = ToolService(weaver.system, eval_timeout=seconds + 30)
            setup = f"rule(Beat(1), Notify('beat'))\ntempo({BPM:g})\nplay()"
            assert service.evaluate(setup, timeout_s=30).status == "ok"
            if burn:
                cell = (
                    f"import time\nend = time.monotonic() + {seconds}\n"
                    "while time.monotonic() < end:\n    pass"
                )
                assert service.evaluate(cell, timeout_s=seconds + 30).status == "ok"
            else:
                time.sleep(seconds)
            status = weaver.handle("scheduler").ask(sm.GetSchedulerStatus(), timeout=10)
            assert isinstance(status, sm.SchedulerStatus)
            return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logs.configure("warning")
    header(f"declarative action lateness at {BPM:g} BPM")
    p50, p99 = floor_oversleep(args.seconds)
    label = "floor: thread sleeping to deadlines, oversleep"
    print(f"{label:<52} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    figures = {"floor_p50_ms": p50, "floor_p99_ms": p99}
    for label, burn in (("kernel idle", False), ("a cell burning CPU", True)):
        status = lateness(args.seconds, burn=burn)
        line = f"vibeweaver: Beat(1) → Notify, {label}"
        print(
            f"{line:<52} p50 {status.lateness_p50_ms or 0:7.2f} ms   "
            f"p99 {status.lateness_p99_ms or 0:7.2f} ms   ({status.lateness_count} firings)"
        )
        key = "burning" if burn else "idle"
        figures[f"{key}_p50_ms"] = status.lateness_p50_ms or 0.0
        figures[f"{key}_p99_ms"] = status.lateness_p99_ms or 0.0
    if args.json is not None:
        args.json.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
