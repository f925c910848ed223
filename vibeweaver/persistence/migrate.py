"""Schema versioning: apply the numbered migrations in `persistence/migrations/` at start-up.

Applied migrations are recorded by peewee's runner in `schema_migration`; the number of the newest
one is also written to `PRAGMA user_version` on sqlite (the schema version a human or a test can
read with one query); PostgreSQL's is the newest number in `schema_migration`. A database
written by a newer vibeweaver is refused rather than silently misread.
"""

from __future__ import annotations

from pathlib import Path

import peewee
from playhouse.migrations import Runner

from vibeweaver.errors import StartupError
from vibeweaver.persistence.dialect import Dialect

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def known_versions() -> list[int]:
    """Numbers of the migration scripts shipped with this release, ascending."""
    return sorted(int(path.name[:4]) for path in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


MIGRATION_LOCK_KEY = 0x76_69_62_65_77_65_61_76  # "vibeweav": the migration lock's advisory key


def schema_version(database: peewee.Database) -> int:
    """The schema version recorded in the database (0 for a new file)."""
    if Dialect.of(database).is_postgres:
        cursor = database.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT to_regclass('schema_migration') IS NOT NULL"
        )
        if not cursor.fetchone()[0]:
            return 0
        cursor = database.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT COALESCE(MAX(CAST(substr(name, 1, 4) AS INTEGER)), 0) FROM schema_migration"
        )
        return int(cursor.fetchone()[0])
    cursor = database.execute_sql("PRAGMA user_version")  # type: ignore[no-untyped-call]
    return int(cursor.fetchone()[0])


def migrate(database: peewee.Database) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied now.

    On PostgreSQL, many processes may start at once on one database: the whole run is one
    transaction that first takes a transaction-level advisory lock, so the first process
    migrates and the others wait, then find nothing left to apply (PostgreSQL's DDL is
    transactional: a failed migration leaves nothing behind)."""
    if Dialect.of(database).is_postgres:
        with database.atomic():
            database.execute_sql(  # type: ignore[no-untyped-call]
                "SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,)
            )
            return _migrate(database)
    return _migrate(database)


def _migrate(database: peewee.Database) -> list[str]:
    latest = known_versions()[-1]
    current = schema_version(database)
    if current > latest:
        raise StartupError(
            f"the database has schema version {current}, newer than this vibeweaver knows "
            f"({latest}); upgrade vibeweaver or use another --data-dir"
        )
    applied: list[str] = Runner(database, str(MIGRATIONS_DIR)).up()
    if (applied or current != latest) and not Dialect.of(database).is_postgres:
        database.execute_sql(f"PRAGMA user_version = {latest:d}")  # type: ignore[no-untyped-call]
    return applied
