"""Schema versioning: apply the numbered migrations in `persistence/migrations/` at start-up.

Applied migrations are recorded by peewee's runner in `schema_migration`; the number of the newest
one is also written to `PRAGMA user_version` (the schema version a human or a test can read with
one query). A database written by a newer vibeweaver is refused rather than silently misread.
"""

from __future__ import annotations

from pathlib import Path

import peewee
from playhouse.migrations import Runner

from vibeweaver.errors import StartupError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def known_versions() -> list[int]:
    """Numbers of the migration scripts shipped with this release, ascending."""
    return sorted(int(path.name[:4]) for path in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def schema_version(database: peewee.Database) -> int:
    """The schema version recorded in the database (0 for a new file)."""
    cursor = database.execute_sql("PRAGMA user_version")  # type: ignore[no-untyped-call]
    return int(cursor.fetchone()[0])


def migrate(database: peewee.Database) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied now."""
    latest = known_versions()[-1]
    current = schema_version(database)
    if current > latest:
        raise StartupError(
            f"the database has schema version {current}, newer than this vibeweaver knows "
            f"({latest}); upgrade vibeweaver or use another --data-dir"
        )
    applied: list[str] = Runner(database, str(MIGRATIONS_DIR)).up()
    if applied or current != latest:
        database.execute_sql(f"PRAGMA user_version = {latest:d}")  # type: ignore[no-untyped-call]
    return applied
