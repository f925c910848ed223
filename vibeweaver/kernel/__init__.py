"""The evaluation engine as plain objects: a persistent namespace run on its own eval thread."""

from __future__ import annotations

from vibeweaver.kernel.callbacks import (
    CallbackDefinitionError,
    CallbackSourceError,
    extract_source,
)
from vibeweaver.kernel.engine import Kernel
from vibeweaver.kernel.interrupt import EvalInterrupted, StdinUnavailableError
from vibeweaver.kernel.outcome import CallOutcome, ErrorInfo, EvalOutcome, Status

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
