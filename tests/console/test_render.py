"""Pure rendering shared by `status` and the console: formats, stuck detection, sorting, widths."""

from __future__ import annotations

from typing import Any

import pytest

from vibeweaver.console.client import AdminError, base_url
from vibeweaver.console.render import (
    columns_for_width,
    eval_stack_lines,
    fmt_count,
    fmt_ms,
    is_stuck,
    last_error_lines,
    rates_between,
    render_detail,
    render_system,
    render_table,
    row_level,
    sort_actors,
    stack_text,
    stuck_summary,
)


def actor(name: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name,
        "actor_class": name.title(),
        "state": "alive",
        "mailbox_depth": 0,
        "mailbox_high_water": 1,
        "queued_asks": 0,
        "enqueued": 1,
        "oldest_message_age_ms": None,
        "current_message": None,
        "current_message_kind": None,
        "current_message_ms": None,
        "handled": 1,
        "failed": 0,
        "restarts": 0,
        "dead_letters": 0,
        "last_error": None,
        "last_error_at": None,
        "thread": f"{name}-0",
        "uptime_s": 1.0,
    }
    row.update(values)
    return row


ACTORS = [
    actor("supervisor"),
    actor("store", handled=1500, mailbox_high_water=40),
    actor(
        "kernel",
        current_message="Evaluate",
        current_message_ms=2500.0,
        mailbox_depth=1,
        oldest_message_age_ms=1200.0,
    ),
    actor("gateway", handled=20, restarts=2, last_error="InjectedFault: boom"),
]


def test_durations_and_counts_fit_in_six_characters() -> None:
    assert fmt_ms(None) == "-"
    assert fmt_ms(0.009) == "9µs"
    assert fmt_ms(850) == "850ms"
    assert fmt_ms(3100) == "3.1s"
    assert fmt_ms(42_000) == "42s"
    assert fmt_ms(125_000) == "2m05s"
    assert fmt_ms(3 * 3600_000) == "3.0h"
    assert fmt_count(999_999) == "999999"
    assert fmt_count(1_234_567) == "1.2M"
    for value in (0.001, 0.5, 999.0, 59_999.0, 3_599_000.0, 86_000_000.0, 9e9):
        assert len(fmt_ms(value)) <= 6, value


def test_durations_fit_the_five_character_run_column_even_where_rounding_carries() -> None:
    assert fmt_ms(0.9996) == "1ms" and fmt_ms(999.6) == "1.0s"
    assert fmt_ms(599_600) == "10m" and fmt_ms(60_000) == "1m00s"
    for value in (0.9996, 999.6, 9_960.0, 59_600.0, 599_400.0, 3_599_600.0, 99 * 86_400_000.0):
        assert len(fmt_ms(value)) <= 5, (value, fmt_ms(value))


def test_at_80_columns_every_column_but_the_rate_and_the_last_error_fits() -> None:
    # the console gives the table 78 (80 less a scrollbar, one gap per cell)
    for width in (78, 80):
        keys = [column.key for column in columns_for_width(width)]
        assert keys == [
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
            "queued_asks",
            "dead_letters",
        ]
    lines = render_table([*ACTORS, actor("store", state="restarting")], width=80)
    assert lines[0].endswith(" ASKS DEAD") and all(len(line) <= 80 for line in lines)
    assert "restart " in lines[-1]  # a short state label keeps STATE at 7 characters
    wide = [column.key for column in columns_for_width(100)]
    assert "rate" in wide and "last_error" in wide


def test_last_errors_are_listed_for_a_screen_without_the_column() -> None:
    assert last_error_lines(ACTORS, width=30) == ["  gateway: InjectedFault: boom"]
    assert last_error_lines(ACTORS, width=20) == ["  gateway: Injected…"]


def test_an_actor_is_stuck_when_its_message_runs_or_waits_longer_than_a_second() -> None:
    assert not is_stuck(actor("a", current_message="X", current_message_ms=999.0))
    assert is_stuck(actor("a", current_message="X", current_message_ms=1001.0))
    assert is_stuck(actor("a", oldest_message_age_ms=1500.0))
    assert row_level(actor("a", oldest_message_age_ms=1500.0)) == "stuck"
    assert row_level(actor("a", state="restarting")) == "trouble"
    assert row_level(actor("a", state="failed")) == "down"
    assert row_level(actor("a")) == "ok"
    summary = stuck_summary(ACTORS)
    assert summary == "stuck: kernel (Evaluate running 2.5s)"
    assert stuck_summary([actor("a")]) is None


def test_the_table_fits_80_columns_and_keeps_every_spec_column_it_can() -> None:
    lines = render_table(ACTORS, width=80)
    assert all(len(line) <= 80 for line in lines)
    header = lines[0]
    for title in (
        "ACTOR",
        "STATE",
        "MBOX",
        "HIGH",
        "OLDEST",
        "CURRENT",
        "RUN",
        "HANDLED",
        "FAIL",
        "RST",
    ):
        assert title in header
    kernel_line = next(line for line in lines if "kernel" in line)
    assert kernel_line.startswith("!kernel")
    assert "Evaluate" in kernel_line
    assert "2.5s" in kernel_line
    assert "1.2s" in kernel_line
    wide = render_table(ACTORS, width=140)
    assert "LAST ERROR" in wide[0]
    assert any("InjectedFault: boom" in line for line in wide)


def test_narrow_screens_drop_the_least_important_columns_first() -> None:
    keys = [column.key for column in columns_for_width(60)]
    assert keys[:2] == ["name", "state"]
    assert "current_message" in keys
    assert "last_error" not in keys
    assert sum(c.width for c in columns_for_width(60)) + len(keys) - 1 <= 60


def test_sorting_puts_the_biggest_numbers_first_and_names_alphabetically() -> None:
    assert [a["name"] for a in sort_actors(ACTORS, "handled")][:2] == ["store", "gateway"]
    assert [a["name"] for a in sort_actors(ACTORS, "handled", reverse=True)][-1] == "store"
    assert [a["name"] for a in sort_actors(ACTORS, "name")] == [
        "gateway",
        "kernel",
        "store",
        "supervisor",
    ]
    assert [a["name"] for a in sort_actors(ACTORS, "start")] == [a["name"] for a in ACTORS]
    assert sort_actors(ACTORS, "current_message_ms")[0]["name"] == "kernel"
    with pytest.raises(ValueError, match="cannot sort by"):
        sort_actors(ACTORS, "colour")


def test_rates_come_from_the_difference_between_two_snapshots() -> None:
    later = [dict(a, handled=a["handled"] + 10) for a in ACTORS]
    rates = rates_between(ACTORS, later, 2.0)
    assert rates["store"] == 5.0
    assert rates_between(None, later, 2.0) == {}


def test_the_detail_view_names_the_current_message_queue_stack_and_timings() -> None:
    detail = dict(
        ACTORS[2],
        handled_asks=3,
        handled_tells=1,
        queued_asks=1,
        current_message_kind="ask",
        queued_messages=[{"type": "Evaluate", "kind": "ask", "age_ms": 1200.0}] * 3,
        mailbox_wait={"p50_ms": 0.02, "p95_ms": 1.5, "max_ms": 2.0, "samples": 4},
        message_types={
            "Evaluate": {"count": 3, "failed": 0, "p50_ms": 2.0, "p95_ms": 3000.0, "max_ms": 3000.0}
        },
        recent_messages=[
            {"type": "Evaluate", "at": 0, "ago_s": 4.0, "duration_ms": 2.0, "ok": True}
        ],
        stack=['  File "/x/vibeweaver/kernel/engine.py", line 169, in evaluate\n    job = run()\n'],
        last_error="ValueError: bad",
        last_error_traceback="Traceback...\nValueError: bad\n",
        last_error_at=0.0,
    )
    text = "\n".join(render_detail(detail, width=80))
    assert "kernel (Kernel) · alive" in text
    assert "current: Evaluate (ask) running 2.5s  << STUCK" in text
    assert "queued: Evaluate[ask] ×3" in text
    assert "engine.py:169 in evaluate: job = run()" in text
    assert "last error" in text and "ValueError: bad" in text
    assert "wait p50 20µs p95 2ms" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_stack_entries_are_shortened_to_file_line_function_and_code() -> None:
    frames = ['  File "/usr/lib/python3.11/threading.py", line 331, in wait\n    gotit = x()\n']
    assert stack_text(frames) == ["threading.py:331 in wait: gotit = x()"]


def frame(function: str, *, user: bool = False, file: str = "/x/runner.py") -> dict[str, Any]:
    return {
        "file": "<cell-3>" if user else file,
        "line": 2,
        "function": function,
        "code": f"{function}()",
        "user": user,
    }


def test_the_eval_stack_marks_user_frames_and_keeps_them_when_clipped() -> None:
    stack = [frame(f"outer{i}") for i in range(10)]
    stack += [frame("<module>", user=True), frame("spin", user=True)]
    stack += [frame(f"lib{i}") for i in range(10)]
    detail = dict(
        ACTORS[2],
        eval_thread="kernel-eval",
        eval_stack=stack,
        eval_stack_omitted=5,
        eval_where="<cell-3>:2 in spin: spin()",
    )
    lines = eval_stack_lines(detail, stack_lines=6)
    assert lines == [
        "eval thread kernel-eval (innermost last, ▶ user code):",
        "  … 15 frames",  # 5 left out by the endpoint, 10 outer frames here
        "  ▶ <cell-3>:2 in <module>: <module>()",
        "  ▶ <cell-3>:2 in spin: spin()",
        "  … 6 frames",
        "    runner.py:2 in lib6: lib6()",
        "    runner.py:2 in lib7: lib7()",
        "    runner.py:2 in lib8: lib8()",
        "    runner.py:2 in lib9: lib9()",
    ]
    text = "\n".join(render_detail(detail, width=80))
    assert "eval at: <cell-3>:2 in spin: spin()" in text
    assert "  ▶ <cell-3>:2 in spin: spin()" in text
    # an idle eval thread: no user frames, the innermost frames only
    idle = eval_stack_lines({"eval_thread": "kernel-eval", "eval_stack": stack[:3]})
    assert idle[1:] == [f"    runner.py:2 in outer{i}: outer{i}()" for i in range(3)]
    assert eval_stack_lines({"eval_thread": None, "eval_stack": []}) == [
        "eval thread -: no stack (not running)"
    ]
    # other actors have no eval thread, and no such section
    assert "eval thread" not in "\n".join(render_detail(ACTORS[2], width=80))


def test_the_system_view_shows_sockets_rules_dead_letters_and_the_database() -> None:
    system = {
        "uptime_s": 61.0,
        "pid": 7,
        "state": "running",
        "session": {"id": "session_1", "name": "jam"},
        "sockets": [
            {
                "name": "router",
                "endpoint": "tcp://127.0.0.1:5575",
                "kind": "ROUTER bind",
                "received": 12,
                "sent": 11,
                "dropped": 0,
                "errors": 0,
                "last_seen_age_s": 0.5,
            }
        ],
        "rules": {"total": 3, "enabled": 2},
        "kernel": {"execution_count": 5},
        "dead_letters": {
            "total": 1,
            "by_actor": {"kernel": 1},
            "recent": [{"at": 0.0, "actor": "kernel", "message": "Evaluate", "reason": "stopped"}],
        },
        "database": {"path": "/data/vibeweaver.db", "size_bytes": 2048},
    }
    text = "\n".join(render_system(system, width=80))
    assert "session jam (session_1) · up 1m01s" in text
    assert "router  ROUTER bind   tcp://127.0.0.1:5575  in 12 out 11  seen 500ms ago" in text
    assert "rules 3 (2 enabled) · kernel executions 5" in text
    assert "dead letters 1 (kernel 1)" in text
    assert "kernel Evaluate (stopped)" in text
    assert "database /data/vibeweaver.db · 2.0 KB" in text
    assert "FAILING" not in text

    system["database"] = {
        "path": "/data/vibeweaver.db",
        "size_bytes": 2048,
        "pending_writes": 12,
        "write_error": "disk I/O error",
        "dropped_writes": 0,
    }
    text = "\n".join(render_system(system, width=80))
    assert (
        "database /data/vibeweaver.db · 2.0 KB\n"
        "  WRITES FAILING (12 pending, 0 dropped): disk I/O error\n"
    ) in text


def test_http_addresses_become_loopback_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIBEWEAVER_HTTP", raising=False)
    assert base_url(None) == "http://127.0.0.1:8765"
    assert base_url("0.0.0.0:9000") == "http://127.0.0.1:9000"
    assert base_url("::1:9000") == "http://[::1]:9000"
    assert base_url("https://example.org/") == "https://example.org"
    monkeypatch.setenv("VIBEWEAVER_HTTP", "127.0.0.1:9100")
    assert base_url(None) == "http://127.0.0.1:9100"
    with pytest.raises(AdminError, match="HOST:PORT"):
        base_url("localhost")
