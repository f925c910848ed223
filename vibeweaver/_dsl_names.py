"""The names of the music DSL, kept apart from `vibeweaver.dsl` so the package can list them
without importing the DSL (and the actors it talks to)."""

from __future__ import annotations

PRELUDE_NAMES: tuple[str, ...] = (
    "session", "tempo", "marker", "beat", "transport", "timeline",
    "play", "pause", "stop", "seek",
    "on_beat", "on_marker", "on_artifact", "on_transport", "on_job",
    "rules", "sessions", "history",
    "rule", "Beat", "Marker", "Transport", "Artifact", "JobComplete", "Deadline",
    "Sample", "Schedule", "SampleAndSchedule", "Play", "Pause", "Stop", "Seek", "Audition",
    "Notify",
)  # fmt: skip
"""Defined in `vibeweaver.dsl` itself."""

OPTIONAL_NAMES: tuple[tuple[str, str], ...] = (
    ("vibeweaver.dsl.jobs", "sample"),
    ("vibeweaver.dsl.jobs", "gather"),
    ("vibeweaver.dsl.jobs", "jobs"),
    ("vibeweaver.dsl.jobs", "artifacts"),
    ("vibeweaver.dsl.timeline", "schedule"),
    ("vibeweaver.dsl.timeline", "audition"),
    ("vibeweaver.dsl.latent", "latent"),
    ("vibeweaver.dsl.latent", "LatentRef"),
)
"""(module, name) pairs taken from DSL modules that need hootenanny or the planner."""

ALL_NAMES: frozenset[str] = frozenset(PRELUDE_NAMES) | {name for _, name in OPTIONAL_NAMES}
