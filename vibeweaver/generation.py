"""GenerationClient: start one generation in a named space and report how it ended, exactly once.

Spaces are the DSL's names for hootenanny's generation tools (wire sheet §3.1, values of §3.4):

| space | tool | reply | prompt goes to |
|---|---|---|---|
| orpheus_generate (orpheus) | orpheusGenerate | direct | a `prompt:<text>` tag (no text input) |
| orpheus_generate_seeded | orpheusGenerateSeeded (seed_hash=) | direct | tag |
| orpheus_continue | orpheusContinue (input_hash=) | direct | tag |
| orpheus_bridge | orpheusBridge (section_a_hash=) | direct | tag |
| orpheus_loops | orpheusLoops | direct | tag |
| musicgen | musicgenGenerate | job | `prompt` |
| yue | yueGenerate | job | `lyrics` (required) |
| audioldm2 | audioldm2Generate | job | `prompt` |
| anticipatory | anticipatoryGenerate | job | tag |
| anticipatory_continue | anticipatoryContinue (input_hash=) | job | tag |
| abc | abcToMidi | direct | `abc` (required) |

`inference` overrides the request's fields by their snake_case names (`temperature`, `duration`,
`seed_hash`, ...); unknown names and wrongly typed values are refused before anything is sent.

How a generation ends:
* direct tools: the reply itself (`orpheusGenerated`, `abcToMidi`, ...) carries the artifact id;
* job tools: the reply is `jobStarted{jobId}` and the outcome comes as a `jobStateChanged`
  broadcast on the EventHub. The broadcast can arrive *before* the reply (sheet §3.3), so every
  final `jobStateChanged` for an id not (yet) known is kept for a while and matched when the reply
  comes. As a fallback for a missed broadcast (a SUB that was reconnecting, `--broadcasts none`),
  a job still running after `status_poll_s` is asked about with `jobStatus`, and again after each
  further interval. Polls that find hootenanny unreachable for a whole `request_timeout` fail
  the job (its outcome can no longer be known), rather than leaving it running until `timeout`.
* every generation has an overall `timeout`, from sending the request to completion.

Timeline regions (`create_region`, `GenerationClient.create_region/audition`) live here too, so
the DSL's schedule()/audition() and the scheduler's actions send the same requests:
`gardenCreateRegion` then `jobStatus` for the region id (see `create_region`).

Thread-safe, no actor: `start` may be called from any thread. The callback runs exactly once, on
whichever thread settled the outcome (the gateway's IO thread, this client's timer thread, or the
caller's thread for a request refused at once), so it must only hand the outcome on
(`handle.tell`, `loop.call_soon_threadsafe`). `close()` stops the timer thread and fails what is
still running.

A job tool's id is known before it ends: `start(..., on_started=hook)` calls `hook(job_id)` once,
on the gateway's IO thread, when the `jobStarted` reply arrives and the generation has not ended
yet (before the outcome callback when a broadcast overtook the reply). It too must only hand the
id on. Direct tools, refused requests and generations that ended first (a timeout, `close()`)
never call it. The DSL's sample() uses it so a job still running at a stop has an id in the
kernel snapshot and can be asked about with `jobStatus` after a restart.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import structlog

from vibeweaver.errors import NotConnected, VibeweaverError
from vibeweaver.wire import broadcasts as wire_broadcasts
from vibeweaver.wire import tools as wire
from vibeweaver.wire.envelope import ErrorReply
from vibeweaver.wire.errors import NOT_FOUND

if TYPE_CHECKING:
    from vibeweaver.actors.gateway.link import HootenannyLink
    from vibeweaver.actors.hub import EventHub

__all__ = [
    "SPACES",
    "GenerationClient",
    "GenerationOutcome",
    "GenerationRequestError",
    "OutcomeCallback",
    "RegionOutcome",
    "Space",
    "StartedCallback",
    "build_request",
    "create_region",
    "resolve_space",
]

log = structlog.get_logger(__name__)

OutcomeState: TypeAlias = Literal["complete", "failed"]

SUBSCRIBER_NAME: Final = "generation"
EARLY_RETENTION_S: Final = 300.0
"""How long a final jobStateChanged for an unknown job id is kept for a reply still on its way."""
EARLY_MAX: Final = 2048
"""At most this many such broadcasts are kept (the oldest go first)."""
DEFAULT_STATUS_POLL_S: Final = 5.0
DEFAULT_TIMEOUT_S: Final = 900.0
"""Overall limit of one generation (YuE songs take minutes); awaiting cells are bounded by the
eval timeout anyway, and a job that outlives its cell still lands in the kernel's live state."""
CREATOR: Final = "vibeweaver"


class GenerationRequestError(VibeweaverError, ValueError):
    """A generation request cannot be built (unknown space, missing or bad parameter)."""


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    """How one generation ended. `job_id` is None for direct tools (and for failures before
    hootenanny named a job); `artifact_id` is set when it completed with an artifact; `error` is
    set when it failed; `duration_ms` is measured from sending the request to completion."""

    space: str
    job_id: str | None
    state: OutcomeState
    artifact_id: str | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.state == "complete"


OutcomeCallback: TypeAlias = Callable[[GenerationOutcome], None]
StartedCallback: TypeAlias = Callable[[str], None]
"""Gets a job tool's job id when its `jobStarted` reply arrives (see `GenerationClient.start`)."""


@dataclass(frozen=True, slots=True)
class RegionOutcome:
    """How creating a timeline region ended: `region_id` when complete, `error` when failed."""

    content_id: str
    position: float
    duration: float
    state: OutcomeState
    region_id: str | None
    job_id: str | None
    error: str | None
    duration_ms: float


RegionCallback: TypeAlias = Callable[[RegionOutcome], None]
DEFAULT_REGION_BEATS: Final = 16.0
"""Length of a region when none is given: four 4/4 bars."""


# -- spaces -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Space:
    """One generation space: which request it sends and where the prompt goes."""

    name: str
    request: type[Any]
    kind: Literal["direct", "job"]
    prompt_field: str | None
    """The request field the prompt fills; None: the prompt is kept as a `prompt:` tag."""
    prompt_required: bool = False
    description: str = ""

    @property
    def tool(self) -> str:
        return wire.tool_name_of(self.request)

    def parameters(self) -> tuple[str, ...]:
        """The names `inference` may set."""
        return tuple(
            f.name
            for f in dataclasses.fields(self.request)
            if f.name != "metadata" and f.name != self.prompt_field
        )


SPACES: Final[Mapping[str, Space]] = {
    space.name: space
    for space in (
        Space(
            "orpheus_generate",
            wire.OrpheusGenerate,
            "direct",
            None,
            description="Orpheus MIDI generation from scratch",
        ),
        Space(
            "orpheus_generate_seeded",
            wire.OrpheusGenerateSeeded,
            "direct",
            None,
            description="Orpheus MIDI seeded by a MIDI artifact's hash (seed_hash=)",
        ),
        Space(
            "orpheus_continue",
            wire.OrpheusContinue,
            "direct",
            None,
            description="Orpheus continuation of a MIDI content hash (input_hash=)",
        ),
        Space(
            "orpheus_bridge",
            wire.OrpheusBridge,
            "direct",
            None,
            description="Orpheus bridge from section_a_hash= (to section_b_hash=)",
        ),
        Space(
            "orpheus_loops",
            wire.OrpheusLoops,
            "direct",
            None,
            description="Orpheus drum/percussion loops (MIDI)",
        ),
        Space(
            "musicgen",
            wire.MusicgenGenerate,
            "job",
            "prompt",
            description="MusicGen audio from a text prompt",
        ),
        Space(
            "yue",
            wire.YueGenerate,
            "job",
            "lyrics",
            prompt_required=True,
            description="YuE song from lyrics (the prompt), genre=",
        ),
        Space(
            "audioldm2",
            wire.Audioldm2Generate,
            "job",
            "prompt",
            description="AudioLDM2 audio from a text prompt",
        ),
        Space(
            "anticipatory",
            wire.AnticipatoryGenerate,
            "job",
            None,
            description="Anticipatory music transformer MIDI",
        ),
        Space(
            "anticipatory_continue",
            wire.AnticipatoryContinue,
            "job",
            None,
            description="Anticipatory continuation of a MIDI content hash (input_hash=)",
        ),
        Space(
            "abc",
            wire.AbcToMidi,
            "direct",
            "abc",
            prompt_required=True,
            description="ABC notation (the prompt) rendered to MIDI",
        ),
    )
}
ALIASES: Final[Mapping[str, str]] = {
    "orpheus": "orpheus_generate",
    "musicgen_generate": "musicgen",
    "yue_generate": "yue",
    "audioldm2_generate": "audioldm2",
    "anticipatory_generate": "anticipatory",
    "abc_to_midi": "abc",
}


def resolve_space(name: str) -> Space:
    """The space called `name` (or one of its aliases); GenerationRequestError naming the known
    spaces otherwise."""
    if isinstance(name, str):
        key = name.strip().lower()
        space = SPACES.get(ALIASES.get(key, key))
        if space is not None:
            return space
    known = ", ".join(SPACES)
    raise GenerationRequestError(f"unknown generation space {name!r}; known spaces: {known}")


def build_request(
    space: str | Space,
    prompt: str | None = None,
    *,
    inference: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    tags: Iterable[str] = (),
) -> Any:
    """The ToolRequest value for one generation, with the sheet's §3.4 values unless `inference`
    overrides them. Raises GenerationRequestError for anything that would not encode or that
    hootenanny would refuse for certain."""
    spec = space if isinstance(space, Space) else resolve_space(space)
    if prompt is not None and not isinstance(prompt, str):
        raise GenerationRequestError(f"{spec.name}: prompt must be a string, not {prompt!r}")
    params = _inference(spec, inference)
    tag_list = _tags(spec, tags)
    if spec.prompt_field is not None:
        if prompt is not None and prompt.strip():
            params[spec.prompt_field] = prompt
        elif spec.prompt_required:
            raise GenerationRequestError(
                f"{spec.name}: a prompt is required ({spec.prompt_field} of {spec.tool})"
            )
    elif prompt is not None and prompt.strip():
        tag_list.append(f"prompt:{prompt.strip()}")
    missing = [
        f.name
        for f in dataclasses.fields(spec.request)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in params
    ]
    if missing:
        raise GenerationRequestError(
            f"{spec.name}: missing {', '.join(missing)} (pass inference={{{missing[0]!r}: ...}})"
        )
    metadata = wire.ArtifactMetadata(tags=tuple(dict.fromkeys(tag_list)), creator=CREATOR)
    return spec.request(**params, metadata=metadata)


def _inference(
    spec: Space, inference: Mapping[str, Any] | Iterable[tuple[str, Any]] | None
) -> dict[str, Any]:
    if inference is None:
        return {}
    try:
        pairs = list(inference.items()) if isinstance(inference, Mapping) else list(inference)
        given = dict(pairs)
    except (TypeError, ValueError):
        raise GenerationRequestError(
            f"{spec.name}: inference must be a mapping of parameter names to values"
        ) from None
    fields = {f.name: f for f in dataclasses.fields(spec.request)}
    allowed = spec.parameters()
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in allowed:
            raise GenerationRequestError(
                f"{spec.name}: unknown inference parameter {key!r}; known: {', '.join(allowed)}"
            )
        if value is None:
            continue
        out[key] = _coerce(spec, key, str(fields[key].type), value)
    return out


def _coerce(spec: Space, key: str, annotation: str, value: Any) -> Any:
    bad = GenerationRequestError(f"{spec.name}: {key} must be {annotation}, not {value!r}")
    if annotation == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if annotation == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise bad
        return float(value)
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if annotation == "str" or annotation.startswith("Literal") or annotation.endswith("Name"):
        if not isinstance(value, str):
            raise bad
        return value
    if annotation.startswith("tuple"):
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise bad
        items = tuple(value)
        if not all(isinstance(item, str) for item in items):
            raise bad
        return items
    return value


def _tags(spec: Space, tags: Iterable[str] | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        return [tags]
    out = list(tags)
    for tag in out:
        if not isinstance(tag, str) or not tag:
            raise GenerationRequestError(
                f"{spec.name}: tags must be non-empty strings, not {tag!r}"
            )
    return out


def artifact_of(reply: Any) -> str | None:
    """The artifact id a direct reply or a job result carries (first variation for Orpheus)."""
    if isinstance(reply, wire.OrpheusGenerated):
        return reply.artifact_ids[0] if reply.artifact_ids else None
    artifact_id = getattr(reply, "artifact_id", None)
    return artifact_id if isinstance(artifact_id, str) and artifact_id else None


_DIRECT_RESULTS: Final = (
    wire.OrpheusGenerated,
    wire.AudioGenerated,
    wire.Audioldm2Generated,
    wire.AnticipatoryGenerated,
    wire.AbcToMidiResult,
    wire.MidiToWavResult,
    wire.ArtifactCreatedReply,
)


# -- the client ---------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Generation:
    """One generation in flight (mutated under the client's lock)."""

    space: str
    tool: str
    callback: OutcomeCallback
    sent_at: float
    deadline: float
    timeout: float
    on_started: StartedCallback | None = None
    job_id: str | None = None
    next_poll: float | None = None
    polling: bool = False
    unreachable_since: float | None = None
    """When a status poll first found hootenanny unreachable (reset by any answer)."""
    done: bool = False


@dataclass(slots=True)
class _Early:
    event: wire_broadcasts.JobStateChanged
    seen_at: float


class GenerationClient:
    """Starts generations through a HootenannyLink and watches the EventHub for their jobs."""

    def __init__(
        self,
        link: HootenannyLink,
        hub: EventHub,
        *,
        timeout: float,
        request_timeout: float | None = None,
        status_poll_s: float = DEFAULT_STATUS_POLL_S,
        subscriber_name: str = SUBSCRIBER_NAME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.link = link
        self.hub = hub
        self.timeout = float(timeout)
        self.request_timeout = float(request_timeout) if request_timeout else self.timeout
        """How long a job tool's `jobStarted` reply may take (direct tools: the whole timeout)."""
        self.status_poll_s = float(status_poll_s)
        self.subscriber_name = subscriber_name
        self._clock = clock
        self._cond = threading.Condition()
        self._active: set[_Generation] = set()
        self._by_job: dict[str, _Generation] = {}
        self._early: OrderedDict[str, _Early] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.counters: Counter[str] = Counter()
        self._sink = self._on_event  # one bound method, so unsubscribe finds it
        hub.subscribe(subscriber_name, self._sink)

    # -- public ---------------------------------------------------------------------------------

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(SPACES)

    def start(
        self,
        space: str,
        prompt: str | None = None,
        *,
        inference: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
        tags: Iterable[str] = (),
        callback: OutcomeCallback,
        timeout: float | None = None,
        on_started: StartedCallback | None = None,
    ) -> None:
        """Send the generation request for `space`; `callback` gets the GenerationOutcome once.

        An unknown space or a bad parameter is reported at once as a failed outcome (on this
        thread), as is a closed client or a link that cannot send. `on_started` gets the job id
        of a job tool once, on the IO thread, when its `jobStarted` reply arrives before the
        generation ended (see the module docstring)."""
        sent_at = self._clock()
        limit = self.timeout if timeout is None else float(timeout)
        try:
            spec = resolve_space(space)
            call = build_request(spec, prompt, inference=inference, tags=tags)
        except GenerationRequestError as exc:
            self._count("refused")
            _deliver(callback, GenerationOutcome(str(space), None, "failed", None, str(exc), 0.0))
            return
        gen = _Generation(
            space=spec.name,
            tool=spec.tool,
            callback=callback,
            sent_at=sent_at,
            deadline=sent_at + limit,
            timeout=limit,
            on_started=on_started,
        )
        with self._cond:
            if self._closed:
                closed = True
            else:
                closed = False
                self._active.add(gen)
                self._ensure_thread()
                self._cond.notify_all()
        if closed:
            self._finish(gen, "failed", error="the generation client is closed (system stopping)")
            return
        self._count("started")
        request_timeout = limit if spec.kind == "direct" else min(limit, self.request_timeout)
        self.link.call(
            call, timeout=request_timeout, callback=lambda reply: self._on_reply(gen, reply)
        )

    def in_flight(self) -> int:
        """How many generations have not ended yet."""
        with self._cond:
            return len(self._active)

    def stats(self) -> dict[str, Any]:
        """Counters for diagnostics (admin): started, completed, failed, timeouts, early ..."""
        with self._cond:
            return {**self.counters, "in_flight": len(self._active), "early_kept": len(self._early)}

    def _count(self, name: str) -> None:
        with self._cond:
            self.counters[name] += 1

    def close(self) -> None:
        """Stop watching, stop the timer thread, fail every generation still running."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            left = list(self._active)
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        self.hub.unsubscribe(self.subscriber_name, self._sink)
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        for gen in left:
            self._finish(
                gen, "failed", error=f"{gen.space}: the system stopped before the job ended"
            )

    # -- regions ----------------------------------------------------------------------------------

    def create_region(
        self,
        content_id: str,
        position: float,
        duration: float = DEFAULT_REGION_BEATS,
        *,
        callback: RegionCallback,
    ) -> None:
        """Put playable content on chaosgarden's timeline; see `create_region`."""
        create_region(
            self.link,
            content_id,
            position,
            duration,
            timeout=self.request_timeout,
            callback=callback,
        )

    def audition(
        self,
        content: Any,
        duration: float | None = None,
        *,
        callback: RegionCallback,
        position: float | None = None,
    ) -> None:
        """A region for `content` at `position`, by default chaosgarden's current position (asked
        with `gardenStatus`), for `duration` beats (default 16). It does not start the transport:
        the caller does that through its clock (the DSL's audition() calls play())."""
        content_id = getattr(content, "id", content)
        length = DEFAULT_REGION_BEATS if duration is None else float(duration)
        if position is not None:
            self.create_region(str(content_id), float(position), length, callback=callback)
            return
        started = time.monotonic()

        def on_status(reply: Any) -> None:
            if isinstance(reply, wire.UnifiedStatus):
                at = max(0.0, float(reply.transport.position_beats))
                self.create_region(str(content_id), at, length, callback=callback)
                return
            error = _reply_error(reply, "gardenStatus")
            _deliver_region(
                callback,
                RegionOutcome(
                    str(content_id),
                    0.0,
                    length,
                    "failed",
                    None,
                    None,
                    f"audition: cannot read the transport position: {error}",
                    (time.monotonic() - started) * 1000.0,
                ),
            )

        self.link.call(wire.GardenStatus(), timeout=self.request_timeout, callback=on_status)

    # -- replies (IO thread) --------------------------------------------------------------------

    def _on_reply(self, gen: _Generation, reply: Any) -> None:
        if isinstance(reply, BaseException):
            self._finish(gen, "failed", error=f"{gen.space}: {reply}")
        elif isinstance(reply, ErrorReply):
            self._finish(
                gen, "failed", error=f"{gen.space}: hootenanny error {reply.code}: {reply.message}"
            )
        elif isinstance(reply, wire.JobStarted):
            self._job_started(gen, reply.job_id)
        elif isinstance(reply, _DIRECT_RESULTS):
            artifact_id = artifact_of(reply)
            if artifact_id is None:
                self._finish(gen, "failed", error=f"{gen.space}: {gen.tool} returned no artifact")
            else:
                self._finish(gen, "complete", artifact_id=artifact_id)
        else:
            self._finish(
                gen,
                "failed",
                error=f"{gen.space}: unexpected reply {type(reply).__name__} to {gen.tool}",
            )

    def _job_started(self, gen: _Generation, job_id: str) -> None:
        with self._cond:
            if gen.done or gen.job_id is not None:
                return
            gen.job_id = job_id
            hook, gen.on_started = gen.on_started, None
            early = self._early.pop(job_id, None)
            if early is None:
                self._by_job[job_id] = gen
                gen.next_poll = self._clock() + self.status_poll_s
                self._cond.notify_all()
        if hook is not None:
            _deliver_started(hook, gen.space, job_id)
        if early is not None:
            self._count("broadcast_before_reply")
            self._finish_from_event(gen, early.event)

    # -- broadcasts (IO thread, through the hub) ------------------------------------------------

    def _on_event(self, event: Any) -> None:
        if not isinstance(event, wire_broadcasts.JobStateChanged):
            return
        if event.state not in ("complete", "failed", "cancelled"):
            return
        with self._cond:
            gen = self._by_job.pop(event.job_id, None)
            if gen is None:
                now = self._clock()
                self._early[event.job_id] = _Early(event, now)
                self._early.move_to_end(event.job_id)
                self._prune_early(now)
                return
        self._finish_from_event(gen, event)

    def _prune_early(self, now: float) -> None:
        while self._early:
            job_id, early = next(iter(self._early.items()))
            if len(self._early) <= EARLY_MAX and now - early.seen_at <= EARLY_RETENTION_S:
                return
            del self._early[job_id]

    def _finish_from_event(self, gen: _Generation, event: wire_broadcasts.JobStateChanged) -> None:
        payload = _json_object(event.result)
        if event.state == "complete":
            artifact_id = payload.get("artifact_id") if payload is not None else None
            self._finish(
                gen, "complete", artifact_id=artifact_id if isinstance(artifact_id, str) else None
            )
            return
        if event.state == "cancelled":
            self._finish(
                gen, "failed", error=f"{gen.space}: {gen.tool} job {event.job_id} was cancelled"
            )
            return
        reason = payload.get("error") if payload is not None else None
        text = str(reason) if reason else (event.result or "no reason given")
        self._finish(
            gen, "failed", error=f"{gen.space}: {gen.tool} job {event.job_id} failed: {text}"
        )

    # -- jobStatus fallback and timeouts (timer thread) -----------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="generation-timer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            expired: list[_Generation] = []
            polls: list[_Generation] = []
            with self._cond:
                if self._closed:
                    return
                now = self._clock()
                wake: float | None = None
                for gen in self._active:
                    if gen.deadline <= now:
                        expired.append(gen)
                        continue
                    wake = gen.deadline if wake is None else min(wake, gen.deadline)
                    if gen.job_id is not None and gen.next_poll is not None and not gen.polling:
                        if gen.next_poll <= now:
                            gen.polling = True
                            polls.append(gen)
                        else:
                            wake = min(wake, gen.next_poll)
                if not expired and not polls:
                    self._cond.wait(None if wake is None else max(0.0, wake - now) + 0.001)
                    continue
            for gen in expired:
                self._count("timeouts")
                job = f" job {gen.job_id}" if gen.job_id else ""
                self._finish(
                    gen,
                    "failed",
                    error=(
                        f"{gen.space}: {gen.tool}{job} did not finish within {gen.timeout:g} s "
                        f"(hootenanny at {self.link.endpoint})"
                    ),
                )
            for gen in polls:
                self._poll(gen)

    def _poll(self, gen: _Generation) -> None:
        assert gen.job_id is not None
        self._count("status_polls")
        self.link.call(
            wire.JobStatus(job_id=gen.job_id),
            timeout=self.request_timeout,
            callback=lambda reply: self._on_status(gen, reply),
        )

    def _on_status(self, gen: _Generation, reply: Any) -> None:
        with self._cond:
            now = self._clock()
            gen.polling = False
            gen.next_poll = now + self.status_poll_s
            self._cond.notify_all()
            if gen.done:
                return
            if not isinstance(reply, NotConnected):
                gen.unreachable_since = None
            elif gen.unreachable_since is None:
                gen.unreachable_since = now
            unreachable_for = 0.0 if gen.unreachable_since is None else now - gen.unreachable_since
        if isinstance(reply, wire.JobStatusReply):
            if reply.status == "complete":
                self._finish(gen, "complete", artifact_id=artifact_of(reply.result))
            elif reply.status == "failed":
                error = reply.error or "no reason given"
                self._finish(
                    gen, "failed", error=f"{gen.space}: {gen.tool} job {gen.job_id} failed: {error}"
                )
            elif reply.status == "cancelled":
                self._finish(
                    gen, "failed", error=f"{gen.space}: {gen.tool} job {gen.job_id} was cancelled"
                )
        elif isinstance(reply, ErrorReply) and reply.code == NOT_FOUND:
            self._finish(
                gen,
                "failed",
                error=f"{gen.space}: hootenanny no longer knows job {gen.job_id} ({reply.message})",
            )
        elif isinstance(reply, NotConnected) and unreachable_for >= self.request_timeout:
            # hootenanny has been unreachable for a whole request timeout while the job ran (a
            # poll fails after the link's short connect grace; one failed poll is not enough):
            # its end can no longer be told (a restarted hootenanny forgets its jobs)
            self._finish(
                gen,
                "failed",
                error=(
                    f"{gen.space}: lost hootenanny while job {gen.job_id} was running, so its "
                    f"outcome is unknown ({reply})"
                ),
            )
        # anything else (a timeout, a transient error): ask again at the next interval

    # -- settling -------------------------------------------------------------------------------

    def _finish(
        self,
        gen: _Generation,
        state: OutcomeState,
        *,
        artifact_id: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._cond:
            if gen.done:
                return
            gen.done = True
            self._active.discard(gen)
            if gen.job_id is not None and self._by_job.get(gen.job_id) is gen:
                del self._by_job[gen.job_id]
            duration_ms = (self._clock() - gen.sent_at) * 1000.0
            self.counters["completed" if state == "complete" else "failed"] += 1
        outcome = GenerationOutcome(gen.space, gen.job_id, state, artifact_id, error, duration_ms)
        log.info(
            "generation_finished",
            space=gen.space,
            job_id=gen.job_id,
            state=state,
            artifact_id=artifact_id,
            error=error,
            duration_ms=round(duration_ms, 1),
        )
        _deliver(gen.callback, outcome)


def create_region(
    link: HootenannyLink,
    content_id: str,
    position: float,
    duration: float,
    *,
    timeout: float,
    callback: RegionCallback,
) -> None:
    """Create a `play_content` region (sheet §3.1/§3.2) and report it once through `callback`.

    `gardenCreateRegion` is answered by `jobStarted`; the garden job is final by then, and its
    result `gardenRegionCreated` (read with `jobStatus`) is the only place the region id appears.
    Should the job still run, one `jobPoll` waits for it before asking again. Each round trip is
    bounded by `timeout`; the callback runs on the gateway's IO thread (or here, if the link
    cannot send)."""
    _RegionSteps(link, content_id, position, duration, timeout, callback).begin()


class _RegionSteps:
    """The round trips of one create_region (each answer arrives on the IO thread)."""

    def __init__(
        self,
        link: HootenannyLink,
        content_id: str,
        position: float,
        duration: float,
        timeout: float,
        callback: RegionCallback,
    ) -> None:
        self.link = link
        self.content_id = content_id
        self.position = position
        self.duration = duration
        self.timeout = timeout
        self.callback = callback
        self.started = time.monotonic()
        self.job_id: str | None = None
        self.polled = False
        self.done = False

    def begin(self) -> None:
        call = wire.GardenCreateRegion(
            position=self.position,
            duration=self.duration,
            behavior_type="play_content",
            content_id=self.content_id,
        )
        self.link.call(call, timeout=self.timeout, callback=self.on_created)

    def on_created(self, reply: Any) -> None:
        if isinstance(reply, wire.JobStarted):
            self.job_id = reply.job_id
            self.ask_status()
        else:
            self.end(None, _reply_error(reply, "gardenCreateRegion"))

    def ask_status(self) -> None:
        assert self.job_id is not None
        self.link.call(
            wire.JobStatus(job_id=self.job_id), timeout=self.timeout, callback=self.on_status
        )

    def on_status(self, reply: Any) -> None:
        job = self.job_id
        if not isinstance(reply, wire.JobStatusReply):
            self.end(None, _reply_error(reply, "jobStatus"))
        elif reply.status == "complete":
            if isinstance(reply.result, wire.GardenRegionCreated):
                self.end(reply.result.region_id, None)
            else:
                kind = type(reply.result).__name__
                self.end(None, f"region job {job} completed without a region ({kind})")
        elif reply.status in ("failed", "cancelled"):
            self.end(None, reply.error or f"region job {job} {reply.status}")
        elif not self.polled:
            self.polled = True
            wait_ms = int(self.timeout * 1000)
            poll = wire.JobPoll(job_ids=(job or "",), timeout_ms=wait_ms, mode="any")
            self.link.call(poll, timeout=self.timeout + 1.0, callback=lambda _r: self.ask_status())
        else:
            self.end(None, f"region job {job} is still {reply.status}")

    def end(self, region_id: str | None, error: str | None) -> None:
        if self.done:
            return
        self.done = True
        outcome = RegionOutcome(
            self.content_id,
            self.position,
            self.duration,
            "complete" if error is None else "failed",
            region_id,
            self.job_id,
            error,
            (time.monotonic() - self.started) * 1000.0,
        )
        _deliver_region(self.callback, outcome)


def _reply_error(reply: Any, what: str) -> str:
    if isinstance(reply, ErrorReply):
        return f"hootenanny error {reply.code}: {reply.message}"
    if isinstance(reply, BaseException):
        return str(reply) or type(reply).__name__
    return f"unexpected reply {type(reply).__name__} to {what}"


def _deliver_region(callback: RegionCallback, outcome: RegionOutcome) -> None:
    try:
        callback(outcome)
    except Exception as exc:  # noqa: BLE001 - a broken callback must not break the IO thread
        log.error("region_callback_failed", error=f"{type(exc).__name__}: {exc}")


def _deliver(callback: OutcomeCallback, outcome: GenerationOutcome) -> None:
    try:
        callback(outcome)
    except Exception as exc:  # noqa: BLE001 - a broken callback must not break the caller's thread
        log.error(
            "generation_callback_failed", space=outcome.space, error=f"{type(exc).__name__}: {exc}"
        )


def _deliver_started(hook: StartedCallback, space: str, job_id: str) -> None:
    try:
        hook(job_id)
    except Exception as exc:  # noqa: BLE001 - a broken hook must not break the IO thread
        log.error(
            "generation_started_hook_failed",
            space=space,
            job_id=job_id,
            error=f"{type(exc).__name__}: {exc}",
        )


def _json_object(text: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
