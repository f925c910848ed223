"""0004: who owns a session (PostgreSQL: many vibeweaver processes on one database).

A process owns the sessions it opened through a session-level advisory lock held by its
connection (released when the process or its connection dies); this row says who took it (host,
pid, since), so that a second process can name the owner in its refusal. The row of a dead owner
stays until the next owner overwrites it: the lock, not the row, decides. On sqlite the table stays
empty (the database file has one owner, `persistence/owner_lock.py`).

Frozen DDL; later changes are new numbered scripts.
"""

from vibeweaver.persistence.dialect import Dialect

STATEMENTS = (
    """CREATE TABLE session_owners (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        since TEXT NOT NULL
    )""",
)


def up(migrator, db):  # type: ignore[no-untyped-def]
    dialect = Dialect.of(db)
    for statement in STATEMENTS:
        db.execute_sql(dialect.ddl(statement))


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("DROP TABLE IF EXISTS session_owners")
