"""schedule() and audition(): put content on chaosgarden's timeline as regions, through hootenanny.

Both return a `Region` at once ("fire and forget": the cell goes on while hootenanny works);
`await region` waits for the region id, or raises RegionFailed with hootenanny's reason in the
awaiting cell. A failure nobody awaited is reported on stderr of the next eval and in the session
history. With hootenanny configured but down, both raise NotConnected naming the endpoint within
the link's connect grace (about 1 s), before sending anything.

`audition(content, duration)` starts the transport when it is not playing, and then stops what it
started: once the playhead has moved `duration` beats, the transport goes back to the state and
position it had (a timer on the kernel's loop; left alone if something paused or stopped the
transport meanwhile).

On the wire (sheet §3.1/§3.2, done by `vibeweaver.generation.create_region`):
`gardenCreateRegion{position, duration, behaviorType "play_content", contentId}` is answered by
`jobStarted`; the garden job is already final then, and its result `gardenRegionCreated` (read
with `jobStatus`) is the only place the region id appears. `gain` is kept on the Region but not
sent: hootenanny's `CreateRegion` has no gain field.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Final

from vibeweaver.actors.gateway.link import CONNECT_GRACE_S
from vibeweaver.actors.scheduler import messages as scheduler_messages
from vibeweaver.dsl.context import DslContext, DslError, current
from vibeweaver.dsl.jobs import live_state
from vibeweaver.dsl.live import Artifact, Job, LiveState, Region
from vibeweaver.generation import DEFAULT_REGION_BEATS, RegionOutcome, create_region

__all__ = ["DEFAULT_REGION_BEATS", "Region", "audition", "schedule"]

MAX_GAIN: Final = 4.0
"""Upper bound of a gain (linear; 0.8 is the default, 1.0 unity), as for Schedule rule actions."""


def schedule(content: Any, at: float, duration: float | None = None, gain: float = 0.8) -> Region:
    """Place `content` (an Artifact, a completed Job or an artifact id) on the timeline at beat
    `at` for `duration` beats (default 16); returns the Region (await it for its id)."""
    ctx = current()
    live = live_state(ctx)
    content_id = content_id_of(content, "schedule")
    position = _number(at, "schedule", "at", minimum=0.0)
    length = DEFAULT_REGION_BEATS if duration is None else _number(duration, "schedule", "duration")
    if length <= 0:
        raise DslError(f"schedule(): duration must be > 0 beats, not {duration!r}")
    level = _number(gain, "schedule", "gain", minimum=0.0)
    if level > MAX_GAIN:
        raise DslError(f"schedule(): gain must be between 0 and {MAX_GAIN:g}, not {gain!r}")
    label = f"schedule({content_id}, at={position:g})"
    return _create_region(ctx, live, label, content_id, position, length, level)


def audition(content: Any, duration: float | None = None) -> Region:
    """Hear `content` now: a region at the transport's current beat (for `duration` beats,
    default 16), and the transport started if it is not playing; the transport then goes back
    to where it was after `duration` beats."""
    ctx = current()
    live = live_state(ctx)
    content_id = content_id_of(content, "audition")
    length = DEFAULT_REGION_BEATS if duration is None else _number(duration, "audition", "duration")
    if length <= 0:
        raise DslError(f"audition(): duration must be > 0 beats, not {duration!r}")
    clock = ctx.ask_scheduler(scheduler_messages.GetClock())
    assert isinstance(clock, scheduler_messages.ClockSnapshot)
    position = max(0.0, float(clock.position))
    region = _create_region(ctx, live, f"audition({content_id})", content_id, position, length, 0.8)
    if clock.state != "playing":
        from vibeweaver.dsl.playback import play  # moves the clock and forwards to hootenanny

        play()
        asyncio.get_running_loop().call_later(
            _seconds(length, clock.tempo_bpm), _audition_end, ctx, position + length, clock
        )
    return region


def _seconds(beats: float, tempo_bpm: float) -> float:
    return max(0.0, beats) * 60.0 / max(tempo_bpm, 1e-6)


def _audition_end(ctx: DslContext, end: float, before: scheduler_messages.ClockSnapshot) -> None:
    """On the kernel's loop, when the audition should have played `end - start` beats: put the
    transport back (or look again later if the playhead is not there yet, after a tempo change)."""
    from vibeweaver.dsl.playback import pause, seek, stop

    live = live_state(ctx)
    try:
        clock = ctx.ask_scheduler(scheduler_messages.GetClock())
        assert isinstance(clock, scheduler_messages.ClockSnapshot)
        if clock.state != "playing":
            return  # paused or stopped meanwhile: the transport is someone else's now
        if clock.position < end - 1e-6:
            remaining = _seconds(end - clock.position, clock.tempo_bpm)
            asyncio.get_running_loop().call_later(remaining, _audition_end, ctx, end, before)
            return
        if before.state == "stopped":
            stop()
        else:
            pause()
        if before.position > 0:
            seek(before.position)
    except Exception as exc:  # noqa: BLE001 - a timer on the loop: tell the agent, never raise
        live.note(f"audition: could not put the transport back: {type(exc).__name__}: {exc}")


def content_id_of(content: Any, caller: str) -> str:
    """The contentId for a region: an Artifact's id, a completed Job's artifact, or a string."""
    if isinstance(content, Job):
        if content.state == "pending":
            raise DslError(
                f"{caller}(): {content.label} is still running; await it first "
                f"(kick = await sample(...))"
            )
        if content.state == "failed" or content.artifact is None:
            raise DslError(f"{caller}(): {content.label} has no artifact ({content.error})")
        return content.artifact.id
    if isinstance(content, Artifact):
        return content.id
    if isinstance(content, str) and content.strip():
        return content.strip()
    nested = getattr(content, "artifact", None)
    if isinstance(nested, Artifact):
        return nested.id
    nested_id = getattr(content, "artifact_id", None)
    if isinstance(nested_id, str) and nested_id:
        return nested_id
    raise DslError(
        f"{caller}(): content must be an Artifact, a completed job or an artifact id, "
        f"not {content!r}"
    )


def _number(value: Any, caller: str, name: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DslError(f"{caller}(): {name} must be a number, not {value!r}")
    if minimum is not None and value < minimum:
        raise DslError(f"{caller}(): {name} must be ≥ {minimum:g}, not {value!r}")
    return float(value)


# -- the region's round trips (IO thread, in vibeweaver.generation) → settled on the kernel's loop


def _create_region(
    ctx: DslContext,
    live: LiveState,
    label: str,
    content_id: str,
    position: float,
    duration: float,
    gain: float,
) -> Region:
    link = ctx.link
    link.require_reachable(f"{label.split('(')[0]}()", CONNECT_GRACE_S)
    region = Region(content_id, position, duration, gain, label=label)

    def on_outcome(outcome: RegionOutcome) -> None:  # the IO thread: hand it to the loop
        live.post(_settle_region, ctx, live, region, outcome)

    create_region(
        link, content_id, position, duration, timeout=ctx.hootenanny_timeout, callback=on_outcome
    )
    return region


def _settle_region(
    ctx: DslContext, live: LiveState, region: Region, outcome: RegionOutcome
) -> None:
    awaited = region.awaited
    if outcome.state == "complete":
        region.region_id = outcome.region_id
        if region._settle("complete"):
            ctx.record(region.label, None, None)
        return
    error = outcome.error or "no reason given"
    if region._settle("failed", error):
        ctx.record(region.label, None, error, success=False)
        if not awaited:
            live.note(f"{region.label} failed: {error}")
