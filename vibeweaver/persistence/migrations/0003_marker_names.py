"""0003: markers looked up by name.

`marker(name, beat)` creates or moves the session's marker of that name; the lookup used the
(session_id, beat) index and so scanned every marker of the session: the write rate fell from
~800/s with no markers to ~300/s with 10,000. An index on (session_id, name) makes it one probe.
(Not UNIQUE: a database written by an older version is not assumed free of duplicates.)

Frozen DDL; later changes are new numbered scripts.
"""


def up(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("CREATE INDEX idx_markers_session_name ON markers(session_id, name)")


def down(migrator, db):  # type: ignore[no-untyped-def]
    db.execute_sql("DROP INDEX IF EXISTS idx_markers_session_name")
