"""Migration 0002 and what it serves: a v1 database upgrades in place; the session a start opens;
jobs and artifacts as upserted rows; history read newest first by kind; the summary's bounded
reads (grouped rules) and its rendering. The `repo` tests run on sqlite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playhouse.migrations import Runner

from tests.pg_server import open_test_database
from vibeweaver.persistence.database import open_database
from vibeweaver.persistence.migrate import MIGRATIONS_DIR, migrate, schema_version
from vibeweaver.persistence.records import ArtifactRecord, GenerationJobRecord, RuleRecord
from vibeweaver.persistence.repository import HistoryEntry, Repository, utc_now
from vibeweaver.persistence.summary import ClockLine, ago, render_summary
from vibeweaver.types import RuleId, SessionId


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    database = open_test_database(db_url)
    migrate(database)
    yield Repository(database)
    database.close()


def _history(repo: Repository, session_id: str, *actions: str) -> None:
    repo.append_history(
        HistoryEntry(
            session_id=SessionId(session_id),
            action=action,
            params=None,
            result=None,
            success=True,
            created_at=utc_now(),
        )
        for action in actions
    )


def test_a_v1_database_upgrades_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    database = open_database(f"sqlite:///{path}")
    assert Runner(database, str(MIGRATIONS_DIR)).up(target="0001_initial") == ["0001_initial"]
    database.close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 1")
        raw.execute(
            "INSERT INTO sessions (id, name, tempo_bpm, created_at, updated_at) "
            "VALUES ('session_old', 'jam', 128, '2025-01-01T00:00:00+00:00', "
            "'2025-01-01T00:00:00+00:00')"
        )
        raw.execute(
            "INSERT INTO history (session_id, action, success, created_at) "
            "VALUES ('session_old', 'marker(drop@4)', 1, '2025-01-01T00:00:00+00:00')"
        )

    upgraded = open_database(f"sqlite:///{path}")
    assert migrate(upgraded) == [
        "0002_made_and_resume",
        "0003_marker_names",
        "0004_session_owners",
        "0005_rules_by_seq",
    ]
    assert schema_version(upgraded) == 5
    repo = Repository(upgraded)
    (jam,) = repo.list_sessions()
    assert (jam.name, jam.tempo_bpm, jam.last_used_at) == ("jam", 128.0, None)
    assert [h.action for h in repo.history_page(jam.id)] == ["marker(drop@4)"]
    assert repo.list_jobs(jam.id) == [] and repo.list_artifacts(jam.id) == []
    # nothing says which session a v1 service was in last: a start opens "default", as v1 did
    assert repo.start_session(None).name == "default"
    upgraded.close()
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"artifacts", "jobs", "meta"} <= tables


def test_a_start_without_a_name_opens_the_session_current_when_the_service_last_ran(
    repo: Repository,
) -> None:
    first = repo.start_session(None)
    assert first.name == "default" and first.last_used_at is not None
    jam, _ = repo.open_session("jam")
    repo.use_session(jam.id)  # a switch
    assert repo.current_session_id() == jam.id
    assert repo.start_session(None).id == jam.id
    named = repo.start_session("other")  # --session wins, and becomes current
    assert named.name == "other" and repo.start_session(None).id == named.id
    with pytest.raises(Exception, match="no session with id nope"):
        repo.use_session(SessionId("nope"))


def test_jobs_and_artifacts_are_upserted_without_losing_what_was_known(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    job = GenerationJobRecord(
        id="job_1", session_id=session.id, state="pending", space="musicgen", prompt="pad"
    )
    art = ArtifactRecord(id="artifact_1", session_id=session.id, space="musicgen", prompt="pad")
    repo.write_batch([], [], jobs=[job], artifacts=[art])
    done = GenerationJobRecord(
        id="job_1",
        session_id=session.id,
        state="complete",
        job_id="hoot_1",
        artifact_id="artifact_1",
        duration_ms=1500.0,
        finished_at=utc_now(),
    )
    broadcast = ArtifactRecord(id="artifact_1", session_id=session.id, tags=("type:audio",))
    repo.write_batch([], [], jobs=[done], artifacts=[broadcast])
    (stored,) = repo.list_jobs(session.id)
    assert (stored.space, stored.prompt, stored.state, stored.job_id) == (
        "musicgen",
        "pad",
        "complete",
        "hoot_1",
    )
    assert stored.duration_ms == 1500.0 and stored.finished_at is not None
    (artifact,) = repo.list_artifacts(session.id)
    assert (artifact.space, artifact.prompt, artifact.tags) == ("musicgen", "pad", ("type:audio",))
    assert repo.clear_session(session.id)["jobs"] == 1
    assert repo.list_jobs(session.id) == [] and repo.list_artifacts(session.id) == []


def test_history_reads_newest_first_by_kind_and_the_summary_prefers_actions(
    repo: Repository,
) -> None:
    session, _ = repo.open_session("jam")
    _history(
        repo,
        session.id,
        'sample(orpheus_loops, "kick")',
        "eval",
        "callback accent",
        "marker(drop@4)",
        "sampled",  # not a sample: kinds match whole names
        "eval",
    )
    newest = repo.history_page(session.id, limit=3)
    assert [h.action for h in newest] == ["eval", "sampled", "marker(drop@4)"]
    assert [h.action for h in repo.history_page(session.id, kind="sample")] == [
        'sample(orpheus_loops, "kick")'
    ]
    assert [h.action for h in repo.history_page(session.id, kind="callback")] == ["callback accent"]
    older = repo.history_page(session.id, limit=10, before_id=newest[-1].id)
    assert [h.action for h in older] == [
        "callback accent",
        "eval",
        'sample(orpheus_loops, "kick")',
    ]
    data = repo.summary_data(session.id)
    assert [h.action for h in data.actions] == [
        'sample(orpheus_loops, "kick")',
        "marker(drop@4)",
        "sampled",
    ]
    assert data.last_eval is not None and data.last_eval.action == "eval"
    assert data.history_count == 6


def _rule(session_id: str, i: int, **changes: object) -> RuleRecord:
    values: dict[str, object] = {
        "id": RuleId(f"rule_{i}"),
        "session_id": session_id,
        "trigger_type": "marker",
        "trigger_params": json.dumps({"name": f"m{i}"}),
        "action_type": "notify",
        "action_params": json.dumps({"message": "hi"}),
        "seq": i + 1,
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    values.update(changes)
    return RuleRecord(**values)  # type: ignore[arg-type]


def test_a_summary_of_10000_rules_is_grouped_short_and_rounded(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    other, _ = repo.open_session("jam_2")
    repo.use_session(other.id)
    repo.use_session(session.id)
    callback = json.dumps({"name": "accent", "source": "def accent(beat):\n    pass\n"})
    beat = {"trigger_type": "beat", "trigger_params": '{"divisor":4}'}
    records = []
    for i in range(10_000):
        if i < 3000:
            record = _rule(session.id, i, **beat, action_type="callback", action_params=callback)
        elif i < 3007:
            reason = json.dumps({"message": "x", "disabled_reason": f"broken {i}"})
            record = _rule(session.id, i, enabled=False, action_params=reason)
        else:
            record = _rule(session.id, i)
        records.append(record)
    with repo.database.atomic():  # one statement: save_rule() is the slow, acknowledged path
        repo.database.cursor().executemany(  # type: ignore[no-untyped-call]
            repo.dialect.sql(
                "INSERT INTO rules (id, session_id, trigger_type, trigger_params, action_type, "
                "action_params, enabled, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            [
                (
                    r.id,
                    r.session_id,
                    r.trigger_type,
                    r.trigger_params,
                    r.action_type,
                    r.action_params,
                    int(r.enabled),
                    r.created_at,
                    r.seq,
                )
                for r in records
            ],
        )
    with repo.database.atomic():
        for i in range(40):
            repo.save_marker(session.id, f"mark{i}", i * 1.23456, None)
    data = repo.summary_data(session.id)
    assert data.rules.active == 9993 and data.rules.disabled == 7
    assert data.rules.active_rules == ()  # too many to list: grouped instead
    assert data.rules.active_groups[0].count == 3000
    assert len(data.rules.disabled_rules) == 5
    assert data.marker_count == 40 and len(data.markers) < 40

    notes = [f"note {i}" for i in range(30)]
    text = render_summary(
        data,
        clock=ClockLine(state="playing", beat=12.345678),
        notes=notes,
        lateness="beat lateness p50 0.40 ms, p99 2.1 ms, max 3.0 ms (9 firings)",
    )
    lines = text.splitlines()
    assert len(lines) <= 60 and len(text) < 10_000
    assert "Tempo: 120 BPM · transport playing at beat 12.3" in text
    assert "  - Beat(divisor=4) → callback accent ×3000" in lines
    assert any("more in" in line and "rules() lists them" in line for line in lines)
    assert "Disabled Rules: 7" in lines and "  - … 2 more" in text
    assert "mark1@1.23," in text and "(+" in text and "timeline.markers" in text
    assert "note 29" in text and "note 0\n" not in text and "(22 older not shown)" in text
    assert lines[3].startswith("Other sessions: jam_2 (just now)")


def test_ago_is_coarse_and_readable() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    stamp = (now - timedelta(hours=2, minutes=5)).isoformat()
    assert ago(stamp, now) == "2 h ago"
    assert ago((now - timedelta(seconds=5)).isoformat(), now) == "just now"
    assert ago((now - timedelta(minutes=7)).isoformat(), now) == "7 min ago"
    assert ago((now - timedelta(days=3)).isoformat(), now) == "3 d ago"
    assert ago(None, now) == "never"
