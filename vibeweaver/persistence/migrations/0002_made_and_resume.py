"""0002: what was made (artifacts, generation jobs), which session was current, and last use.

* `artifacts` and `jobs`: the durable record of the kernel's artifacts and generation jobs, with
  the space and prompt a kernel snapshot cannot hold (SPEC §4.6). Rows are read newest first by
  rowid (the insertion order; an upsert keeps it).
* `meta`: small key/value facts of the database; `current_session` is the id of the session the
  service was in last, which a start without `--session` opens again (SPEC §3.1).
* `sessions.last_used_at`: when a session was last entered or worked in (`sessions()`, the
  summary's "Other sessions" line); NULL for sessions of a v1 database until they are used.
* `idx_history_session_id`: history read newest first per session (`history()`, the summary).

Frozen DDL, like 0001; later changes are new numbered scripts.
"""

from vibeweaver.persistence.dialect import Dialect

STATEMENTS = (
    "ALTER TABLE sessions ADD COLUMN last_used_at TEXT",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        space TEXT,
        prompt TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        job_id TEXT,
        creator TEXT,
        content_hash TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX idx_artifacts_session ON artifacts(session_id)",
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        job_id TEXT,
        space TEXT,
        prompt TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        origin TEXT NOT NULL DEFAULT 'sample',
        state TEXT NOT NULL,
        artifact_id TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms REAL
    )""",
    "CREATE INDEX idx_jobs_session ON jobs(session_id)",
    "CREATE INDEX idx_jobs_job_id ON jobs(job_id)",
    "CREATE INDEX idx_history_session_id ON history(session_id, id)",
)


def up(migrator, db):  # type: ignore[no-untyped-def]
    dialect = Dialect.of(db)
    for statement in STATEMENTS:
        db.execute_sql(dialect.ddl(statement))


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("DROP INDEX IF EXISTS idx_history_session_id")
    for table in ("jobs", "artifacts", "meta"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
    db.execute_sql("ALTER TABLE sessions DROP COLUMN last_used_at")
