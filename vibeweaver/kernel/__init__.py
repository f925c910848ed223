"""The evaluation engine as plain objects: a persistent namespace run on its own eval thread.

Names resolve from their submodules on first use: the kernel process imports
`vibeweaver.kernel.limits_child` (stdlib only) before anything else, and the service imports
`vibeweaver.kernel.outcome` without the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vibeweaver.kernel.callbacks import (
        CallbackDefinitionError,
        CallbackSourceError,
        extract_source,
    )
    from vibeweaver.kernel.engine import Kernel
    from vibeweaver.kernel.interrupt import EvalInterrupted, StdinUnavailableError
    from vibeweaver.kernel.outcome import CallOutcome, ErrorInfo, EvalOutcome, Status

_HOMES = {
    "CallOutcome": "outcome",
    "CallbackDefinitionError": "callbacks",
    "CallbackSourceError": "callbacks",
    "ErrorInfo": "outcome",
    "EvalInterrupted": "interrupt",
    "EvalOutcome": "outcome",
    "Kernel": "engine",
    "Status": "outcome",
    "StdinUnavailableError": "interrupt",
    "extract_source": "callbacks",
}

__all__ = [
    "CallOutcome",
    "CallbackDefinitionError",
    "CallbackSourceError",
    "ErrorInfo",
    "EvalInterrupted",
    "EvalOutcome",
    "Kernel",
    "Status",
    "StdinUnavailableError",
    "extract_source",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
