"""The tables of the session store as peewee models, defined per database.

`define_models(database)` builds a fresh set of model classes bound to one database, so two systems
in one process never share model state (peewee binds a database to model *classes*). The DDL itself
lives in the numbered migrations; these models must match it column for column
(`tests/persistence/test_store.py` checks; PostgreSQL tables also carry a `rowid`, see `dialect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee

TABLES = (
    "sessions",
    "rules",
    "markers",
    "history",
    "kernel_snapshots",
    "generation_stats",
    "artifacts",
    "jobs",
    "meta",
    "session_owners",
)


@dataclass(frozen=True, slots=True)
class Models:
    """One database's model classes (typed Any: peewee builds their field attributes at runtime)."""

    Session: Any
    Rule: Any
    Marker: Any
    History: Any
    KernelSnapshot: Any
    GenerationStat: Any
    Artifact: Any
    GenerationJob: Any
    MetaEntry: Any
    SessionOwner: Any

    def all(self) -> tuple[Any, ...]:
        """Every model, in dependency order."""
        return (
            self.Session,
            self.Rule,
            self.Marker,
            self.History,
            self.KernelSnapshot,
            self.GenerationStat,
            self.Artifact,
            self.GenerationJob,
            self.MetaEntry,
            self.SessionOwner,
        )


class FlagField(peewee.BooleanField):
    """A boolean stored as INTEGER 0/1, as the migrations declare it: sqlite has no boolean type,
    and PostgreSQL does not cast a boolean parameter into an INTEGER column."""

    field_type = "INT"

    def db_value(self, value: Any) -> Any:
        return None if value is None else int(bool(value))


def define_models(database: peewee.Database) -> Models:
    """Model classes bound to `database`."""

    class Base(peewee.Model):
        class Meta:
            legacy_table_names = False

    Base._meta.set_database(database)

    class Session(Base):
        id = peewee.TextField(primary_key=True)
        name = peewee.TextField(unique=True)
        vibe = peewee.TextField(null=True)
        tempo_bpm = peewee.FloatField(default=120.0)
        created_at = peewee.TextField()
        updated_at = peewee.TextField()
        last_used_at = peewee.TextField(null=True)

        class Meta:
            table_name = "sessions"

    class Rule(Base):
        id = peewee.TextField(primary_key=True)
        session = peewee.ForeignKeyField(Session, column_name="session_id", on_delete="CASCADE")
        trigger_type = peewee.TextField()
        trigger_params = peewee.TextField()
        action_type = peewee.TextField()
        action_params = peewee.TextField()
        priority = peewee.TextField(default="normal")
        enabled = FlagField(default=True)
        one_shot = FlagField(default=False)
        fired_count = peewee.IntegerField(default=0)
        last_fired_at = peewee.TextField(null=True)
        created_at = peewee.TextField()
        seq = peewee.IntegerField(default=0)

        class Meta:
            table_name = "rules"

    class Marker(Base):
        id = peewee.TextField(primary_key=True)
        session = peewee.ForeignKeyField(Session, column_name="session_id", on_delete="CASCADE")
        beat = peewee.FloatField()
        name = peewee.TextField()
        metadata = peewee.TextField(null=True)
        created_at = peewee.TextField()

        class Meta:
            table_name = "markers"

    class History(Base):
        id = peewee.AutoField()
        session = peewee.ForeignKeyField(Session, column_name="session_id", on_delete="CASCADE")
        action = peewee.TextField()
        params = peewee.TextField(null=True)
        result = peewee.TextField(null=True)
        success = FlagField(default=True)
        created_at = peewee.TextField()

        class Meta:
            table_name = "history"

    class KernelSnapshot(Base):
        session = peewee.ForeignKeyField(
            Session, column_name="session_id", primary_key=True, on_delete="CASCADE"
        )
        state_capnp = peewee.BlobField()
        captured_at = peewee.TextField()

        class Meta:
            table_name = "kernel_snapshots"

    class GenerationStat(Base):
        space = peewee.TextField(primary_key=True)
        avg_duration_ms = peewee.IntegerField()
        sample_count = peewee.IntegerField(default=1)
        last_updated = peewee.TextField()
        p95_duration_ms = peewee.FloatField(default=0.0)
        recent_durations = peewee.TextField(default="[]")

        class Meta:
            table_name = "generation_stats"

    class Artifact(Base):
        id = peewee.TextField(primary_key=True)
        session = peewee.ForeignKeyField(Session, column_name="session_id", on_delete="CASCADE")
        space = peewee.TextField(null=True)
        prompt = peewee.TextField(null=True)
        tags = peewee.TextField(default="[]")
        job_id = peewee.TextField(null=True)
        creator = peewee.TextField(null=True)
        content_hash = peewee.TextField(null=True)
        created_at = peewee.TextField()

        class Meta:
            table_name = "artifacts"

    class GenerationJob(Base):
        id = peewee.TextField(primary_key=True)
        session = peewee.ForeignKeyField(Session, column_name="session_id", on_delete="CASCADE")
        job_id = peewee.TextField(null=True)
        space = peewee.TextField(null=True)
        prompt = peewee.TextField(null=True)
        tags = peewee.TextField(default="[]")
        origin = peewee.TextField(default="sample")
        state = peewee.TextField()
        artifact_id = peewee.TextField(null=True)
        error = peewee.TextField(null=True)
        created_at = peewee.TextField()
        finished_at = peewee.TextField(null=True)
        duration_ms = peewee.FloatField(null=True)

        class Meta:
            table_name = "jobs"

    class MetaEntry(Base):
        key = peewee.TextField(primary_key=True)
        value = peewee.TextField()

        class Meta:
            table_name = "meta"

    class SessionOwner(Base):
        session = peewee.ForeignKeyField(
            Session, column_name="session_id", primary_key=True, on_delete="CASCADE"
        )
        host = peewee.TextField()
        pid = peewee.IntegerField()
        since = peewee.TextField()

        class Meta:
            table_name = "session_owners"

    return Models(
        Session,
        Rule,
        Marker,
        History,
        KernelSnapshot,
        GenerationStat,
        Artifact,
        GenerationJob,
        MetaEntry,
        SessionOwner,
    )
