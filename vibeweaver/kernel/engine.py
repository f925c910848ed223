"""The Kernel: one persistent namespace evaluated on its own eval thread; a plain object."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import secrets
import threading
import time
from functools import partial
from typing import TYPE_CHECKING

import structlog

from vibeweaver.kernel import capture
from vibeweaver.kernel.callbacks import CallbackDefinitionError, compile_callback
from vibeweaver.kernel.cell import (
    RESULT_NAME,
    CompiledCell,
    check_awaits,
    compile_cell,
    display_filename,
    forget_source,
    pseudo_filename,
    pseudo_token,
    register_source,
)
from vibeweaver.kernel.interrupt import EvalInterrupted, kernel_builtins
from vibeweaver.kernel.outcome import CallOutcome, ErrorInfo, EvalOutcome, Status
from vibeweaver.kernel.reload import WorkspaceReloader
from vibeweaver.kernel.runner import EvalThread, Job, JobBody, WaitResult
from vibeweaver.kernel.tracebacks import error_info, format_user_traceback

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from types import CodeType

log = structlog.get_logger(__name__)

DEFINE_TIMEOUT_S = 5.0
"""Limit for defining a callback from stored source (it only runs a `def`)."""
RESET_TIMEOUT_S = 5.0
"""Limit for a reset (cancelling leftover tasks and clearing the namespace)."""
STOPPING_REASON = "the service is stopping"
"""The default reason of `Kernel.interrupt`."""
INTERRUPTED_TYPE = "Interrupted"
"""`ErrorInfo.type` of a cell or callback cut short by `Kernel.interrupt`."""


class Kernel:
    """A persistent Python namespace evaluated on a dedicated eval thread with an asyncio loop.

    Threads: `start`, `stop`, `evaluate`, `call`, `define_callback` and `reset` are called from the
    owner's thread (the actor) and block until the eval thread is done or the timeout escalation
    gives up; they are serialised by a lock. User code, reloads, repr and callbacks run only on the
    eval thread. Other threads may resolve futures of `loop` with `loop.call_soon_threadsafe`, and
    may call `interrupt` (it never blocks) to cut the running cell or callback short.

    Timeouts: at the limit a task blocked in `await` is cancelled; code running on the thread gets
    an EvalInterrupted (a BaseException) injected, only while it is in user code; if the thread
    still does not come back within a second, it is abandoned (it ends on its own if its code
    ever returns) and a fresh eval thread with a fresh loop takes over the same namespace.
    `interrupt` starts the same escalation at once; the outcome is then status "error" with error
    type "Interrupted" (not "timeout": the code did not run out of time, it was stopped).
    """

    def __init__(
        self,
        *,
        workspace: Path | None = None,
        output_cap: int = 8192,
        prelude: Mapping[str, object] | None = None,
        on_thread_start: Callable[[], None] | None = None,
        name: str = "kernel",
        execution_count: int = 0,
    ) -> None:
        self._name = name
        self._cap = output_cap
        self._token = secrets.token_hex(4)
        self._prelude = dict(prelude or {})
        self._on_thread_start = on_thread_start
        self._reloader = WorkspaceReloader(workspace) if workspace is not None else None
        self._namespace: dict[str, object] = {}
        self._fill_namespace()
        self._lock = threading.RLock()
        self._count = execution_count
        self._callback_serial = itertools.count(1)
        self._generation = 0
        self._thread: EvalThread | None = None
        self._abandoned: list[EvalThread] = []
        self._filenames: set[str] = set()
        self._started = False
        self._current_lock = threading.Lock()  # never held while waiting on anything
        self._current: Job | None = None
        """The interruptible job (a cell or a callback call) in flight, if any."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the eval thread (and install the shared stdout/stderr proxy)."""
        with self._lock:
            if self._started:
                return
            capture.acquire()
            try:
                if self._reloader is not None:
                    self._reloader.add_to_path()
                self._thread = self._new_thread()
            except BaseException:
                capture.release()
                raise
            self._started = True

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the eval thread (and any abandoned one that has come back); idempotent."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            deadline = time.monotonic() + timeout
            threads = [t for t in (self._thread, *self._abandoned) if t is not None]
            self._thread = None
            self._abandoned = []
            for thread in threads:
                thread.request_stop()
            left = [
                t.thread.name for t in threads if not t.stop(max(0.0, deadline - time.monotonic()))
            ]
            if left:
                log.warning("kernel_threads_still_running", kernel=self._name, threads=left)
            capture.release()
            for filename in self._filenames:
                forget_source(filename)
            self._filenames.clear()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The eval thread's loop (it changes if a wedged thread had to be replaced)."""
        return self._require_thread().loop

    @property
    def execution_count(self) -> int:
        return self._count

    @property
    def namespace(self) -> dict[str, object]:
        """The live globals."""
        return self._namespace

    @property
    def eval_thread(self) -> threading.Thread | None:
        """The current eval thread (for diagnostics)."""
        return self._thread.thread if self._thread is not None else None

    # -- evaluation -----------------------------------------------------------------------------

    def interrupt(self, reason: str = STOPPING_REASON) -> bool:
        """Cut the running cell or callback call short; any thread, never blocks.

        The owner's `evaluate` / `call` stops waiting for the timeout and runs the interrupt
        escalation now (cancel the task, inject EvalInterrupted while user code runs, give the
        thread up if it does not come back); its outcome is status "error" with error type
        "Interrupted" and a message saying `reason`. True if a cell or call was running; False
        (and nothing happens) when the kernel is idle or busy defining a callback or resetting,
        which have short limits of their own.
        """
        with self._current_lock:
            job = self._current
            if job is None:
                return False
            return job.request_stop(reason)

    def evaluate(self, code: str, *, timeout: float) -> EvalOutcome:
        """Run one cell; never raises for user errors (they come back as status "error")."""
        started = time.perf_counter()
        self._check_caller()
        with self._lock:
            self._require_thread()
            self._count += 1
            count = self._count
            filename = pseudo_filename(f"cell-{count}", self._token)
            self._register(filename, code)
            try:
                cell = compile_cell(code, filename)
            except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
                return EvalOutcome(
                    status="error",
                    execution_count=count,
                    result=None,
                    has_expression=False,
                    stdout="",
                    stderr="",
                    error=self._error_info(exc),
                    duration_ms=_ms_since(started),
                )
            job, waited = self._run_job(partial(self._cell_body, cell), timeout, interruptible=True)
            status, error = self._status(job, waited, timeout)
            result = job.value if status == "ok" and isinstance(job.value, str) else None
            return EvalOutcome(
                status=status,
                execution_count=count,
                result=result,
                has_expression=cell.has_expression,
                stdout=job.sinks.stdout.getvalue(),
                stderr=job.sinks.stderr.getvalue(),
                error=error,
                duration_ms=_ms_since(started),
            )

    def call(self, fn: Callable[..., object], *args: object, timeout: float) -> CallOutcome:
        """Run `fn(*args)` on the eval thread (awaiting it if it returns an awaitable), with the
        same capture and timeout as `evaluate`."""
        started = time.perf_counter()
        self._check_caller()
        with self._lock:
            job, waited = self._run_job(
                partial(self._call_body, fn, args), timeout, interruptible=True
            )
            return self._call_outcome(job, waited, timeout, started)

    def call_beside(self, fn: Callable[..., object], *args: object, timeout: float) -> CallOutcome:
        """`call`, but beside a running cell rather than after it: the call is a task of its own
        on the eval loop, interleaved with the cell at its await points (a rule's callback while
        a cell awaits `sample()`). Not interruptible by `interrupt` (that is for the cell), but
        cut short at its own timeout; a call that does not come back leaves the thread to the
        cell (it is not replaced)."""
        started = time.perf_counter()
        self._check_caller()
        job, waited = self._run_job(
            partial(self._call_body, fn, args), timeout, replace_wedged=False
        )
        return self._call_outcome(job, waited, timeout, started)

    def _call_outcome(
        self, job: Job, waited: WaitResult, timeout: float, started: float
    ) -> CallOutcome:
        status, error = self._status(job, waited, timeout)
        return CallOutcome(
            status=status,
            value_repr=job.value if status == "ok" and isinstance(job.value, str) else None,
            stdout=job.sinks.stdout.getvalue(),
            stderr=job.sinks.stderr.getvalue(),
            error=error,
            duration_ms=_ms_since(started),
        )

    def define_callback(self, name: str, source: str) -> Callable[..., object]:
        """Define the function `name` from stored source in the namespace and return it (also
        beside a running cell: defining only runs a `def`).

        Raises CallbackDefinitionError when the source does not define `name` cleanly (does not
        parse, is not exactly one def of that name, or fails while defining).
        """
        self._check_caller()
        serial = next(self._callback_serial)
        filename = pseudo_filename(f"callback-{serial}-{name}", self._token)
        code = compile_callback(name, source, filename)
        self._register(filename, source)
        job, waited = self._run_job(
            partial(self._define_body, name, code), DEFINE_TIMEOUT_S, replace_wedged=False
        )
        status, error = self._status(job, waited, DEFINE_TIMEOUT_S)
        if error is not None:
            raise CallbackDefinitionError(
                f"callback {name!r}: defining it failed ({status}): {error.type}: {error.message}"
            )
        fn = job.value
        if not callable(fn) or getattr(fn, "__name__", None) != name:
            raise CallbackDefinitionError(
                f"callback {name!r}: the stored source did not leave a function of that name"
            )
        return fn

    def reset(self) -> None:
        """Cancel leftover tasks and pending futures of the loop and clear the user's names;
        prelude names and __builtins__ are restored, execution_count keeps going up."""
        self._check_caller()
        with self._lock:
            job, waited = self._run_job(self._reset_body, RESET_TIMEOUT_S)
            if waited != "finished" or job.error is not None or job.lost is not None:
                log.warning(
                    "kernel_reset_incomplete",
                    kernel=self._name,
                    waited=waited,
                    error=repr(job.error),
                    lost=job.lost,
                )
                self._fill_namespace(clear=True)

    # -- job bodies (eval thread) ---------------------------------------------------------------

    async def _cell_body(self, cell: CompiledCell, job: Job) -> object:
        check_awaits(cell, self._namespace)  # `await play()`: refused before anything runs
        if job.route is not None:
            idle = job.route.take_idle()
            if idle is not None:
                job.sinks.stdout.write(idle.stdout.getvalue())
                job.sinks.stderr.write(idle.stderr.getvalue())
        if self._reloader is not None:
            job.run_user(self._reloader.reload_changed, partial(self._report_reload, job))
        namespace = self._namespace
        try:
            if cell.is_async:
                # eval and exec of user code are the point of a kernel.
                coroutine = job.run_user(eval, cell.code, namespace)
                await job.await_user(coroutine)
            else:
                job.run_user(exec, cell.code, namespace)
            if not cell.has_expression:
                return None
            value = namespace.get(RESULT_NAME)
            return None if value is None else job.run_user(self._repr, value)
        finally:
            namespace.pop(RESULT_NAME, None)
            if self._reloader is not None:
                self._reloader.record_new()

    async def _call_body(
        self, fn: Callable[..., object], args: tuple[object, ...], job: Job
    ) -> object:
        value = job.run_user(fn, *args)
        if inspect.isawaitable(value):
            value = await job.await_user(value)
        return None if value is None else job.run_user(self._repr, value)

    async def _define_body(self, name: str, code: CodeType, job: Job) -> object:
        job.run_user(exec, code, self._namespace)  # stored callback source
        return self._namespace.get(name)

    async def _reset_body(self, job: Job) -> object:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks(loop) if t is not me and not t.done()]
        for task in tasks:
            task.cancel()
        pending = getattr(loop, "pending_futures", None)
        if pending is not None:
            for future in pending():
                future.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        self._fill_namespace(clear=True)
        return None

    def _repr(self, value: object) -> str:
        return capture.cap_text(repr(value), self._cap)

    def _report_reload(self, job: Job, module: str, exc: BaseException) -> None:
        job.sinks.stderr.write(
            f"vibeweaver: reloading workspace module {module!r} failed; the old version stays:\n"
            f"{self._describe(exc)}\n"
        )

    # -- machinery (owner thread) ---------------------------------------------------------------

    def _run_job(
        self,
        body: JobBody,
        timeout: float,
        *,
        interruptible: bool = False,
        replace_wedged: bool = True,
    ) -> tuple[Job, WaitResult]:
        thread = self._require_thread()
        if not thread.alive:
            thread = self._replace_thread(thread, reason="the eval thread had died")
        capture.ensure_installed()
        job = Job(capture.OutputSinks.new(self._cap))
        if interruptible:
            with self._current_lock:
                self._current = job
        try:
            thread.submit(job, body)
            waited = thread.wait(job, timeout)
        finally:
            if interruptible:
                with self._current_lock:
                    self._current = None
        if (waited == "wedged" and replace_wedged) or not thread.alive:
            try:
                self._replace_thread(thread, reason="the eval thread did not come back")
            except Exception as exc:  # noqa: BLE001 - logged; the next call tries again and raises
                log.error("eval_thread_restart_failed", kernel=self._name, error=repr(exc))
                self._thread = None
        return job, waited

    def _status(
        self, job: Job, waited: WaitResult, timeout: float
    ) -> tuple[Status, ErrorInfo | None]:
        if waited != "finished" or job.timed_out:
            if job.stop_reason is not None:
                return "error", self._interrupted_info(job, waited, job.stop_reason)
            return "timeout", self._timeout_info(job, waited, timeout)
        if job.lost is not None:
            return "error", ErrorInfo(
                type="KernelThreadLost",
                message=f"{job.lost}; a fresh eval thread took over and the namespace is kept",
                traceback=f"KernelThreadLost: {job.lost}",
            )
        if job.error is not None:
            return "error", self._error_info(job.error)
        return "ok", None

    def _timeout_info(self, job: Job, waited: WaitResult, timeout: float) -> ErrorInfo:
        message = f"the code exceeded its {timeout:g} s timeout and was interrupted"
        return self._escalation_info(job, waited, "TimeoutError", message)

    def _interrupted_info(self, job: Job, waited: WaitResult, reason: str) -> ErrorInfo:
        message = f"the code was interrupted before it finished because {reason}"
        return self._escalation_info(job, waited, INTERRUPTED_TYPE, message)

    def _escalation_info(
        self, job: Job, waited: WaitResult, error_type: str, message: str
    ) -> ErrorInfo:
        if waited == "orphaned":
            message += (
                "; its task ignored cancellation and still runs in the background "
                "(weave_reset cancels it)"
            )
        elif waited == "wedged":
            message += (
                ", but it did not stop (a blocking call, or code that catches BaseException); "
                "it was left on an abandoned thread and a fresh eval thread took over: asyncio "
                "tasks and futures of the old loop are gone"
            )
        message += "; the namespace is kept"
        summary = f"{error_type}: {message}"
        trace = summary
        if isinstance(job.error, (EvalInterrupted, asyncio.CancelledError)):
            trace = format_user_traceback(
                job.error, keep=self._is_user_file, display=display_filename, summary=summary
            )
        return ErrorInfo(
            type=error_type, message=message, traceback=capture.cap_text(trace, self._cap)
        )

    def _error_info(self, exc: BaseException) -> ErrorInfo:
        info = error_info(
            exc, keep=self._is_user_file, display=display_filename, namespace=self._namespace
        )
        return ErrorInfo(
            type=info.type,
            message=capture.cap_text(info.message, self._cap),
            traceback=capture.cap_text(info.traceback, self._cap),
        )

    def _describe(self, exc: BaseException) -> str:
        return format_user_traceback(exc, keep=self._is_user_file, display=display_filename)

    def _is_user_file(self, filename: str) -> bool:
        if pseudo_token(filename) == self._token:
            return True
        return self._reloader is not None and self._reloader.contains(filename)

    def _new_thread(self) -> EvalThread:
        self._generation += 1
        suffix = "" if self._generation == 1 else f"-{self._generation}"
        thread = EvalThread(
            name=f"{self._name}-eval{suffix}",
            output_cap=self._cap,
            on_thread_start=self._on_thread_start,
            describe_error=self._describe,
        )
        thread.start()
        return thread

    def _replace_thread(self, old: EvalThread, *, reason: str) -> EvalThread:
        log.warning(
            "eval_thread_replaced", kernel=self._name, thread=old.thread.name, reason=reason
        )
        old.request_stop()
        self._abandoned = [t for t in self._abandoned if t.thread.is_alive()]
        if old.thread.is_alive():
            self._abandoned.append(old)
        self._thread = self._new_thread()
        return self._thread

    def _require_thread(self) -> EvalThread:
        if not self._started:
            raise RuntimeError(f"kernel {self._name!r} is not started")
        if self._thread is None:
            self._thread = self._new_thread()
        return self._thread

    def _check_caller(self) -> None:
        thread = self._thread
        if thread is not None and threading.get_ident() == thread.ident:
            raise RuntimeError(
                "the kernel cannot be driven from its own eval thread (it would wait on itself)"
            )

    def _register(self, filename: str, source: str) -> None:
        register_source(filename, source)
        self._filenames.add(filename)

    def _fill_namespace(self, *, clear: bool = False) -> None:
        namespace = self._namespace
        if clear:
            namespace.clear()
        namespace["__name__"] = "__main__"
        namespace["__doc__"] = None
        namespace["__builtins__"] = kernel_builtins()
        namespace.update(self._prelude)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
