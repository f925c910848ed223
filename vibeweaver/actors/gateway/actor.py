"""ZmqGateway: vibeweaver's side of the hootenanny suite over ZeroMQ.

State owned: the GatewayIO thread and its sockets (bound in `__init__`, on the starting thread, so
a port in use is a StartupError right away), the retry cache that turns hootenanny's re-sends of a
slow weaveEval into one execution, and a small worker pool that runs the weave* tools (blocking
asks to the kernel and the store) so this actor's mailbox never waits behind a long eval.
Messages accepted: `RequestReceived` and `EvalCompleted` (tells), `GetGatewayStatus` (ask).
Broadcasts are decoded on the IO thread and published to the system's EventHub.

Crash: the IO thread with its sockets, the retry cache and the workers are handed to the next
incarnation through the vault, so a peer's requests in flight are still answered (no ROUTER
re-bind, whose gap would lose frames; the cache still knows who waits for which execution).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vibeweaver.actors.base import ActorContext, WeaverActor, handles
from vibeweaver.actors.gateway import messages as m
from vibeweaver.actors.gateway.dedupe import RetryCache
from vibeweaver.actors.gateway.io_thread import SERVICE_NAME, GatewayIO
from vibeweaver.actors.gateway.link import CONNECT_GRACE_S, HootenannyLink
from vibeweaver.actors.gateway.zap import parse_allow_list
from vibeweaver.actors.hub import EventHub
from vibeweaver.config import Config
from vibeweaver.kernel.outcome import EvalOutcome
from vibeweaver.service import ToolService
from vibeweaver.wire import envelope as wire
from vibeweaver.wire.frames import HootFrame, reply_frame

WORKERS = 4


@dataclass(frozen=True, slots=True)
class _Kept:
    """What a crashed incarnation hands to the next through the vault."""

    io: GatewayIO | None
    retries: RetryCache
    workers: ThreadPoolExecutor
    link: HootenannyLink

    @property
    def usable(self) -> bool:
        return self.io is None or self.io.alive

    def discard(self) -> None:
        """Close it all (no next incarnation will take it: the actor stopped or was given up)."""
        if self.io is not None:
            self.link.detach(self.io)
            self.io.stop()
        self.workers.shutdown(wait=False, cancel_futures=True)


class ZmqGateway(WeaverActor):
    """Owns the sockets; see the module docstring."""

    def __init__(
        self, context: ActorContext, *, config: Config, hub: EventHub, link: HootenannyLink
    ) -> None:
        super().__init__(context)
        self.config = config
        self.hub = hub
        self.link = link
        self.service = ToolService(self.system, eval_timeout=config.eval_timeout)
        self.io: GatewayIO | None = None
        kept = context.vault.pop("kept", None)
        if isinstance(kept, _Kept) and kept.usable:
            self.retries, self.workers, self.io = kept.retries, kept.workers, kept.io
            return
        if isinstance(kept, _Kept):
            kept.discard()
        self.retries = RetryCache()
        self.workers = ThreadPoolExecutor(
            max_workers=WORKERS, thread_name_prefix=f"{context.name}-work"
        )
        if config.router or config.hootenanny or config.broadcasts:
            handle = self.system.handle(context.name)
            stats = context.stats

            def on_request(identity: tuple[bytes, ...], frame: HootFrame, request: Any) -> None:
                handle.tell(m.RequestReceived(identity=identity, frame=frame, request=request))

            def publish_stats(sockets: list[dict[str, Any]], counters: dict[str, Any]) -> None:
                stats.publish(sockets=sockets, counters=counters, subscribers=hub.subscribers)

            self.io = GatewayIO(
                router=config.router,
                hootenanny=config.hootenanny,
                broadcasts=config.broadcasts,
                on_request=on_request,
                on_broadcast=hub.publish,
                on_broadcasts=hub.publish_many,
                publish_stats=publish_stats,
                name=f"{context.name}-io",
                connect_timeout=min(config.hootenanny_timeout, CONNECT_GRACE_S),
                router_allow=(
                    parse_allow_list(config.router_allow) if config.router_allow else None
                ),
            )
            try:
                self.io.start()
            except BaseException:
                self.workers.shutdown(wait=False)
                raise
            link.attach(self.io)

    def release(self) -> None:
        kept = _Kept(io=self.io, retries=self.retries, workers=self.workers, link=self.link)
        if self.crashed and kept.usable:
            self.context.vault["kept"] = kept
        else:
            kept.discard()

    # -- requests ---------------------------------------------------------------------------------

    @handles(m.RequestReceived)
    def request_received(self, message: m.RequestReceived) -> None:
        request = message.request
        if isinstance(request, wire.WeaveEvalRequest):
            key = (message.identity, request.code)
            execution, is_new = self.retries.begin(key, (message.identity, message.frame))
            if is_new:
                self.workers.submit(self._run_eval, key, request.code)
            elif not execution.running:
                self.log.info("eval_retry_answered_from_cache")
                self._send(
                    message.identity,
                    message.frame,
                    self._eval_reply_body(message.frame.request_id, execution.outcome),
                )
            else:
                self.log.info("eval_retry_joined_running_execution")
            return
        self.workers.submit(self._run_other, message.identity, message.frame, request)

    def _run_eval(self, key: tuple[tuple[bytes, ...], str], code: str) -> None:
        handle = self.system.handle(self.context.name)
        try:
            outcome = self.service.evaluate(code)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error reply
            handle.tell(
                m.EvalCompleted(key=key, outcome=None, error=f"{type(exc).__name__}: {exc}")
            )
            return
        handle.tell(m.EvalCompleted(key=key, outcome=outcome))

    @handles(m.EvalCompleted)
    def eval_completed(self, message: m.EvalCompleted) -> None:
        result: Any = message.outcome if message.outcome is not None else message.error
        waiting = self.retries.finish(message.key, result)
        if message.outcome is None:
            self.retries.forget(message.key)  # an internal failure is not replayed to retries
        for identity, frame in waiting:
            self._send(identity, frame, self._eval_reply_body(frame.request_id, result))

    def _eval_reply_body(self, request_id: bytes, result: EvalOutcome | str) -> bytes:
        if isinstance(result, str):
            return wire.encode_error(request_id, code="internal_error", message=result)
        return encode_eval_outcome(request_id, result)

    def _run_other(self, identity: tuple[bytes, ...], frame: HootFrame, request: Any) -> None:
        request_id = frame.request_id
        try:
            if isinstance(request, wire.WeaveSessionRequest):
                try:
                    view = self.service.session()
                except Exception as exc:  # noqa: BLE001 - no session is an answer, not a failure
                    body = wire.encode_weave_session_reply(
                        request_id, session=None, message=str(exc)
                    )
                else:
                    info = wire.SessionInfo(
                        id=view.session.id, name=view.session.name, vibe=view.session.vibe or ""
                    )
                    body = wire.encode_weave_session_reply(
                        request_id, session=info, message=view.summary
                    )
            elif isinstance(request, wire.WeaveResetRequest):
                try:
                    result = self.service.reset(request.clear_session)
                except Exception as exc:  # noqa: BLE001
                    body = wire.encode_error(request_id, code="reset_error", message=str(exc))
                else:
                    body = wire.encode_weave_reset_reply(
                        request_id, reset=result.reset, message=result.message
                    )
            elif isinstance(request, wire.WeaveHelpRequest):
                _, text = self.service.help(request.topic)
                body = wire.encode_weave_help_reply(request_id, help=text, topic=request.topic)
            else:
                body = wire.encode_error(
                    request_id,
                    code="unhandled_payload",
                    message="Vibeweaver does not handle this payload type",
                    details=json.dumps({"kind": type(request).__name__}),
                )
        except Exception as exc:  # noqa: BLE001 - never leave a peer waiting
            body = wire.encode_error(
                request_id, code="internal_error", message=f"{type(exc).__name__}: {exc}"
            )
        self._send(identity, frame, body)

    def _send(self, identity: tuple[bytes, ...], frame: HootFrame, body: bytes) -> None:
        if self.io is not None:
            self.io.send_reply(identity, reply_frame(frame, body, SERVICE_NAME))

    @handles(m.GetGatewayStatus)
    def status(self, message: m.GetGatewayStatus) -> m.GatewayStatus:
        return m.GatewayStatus(
            router=self.config.router,
            hootenanny=self.config.hootenanny,
            broadcasts=self.config.broadcasts,
            retries_joined=self.retries.joined,
            retries_replayed=self.retries.replayed,
            evals_started=self.retries.started,
            executions_cached=len(self.retries),
        )


def encode_eval_outcome(request_id: bytes, outcome: EvalOutcome) -> bytes:
    """SPEC §3.3 mapping of an eval outcome to a weaveEval reply or a python_error."""
    if outcome.status == "ok":
        if outcome.has_expression and outcome.result is not None:
            return wire.encode_weave_eval_reply(
                request_id,
                output_type="expression",
                result=outcome.result,
                stdout=outcome.stdout,
                stderr=outcome.stderr,
            )
        return wire.encode_weave_eval_reply(
            request_id,
            output_type="statement",
            result="",
            stdout=outcome.stdout,
            stderr=outcome.stderr,
        )
    error = outcome.error
    details = {
        "type": error.type if error else "TimeoutError",
        "message": error.message if error else "",
        "traceback": error.traceback if error else "",
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "status": outcome.status,
        "execution_count": outcome.execution_count,
    }
    if outcome.status == "timeout":
        message = error.message if error else "the cell was interrupted at its timeout"
        return wire.encode_error(
            request_id,
            code="eval_timeout",
            message=f"TimeoutError: {message}",
            details=json.dumps(details),
        )
    assert error is not None
    return wire.encode_error(
        request_id,
        code="python_error",
        message=f"{error.type}: {error.message}",
        details=json.dumps(details),
    )
