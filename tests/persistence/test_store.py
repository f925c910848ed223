"""The session store: schema and migrations, WAL, records round-trip, batched hot-path writes.

The `repo` tests run on sqlite and on PostgreSQL (the `db_url` fixture is parametrized)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from tests.pg_server import open_test_database
from vibeweaver.errors import StartupError, StoreError
from vibeweaver.persistence.database import open_database
from vibeweaver.persistence.migrate import known_versions, migrate, schema_version
from vibeweaver.persistence.models import TABLES, define_models
from vibeweaver.persistence.records import GenerationStatsRecord, RuleRecord
from vibeweaver.persistence.repository import FiredUpdate, HistoryEntry, Repository, utc_now
from vibeweaver.types import RuleId


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    database = open_test_database(db_url)
    migrate(database)
    yield Repository(database)
    database.close()


def _rule(session_id: str, rule_id: str = "rule_1", **changes: object) -> RuleRecord:
    values: dict[str, object] = {
        "id": RuleId(rule_id),
        "session_id": session_id,
        "trigger_type": "beat",
        "trigger_params": '{"divisor":4}',
        "action_type": "notify",
        "action_params": '{"message":"hi"}',
    }
    values.update(changes)
    return RuleRecord(**values)  # type: ignore[arg-type]


def test_migrations_create_the_tables_wal_and_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    database = open_database(f"sqlite:///{path}")
    assert migrate(database) == [
        "0001_initial",
        "0002_made_and_resume",
        "0003_marker_names",
        "0004_session_owners",
        "0005_rules_by_seq",
    ]
    assert migrate(database) == []  # idempotent
    database.close()
    with sqlite3.connect(path) as raw:
        tables = {
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert set(TABLES) <= tables
        assert raw.execute("PRAGMA user_version").fetchone()[0] == known_versions()[-1]
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_models_match_the_migrated_columns(repo: Repository) -> None:
    models = define_models(repo.database)
    for model in models.all():
        table = model._meta.table_name
        db_columns = {c.name for c in repo.database.get_columns(table)}
        if repo.dialect.is_postgres:
            db_columns.remove("rowid")  # sqlite's implicit column, explicit on PostgreSQL
        model_columns = {f.column_name for f in model._meta.sorted_fields}
        assert model_columns == db_columns, table


def test_migrations_run_once_and_record_the_schema_version(db_url: str) -> None:
    database = open_test_database(db_url)
    assert migrate(database) == [
        "0001_initial",
        "0002_made_and_resume",
        "0003_marker_names",
        "0004_session_owners",
        "0005_rules_by_seq",
    ]
    assert migrate(database) == []
    assert schema_version(database) == known_versions()[-1]
    assert set(TABLES) <= set(database.get_tables())
    database.close()


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'future.db'}")
    database.execute_sql("PRAGMA user_version = 999")
    with pytest.raises(StartupError, match="schema version 999, newer than"):
        migrate(database)


def test_sessions_are_created_once_and_updated(repo: Repository) -> None:
    first, created = repo.open_session("jam", vibe="dub")
    again, created_again = repo.open_session("jam")
    assert created and not created_again
    assert again.id == first.id and again.vibe == "dub"
    updated = repo.update_session(first.id, tempo_bpm=130, vibe="dub techno")
    assert updated.tempo_bpm == 130 and updated.vibe == "dub techno"
    with pytest.raises(StoreError, match="no session"):
        repo.update_session("session_missing", tempo_bpm=1)  # type: ignore[arg-type]


def test_rules_keep_creation_order_and_round_trip(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    for index in range(3):
        repo.save_rule(_rule(session.id, f"rule_{index}", priority="high"))
    rules = repo.list_rules(session.id)
    assert [r.id for r in rules] == ["rule_0", "rule_1", "rule_2"]
    assert [r.seq for r in rules] == sorted(r.seq for r in rules)
    assert rules[0].priority == "high" and rules[0].enabled
    saved = repo.save_rule(_rule(session.id, "rule_0", enabled=False))
    assert saved.seq == rules[0].seq and not saved.enabled


def test_batched_firings_count_stamp_and_delete_one_shot_rules(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    repo.save_rule(_rule(session.id, "every"))
    repo.save_rule(_rule(session.id, "once", one_shot=True))
    stamp = utc_now()
    repo.apply_fired(
        [FiredUpdate(rule_id=RuleId("every"), fired_at=stamp)] * 3
        + [FiredUpdate(rule_id=RuleId("once"), fired_at=stamp, delete=True)]
    )
    rules = {r.id: r for r in repo.list_rules(session.id)}
    assert rules["every"].fired_count == 3 and rules["every"].last_fired_at == stamp
    assert "once" not in rules


def test_history_is_appended_in_batches_and_read_newest_last(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    repo.append_history(
        HistoryEntry(
            session_id=session.id,
            action=f"eval {i}",
            params=None,
            result=str(i),
            success=i % 2 == 0,
            created_at=utc_now(),
        )
        for i in range(15)
    )
    recent = repo.recent_history(session.id, limit=5)
    assert [h.action for h in recent] == [f"eval {i}" for i in range(10, 15)]
    assert recent[-1].success is True and recent[-2].success is False


def test_markers_are_unique_per_name_and_sorted_by_beat(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    repo.save_marker(session.id, "outro", 512, None)
    repo.save_marker(session.id, "drop", 128, '{"bars":8}')
    repo.save_marker(session.id, "drop", 256, None)
    assert [(m.name, m.beat) for m in repo.list_markers(session.id)] == [
        ("drop", 256),
        ("outro", 512),
    ]


def test_clearing_a_session_removes_rules_markers_and_history_only(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    repo.save_rule(_rule(session.id))
    repo.save_marker(session.id, "drop", 1, None)
    repo.append_history(
        [
            HistoryEntry(
                session_id=session.id,
                action="x",
                params=None,
                result=None,
                success=True,
                created_at=utc_now(),
            )
        ]
    )
    counts = repo.clear_session(session.id)
    assert counts == {
        "rules": 1,
        "markers": 1,
        "history": 1,
        "snapshots": 0,
        "jobs": 0,
        "artifacts": 0,
    }
    assert repo.get_session(session.id) is not None


def test_generation_stats_and_snapshots_round_trip(repo: Repository) -> None:
    session, _ = repo.open_session("jam")
    stats = GenerationStatsRecord(
        space="musicgen",
        sample_count=3,
        avg_duration_ms=1200.0,
        p95_duration_ms=1800.0,
        recent_durations_ms=(1000.0, 1200.0, 1400.0),
        last_updated=utc_now(),
    )
    repo.save_generation_stats(stats)
    assert repo.load_generation_stats() == [stats]
    repo.save_snapshot(session.id, b"\x00capnp")
    snapshot = repo.load_snapshot(session.id)
    assert snapshot is not None and snapshot.state_capnp == b"\x00capnp"


def test_an_unwritable_location_is_a_startup_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StartupError, match="cannot create database directory"):
        open_database(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def test_write_transactions_begin_immediate(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(database)
    repo = Repository(database)
    assert isinstance(repo.database, peewee.SqliteDatabase)
    assert repo.database._lock_type == "IMMEDIATE"
    assert schema_version(repo.database) == known_versions()[-1]
