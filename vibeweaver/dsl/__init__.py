"""The music DSL agents use inside the kernel (also importable as `vibeweaver`).

Functions find the kernel they run in through `vibeweaver.dsl.context`; outside a kernel they
raise a clear error. `PRELUDE_NAMES` are pre-bound in every kernel namespace.
"""

from __future__ import annotations

from typing import Any

from vibeweaver._dsl_names import OPTIONAL_NAMES, PRELUDE_NAMES
from vibeweaver.dsl.archive import HistoryList, SessionList, history, sessions
from vibeweaver.dsl.declarative import (
    Artifact,
    Audition,
    Beat,
    Deadline,
    JobComplete,
    Marker,
    Notify,
    Pause,
    Play,
    Sample,
    SampleAndSchedule,
    Schedule,
    Seek,
    Stop,
    Transport,
    rule,
)
from vibeweaver.dsl.decorators import on_artifact, on_beat, on_job, on_marker, on_transport
from vibeweaver.dsl.playback import pause, play, seek, stop
from vibeweaver.dsl.rules_api import RuleInfo, RuleList, rules
from vibeweaver.dsl.session import beat, marker, session, tempo, timeline, transport
from vibeweaver.dsl.values import Session
from vibeweaver.kernel.cell import mark_not_awaitable

__all__ = [
    "Artifact",
    "Audition",
    "Beat",
    "Deadline",
    "HistoryList",
    "JobComplete",
    "Marker",
    "Notify",
    "Pause",
    "Play",
    "RuleInfo",
    "RuleList",
    "Sample",
    "SampleAndSchedule",
    "Schedule",
    "Seek",
    "Session",
    "SessionList",
    "Stop",
    "Transport",
    "beat",
    "history",
    "marker",
    "on_artifact",
    "on_beat",
    "on_job",
    "on_marker",
    "on_transport",
    "pause",
    "play",
    "rule",
    "rules",
    "seek",
    "session",
    "sessions",
    "stop",
    "tempo",
    "timeline",
    "transport",
]

# these act when called: `await play()` is refused before the cell runs (kernel.cell.check_awaits)
_ACTING: tuple[Any, ...] = (session, tempo, marker, play, pause, stop, seek, rules, rule)
_ACTING += (on_beat, on_marker, on_artifact, on_transport, on_job)
for _fn in _ACTING:
    mark_not_awaitable(_fn)
del _fn


def prelude() -> dict[str, Any]:
    """The names pre-bound in a kernel namespace (plus `vibeweaver` itself)."""
    import importlib

    import vibeweaver

    views = importlib.import_module("vibeweaver.dsl.session")  # the attribute is session()
    names: dict[str, Any] = {name: globals()[name] for name in PRELUDE_NAMES}
    # the submodule dsl.timeline shadows the view of the same name as an attribute of this
    # package once imported: take the views from where they live
    names.update(beat=views.beat, transport=views.transport, timeline=views.timeline)
    for module_name, attr in OPTIONAL_NAMES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        names[attr] = getattr(module, attr)
    names["vibeweaver"] = vibeweaver
    return names
