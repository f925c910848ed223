"""vibeweaver: a persistent Python kernel for AI agents making music, built as pykka actors.

Importing the package starts nothing and binds nothing. `Weaver` is the embedding entry point; the
music DSL names (session, tempo, sample, on_beat, ...) resolve lazily from `vibeweaver.dsl`, so
`import vibeweaver; vibeweaver.tempo(130)` works inside a kernel.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Weaver"]

_DSL_NAMES = frozenset(
    {
        "session",
        "tempo",
        "marker",
        "beat",
        "transport",
        "timeline",
        "play",
        "pause",
        "stop",
        "seek",
        "on_beat",
        "on_marker",
        "on_artifact",
        "on_transport",
        "on_job",
        "rules",
        "sample",
        "gather",
        "jobs",
        "artifacts",
        "Artifact",
        "schedule",
        "audition",
        "latent",
        "LatentRef",
    }
)
"""Names resolved from `vibeweaver.dsl` (a test keeps this in step with `dsl.prelude()`)."""


def __getattr__(name: str) -> Any:
    if name == "Weaver":
        from vibeweaver.weaver import Weaver

        return Weaver
    if name in _DSL_NAMES:
        import importlib

        names = importlib.import_module("vibeweaver.dsl").prelude()
        if name in names and name != "vibeweaver":
            return names[name]
    raise AttributeError(f"module 'vibeweaver' has no attribute {name!r}")
