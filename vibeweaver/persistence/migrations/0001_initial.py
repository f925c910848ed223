"""0001: the six tables of the seed schema, with rule creation order and percentile statistics.

Frozen DDL (independent of `vibeweaver.persistence.models`, which must keep matching it; a test
checks that). Later changes are new numbered scripts, never edits of this one. The DDL is written
in sqlite's spelling; `Dialect.ddl` gives PostgreSQL's.
"""

from vibeweaver.persistence.dialect import Dialect

STATEMENTS = (
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        vibe TEXT,
        tempo_bpm REAL NOT NULL DEFAULT 120.0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE rules (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        trigger_type TEXT NOT NULL,
        trigger_params TEXT NOT NULL,
        action_type TEXT NOT NULL,
        action_params TEXT NOT NULL,
        priority TEXT NOT NULL DEFAULT 'normal',
        enabled INTEGER NOT NULL DEFAULT 1,
        one_shot INTEGER NOT NULL DEFAULT 0,
        fired_count INTEGER NOT NULL DEFAULT 0,
        last_fired_at TEXT,
        created_at TEXT NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX idx_rules_session ON rules(session_id)",
    "CREATE INDEX idx_rules_trigger ON rules(trigger_type, enabled)",
    """CREATE TABLE markers (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        beat REAL NOT NULL,
        name TEXT NOT NULL,
        metadata TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX idx_markers_session_beat ON markers(session_id, beat)",
    """CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        params TEXT,
        result TEXT,
        success INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX idx_history_session ON history(session_id, created_at DESC)",
    """CREATE TABLE kernel_snapshots (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        state_capnp BLOB NOT NULL,
        captured_at TEXT NOT NULL
    )""",
    """CREATE TABLE generation_stats (
        space TEXT PRIMARY KEY,
        avg_duration_ms INTEGER NOT NULL,
        sample_count INTEGER NOT NULL DEFAULT 1,
        last_updated TEXT NOT NULL,
        p95_duration_ms REAL NOT NULL DEFAULT 0,
        recent_durations TEXT NOT NULL DEFAULT '[]'
    )""",
)


def up(migrator, db):  # type: ignore[no-untyped-def]
    dialect = Dialect.of(db)
    for statement in STATEMENTS:
        db.execute_sql(dialect.ddl(statement))


def down(migrator, db):  # type: ignore[no-untyped-def]
    for table in (
        "generation_stats",
        "kernel_snapshots",
        "history",
        "markers",
        "rules",
        "sessions",
    ):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
