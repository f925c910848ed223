"""vibeweaver: a persistent Python kernel for AI agents making music, built as pykka actors.

Importing the package starts nothing and binds nothing. `Weaver` is the embedding entry point; the
music DSL names (session, tempo, sample, ...) resolve lazily from `vibeweaver.dsl`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Weaver"]


def __getattr__(name: str) -> Any:
    if name == "Weaver":
        from vibeweaver.weaver import Weaver

        return Weaver
    raise AttributeError(f"module 'vibeweaver' has no attribute {name!r}")
