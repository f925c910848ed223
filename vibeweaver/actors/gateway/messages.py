"""The ZmqGateway's messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.wire.frames import HootFrame


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """A decoded weave* request from the ROUTER (told by the IO thread)."""

    identity: tuple[bytes, ...]
    frame: HootFrame
    request: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalCompleted:
    """A weaveEval execution finished (told by the worker that ran it)."""

    key: tuple[tuple[bytes, ...], str]
    outcome: EvalOutcome | None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetGatewayStatus:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayStatus:
    router: str | None
    hootenanny: str | None
    broadcasts: str | None
    retries_joined: int
    retries_replayed: int
    evals_started: int
    executions_cached: int
