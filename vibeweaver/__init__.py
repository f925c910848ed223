"""vibeweaver: a persistent Python kernel for AI agents making music, built as pykka actors.

Importing the package starts nothing and binds nothing. `Weaver` is the embedding entry point; the
music DSL names (session, tempo, sample, on_beat, ...) resolve lazily from `vibeweaver.dsl`, so
`import vibeweaver; vibeweaver.tempo(130)` works inside a kernel.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Weaver"]


def __getattr__(name: str) -> Any:
    if name == "Weaver":
        from vibeweaver.weaver import Weaver

        return Weaver
    from vibeweaver._dsl_names import ALL_NAMES

    if name in ALL_NAMES:
        import importlib

        names = importlib.import_module("vibeweaver.dsl").prelude()
        if name in names:
            return names[name]
    raise AttributeError(f"module 'vibeweaver' has no attribute {name!r}")
