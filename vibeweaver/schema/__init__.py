"""The hootenanny Cap'n Proto schemas (package data) and their cached, compiled load."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_DIR", "SCHEMA_FILES", "Schemas", "load"]

SCHEMA_DIR = Path(__file__).resolve().parent

SCHEMA_FILES: tuple[str, ...] = (
    "common",
    "jobs",
    "garden",
    "streams",
    "tools",
    "responses",
    "envelope",
    "broadcast",
    "vibeweaver",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schemas:
    """The nine compiled schema modules, one attribute per `.capnp` file."""

    common: Any
    jobs: Any
    garden: Any
    streams: Any
    tools: Any
    responses: Any
    envelope: Any
    broadcast: Any
    vibeweaver: Any


_LOAD_LOCK = threading.Lock()


def load() -> Schemas:
    """Compile the nine schema files once per process and return their modules (thread-safe)."""
    with _LOAD_LOCK:
        return _load()


@functools.cache
def _load() -> Schemas:
    import capnp

    imports = [str(SCHEMA_DIR)]
    modules = {
        name: capnp.load(str(SCHEMA_DIR / f"{name}.capnp"), imports=imports)
        for name in SCHEMA_FILES
    }
    return Schemas(**modules)
