"""The RuleScheduler's actions that leave it: callbacks in the kernel, generations, regions,
auditions, and transport moves forwarded to hootenanny.

Plain code the scheduler calls on its thread: `Actions` holds the ports (the kernel, the generation
layer, the hootenanny link) and starts each action without waiting. How a started action ends comes
back to the scheduler as an `ActionDone` tell (from the port's thread); an action that cannot even
start returns an `ActionFailed` for the scheduler to report. Actions that change the scheduler's
own state (Notify, Play/Pause/Stop/Seek) stay in the scheduler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from structlog.typing import FilteringBoundLogger

from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.kernel.messages import RunCallback
from vibeweaver.actors.scheduler import messages as m
from vibeweaver.actors.scheduler.events import callback_args
from vibeweaver.actors.scheduler.ports import MISSING_GENERATION, GenerationPort
from vibeweaver.actors.system import ActorHandle
from vibeweaver.scheduling.rules import AuditionAction, CallbackAction, Event, InferenceParams
from vibeweaver.types import RuleId
from vibeweaver.wire.envelope import ErrorReply
from vibeweaver.wire.tools import (
    GardenCreateRegion,
    GardenPause,
    GardenPlay,
    GardenSeek,
    GardenSetTempo,
    GardenStop,
)

__all__ = ["DEFAULT_REGION_BEATS", "ActionFailed", "Actions", "call_label", "reply_error"]

DEFAULT_REGION_BEATS = 16.0
"""Region length when a Schedule action gives no duration (hootenanny needs one)."""


@dataclass(frozen=True, slots=True)
class ActionFailed:
    """An action that could not start: `label` as history shows the call, and why."""

    label: str
    error: str


class Actions:
    """Starts the scheduler's outward actions; see the module docstring."""

    def __init__(
        self,
        *,
        reply_to: ActorHandle,
        kernel: ActorHandle,
        generation: GenerationPort | None,
        link: HootenannyLink | None,
        timeout_s: float,
        callback_timeout_s: float,
        log: FilteringBoundLogger,
    ) -> None:
        self.reply_to = reply_to
        self.kernel = kernel
        self.generation = generation
        self.link = link
        self.timeout_s = timeout_s
        """How long a hootenanny call may take."""
        self.callback_timeout_s = callback_timeout_s
        self.log = log

    def callback(self, rule_id: RuleId, action: CallbackAction, event: Event) -> None:
        """Run a callback rule's function in the kernel with the event's arguments."""
        self.kernel.tell(
            RunCallback(
                rule_id=rule_id,
                name=action.name,
                source=action.source,
                args=callback_args(event),
                timeout_s=self.callback_timeout_s,
            )
        )

    def sample(
        self,
        rule_id: RuleId,
        space: str,
        prompt: str | None,
        inference: InferenceParams,
        *,
        schedule_at: float | None = None,
        schedule_duration: float | None = None,
    ) -> ActionFailed | None:
        """Start a generation (SampleAndSchedule when `schedule_at` is given: the scheduler
        places the artifact when the `ActionDone` comes back)."""
        label = (
            call_label("sample", space, prompt)
            if schedule_at is None
            else call_label("sample_and_schedule", space, prompt, f"at={schedule_at:g}")
        )
        generation = self.generation
        if generation is None:
            return ActionFailed(label, MISSING_GENERATION)
        me = self.reply_to

        def done(outcome: Any) -> None:
            ok = getattr(outcome, "state", None) == "complete"
            artifact = getattr(outcome, "artifact_id", None)
            me.tell(
                m.ActionDone(
                    rule_id=rule_id,
                    action=label,
                    ok=ok,
                    detail=artifact if ok else (getattr(outcome, "error", None) or "failed"),
                    artifact_id=artifact if ok else None,
                    schedule_at=schedule_at,
                    schedule_duration=schedule_duration,
                )
            )

        try:
            generation.start(space, prompt, inference=inference, tags=(), callback=done)
        except Exception as exc:  # noqa: BLE001 - reported, not a crash
            return ActionFailed(label, f"{type(exc).__name__}: {exc}")
        return None

    def schedule(
        self, rule_id: RuleId, content: str, at: float, duration: float | None
    ) -> ActionFailed | None:
        """Create a region for `content` at beat `at` in hootenanny's timeline."""
        label = f"schedule({content}, at={at:g})"
        link = self.link
        if link is None or not link.connected:
            return ActionFailed(label, "hootenanny is not connected")
        me = self.reply_to
        region = GardenCreateRegion(
            position=float(at),
            duration=float(duration if duration is not None else DEFAULT_REGION_BEATS),
            content_id=content,
        )

        def done(reply: Any) -> None:
            failed = isinstance(reply, BaseException | ErrorReply)
            detail = reply_error(reply) if failed else getattr(reply, "job_id", None)
            me.tell(m.ActionDone(rule_id=rule_id, action=label, ok=not failed, detail=detail))

        try:
            link.call(region, timeout=self.timeout_s, callback=done)
        except Exception as exc:  # noqa: BLE001 - reported, not a crash
            return ActionFailed(label, f"{type(exc).__name__}: {exc}")
        return None

    def audition(self, rule_id: RuleId, action: AuditionAction) -> ActionFailed | None:
        """Play `action.content` for a moment through the generation layer's `audition`."""
        label = f"audition({action.content})"
        audition = getattr(self.generation, "audition", None)
        if audition is None:
            reason = (
                MISSING_GENERATION
                if self.generation is None
                else "needs audition() from the generation layer, which offers none"
            )
            return ActionFailed(label, f"hootenanny has no audition tool; audition {reason}")
        me = self.reply_to

        def done(outcome: Any) -> None:
            ok = getattr(outcome, "state", "complete") == "complete" and not isinstance(
                outcome, BaseException
            )
            detail = None if ok else str(getattr(outcome, "error", outcome))
            me.tell(m.ActionDone(rule_id=rule_id, action=label, ok=ok, detail=detail))

        try:
            audition(action.content, action.duration, callback=done)
        except Exception as exc:  # noqa: BLE001 - reported, not a crash
            return ActionFailed(label, f"{type(exc).__name__}: {exc}")
        return None

    def forward_transport(self, action: str, *, beat: float | None, bpm: float | None) -> None:
        """Send a transport move to hootenanny when connected (fire and forget, failures logged)."""
        link = self.link
        if link is None or not link.connected:
            return
        call: Any
        match action:
            case "play":
                call = GardenPlay()
            case "pause":
                call = GardenPause()
            case "stop":
                call = GardenStop()
            case "seek":
                call = GardenSeek(beat=float(beat or 0.0))
            case "tempo":
                call = GardenSetTempo(bpm=float(bpm or 120.0))
            case _:  # pragma: no cover
                return
        logger = self.log

        def done(reply: Any) -> None:
            if isinstance(reply, BaseException | ErrorReply):
                logger.warning("transport_forward_failed", action=action, error=reply_error(reply))

        try:
            link.call(call, timeout=self.timeout_s, callback=done)
        except Exception as exc:  # noqa: BLE001 - the local clock moved regardless
            logger.warning("transport_forward_failed", action=action, error=repr(exc))


def call_label(name: str, space: str, prompt: str | None, *extra: str) -> str:
    """`sample(orpheus_loops, "kick")`, as the seed's history shows calls."""
    parts = [space]
    if prompt:
        parts.append(json.dumps(prompt, ensure_ascii=False))
    parts.extend(extra)
    return f"{name}({', '.join(parts)})"


def reply_error(reply: Any) -> str:
    if isinstance(reply, ErrorReply):
        return f"{reply.code}: {reply.message}"
    return f"{type(reply).__name__}: {reply}"
