"""The eval thread: its persistent asyncio loop, jobs handed to it, and timeout escalation."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Literal, TypeAlias, TypeVar, cast

import structlog

from vibeweaver.kernel import capture
from vibeweaver.kernel.interrupt import EvalInterrupted, clear_pending, inject

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A context key, not state: each eval thread sets it to its own token in the context its jobs run
# in, so the loop can tell a task created from a foreign thread's context (which would miss the
# owner's context variables) from one created by kernel code.
_KERNEL_MARK: contextvars.ContextVar[object] = contextvars.ContextVar("vibeweaver_kernel_mark")

WaitResult: TypeAlias = Literal["finished", "orphaned", "wedged"]
"""finished: the job ended (maybe interrupted). orphaned: the job still runs but the loop is free
(a task that ignores cancellation); the thread can be kept. wedged: the thread does not come back
(a blocking C call, or code that swallows the interrupt); it must be given up."""

CANCEL_GRACE_S = 0.2
"""After cancelling a task blocked in await, how long to wait before injecting an exception."""
INJECT_WINDOW_S = 0.6
"""How long to keep injecting (every INJECT_TICK_S) before giving the thread up."""
INJECT_TICK_S = 0.1


class KernelLoop(asyncio.SelectorEventLoop):
    """The eval thread's loop.

    It remembers the futures it creates (DSL code calls `loop.create_future()`), so a reset can
    cancel them, and it runs tasks created from another thread's context (for example through
    `asyncio.run_coroutine_threadsafe`) in the kernel's context, so they see the context variables
    the owner set in `on_thread_start`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._futures: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()
        self.kernel_context: contextvars.Context | None = None
        self.kernel_mark: object = None

    def create_future(self) -> asyncio.Future[Any]:
        future = super().create_future()
        self._futures.add(future)
        return future

    def create_task(
        self,
        coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
        *,
        name: object = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]:
        if (
            context is None
            and self.kernel_context is not None
            and _KERNEL_MARK.get(None) is not self.kernel_mark
        ):
            context = self.kernel_context.copy()
        return super().create_task(coro, name=name, context=context)

    def pending_futures(self) -> list[asyncio.Future[Any]]:
        return [f for f in list(self._futures) if not f.done()]


class Job:
    """One unit of work run on the eval thread, and the guard that makes interrupts safe.

    User code runs only inside `run_user` / `await_user`, which set `running` under `lock`. The
    timeout path injects an exception only while holding `lock` and only if `running` is set; the
    eval thread clears `running` and any still-pending injected exception under the same lock when
    it leaves user code. So an injected exception can only ever be raised in user code (or in the
    few lines of this guard around it), never in the event loop or after the job ended.
    """

    def __init__(self, sinks: capture.OutputSinks) -> None:
        self.sinks = sinks
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.wake = threading.Event()
        """Set when the job ends or an early stop is requested: what the owner's wait watches."""
        self.stop_reason: str | None = None
        """Why the job was asked to stop before its timeout (`request_stop`), if it was."""
        self.running = False
        self.injected = False
        self.interrupted = False
        self.cancel_requested = False
        self.thread_ident = 0
        self.route: capture.ThreadRoute | None = None
        self.task: asyncio.Task[None] | None = None
        self.value: object = None
        self.error: BaseException | None = None
        self.lost: str | None = None
        """Why the job never finished (the thread died or stopped), if so."""

    def finish(self) -> None:
        """Mark the job ended (eval thread, or whoever gives it up)."""
        self.done.set()
        self.wake.set()

    def request_stop(self, reason: str) -> bool:
        """Ask the owner waiting on this job to start the interrupt escalation now instead of at
        the timeout. Any thread; never blocks. False if the job has already ended."""
        if self.done.is_set():
            return False
        if self.stop_reason is None and not self.cancel_requested:
            # (once the timeout escalation runs, the job ends as a timeout either way)
            self.stop_reason = reason
        self.wake.set()
        return True

    @property
    def timed_out(self) -> bool:
        """The job ended because of the interrupt escalation (its timeout or a stop request)."""
        if self.interrupted or isinstance(self.error, EvalInterrupted):
            return True
        return self.cancel_requested and isinstance(self.error, asyncio.CancelledError)

    def run_user(self, fn: Callable[..., T], *args: object) -> T:
        """Call `fn` (user code) on the eval thread, interruptible by the timeout."""
        self._enter()
        try:
            return fn(*args)
        finally:
            self._leave()

    async def await_user(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` (user code): each of its steps is interruptible like `run_user`."""
        return cast("T", await _Tracked(awaitable, self))

    def _enter(self) -> None:
        with self.lock:
            self.running = True

    def _leave(self) -> None:
        while True:
            try:
                with self.lock:
                    self.running = False
                    if self.injected:
                        self.injected = False
                        clear_pending(self.thread_ident)
                return
            except EvalInterrupted:
                # Raised between the end of user code and the clear above: remember, retry.
                self.interrupted = True

    def try_inject(self) -> bool:
        """Raise EvalInterrupted in the eval thread if it is in this job's user code right now."""
        with self.lock:
            if not self.running or self.done.is_set():
                return False
            self.injected = True
            return inject(self.thread_ident)


class _Tracked:
    """Drives an awaitable step by step, marking each step as user code for the interrupt guard."""

    __slots__ = ("_iterator", "_job")

    def __init__(self, awaitable: Awaitable[Any], job: Job) -> None:
        self._iterator = awaitable.__await__()
        self._job = job

    def __await__(self) -> Generator[Any, Any, Any]:
        iterator = self._iterator
        job = self._job
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            job._enter()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    yielded = iterator.throw(exc)
                else:
                    yielded = iterator.send(to_send)
            except StopIteration as stop:
                return stop.value
            finally:
                job._leave()
            try:
                to_send = yield yielded
            except GeneratorExit:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown in: forwarded to user code
                to_send, to_throw = None, exc


JobBody: TypeAlias = Callable[[Job], Awaitable[object]]


class EvalThread:
    """One eval thread with its persistent loop. Jobs are submitted from other threads."""

    def __init__(
        self,
        *,
        name: str,
        output_cap: int,
        on_thread_start: Callable[[], None] | None,
        describe_error: Callable[[BaseException], str],
    ) -> None:
        self._name = name
        self._on_thread_start = on_thread_start
        self._describe_error = describe_error
        self.route = capture.ThreadRoute(output_cap)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._loop: KernelLoop | None = None
        self._context: contextvars.Context | None = None
        self._ident = 0
        self._jobs_lock = threading.Lock()
        self._jobs: set[Job] = set()
        self._closed = False
        self._stop_lock = threading.Lock()
        self._stop_requested = False
        self._loop_ended = False
        """Set on the eval thread once `run_forever` has returned: the loop is being closed."""
        self.death: BaseException | None = None

    # -- lifecycle (caller threads) -------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self._name}: the eval thread did not start within {timeout} s")
        if self._start_error is not None:
            self._thread.join(timeout)
            raise RuntimeError(
                f"{self._name}: the eval thread failed to start: {self._start_error!r}"
            ) from self._start_error

    @property
    def loop(self) -> KernelLoop:
        if self._loop is None:
            raise RuntimeError(f"{self._name}: the eval thread is not started")
        return self._loop

    @property
    def ident(self) -> int:
        return self._ident

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def request_stop(self) -> None:
        """Ask the loop to stop as soon as it gets control back; does not wait. Only the first
        request is sent: the loop must be stopped once, not again while it is being closed."""
        with self._stop_lock:
            if self._stop_requested:
                return
            self._stop_requested = True
        self._call_soon(self._stop_loop)

    def stop(self, timeout: float) -> bool:
        """Stop the loop and join the thread; interrupt a job stuck in user code. True if the
        thread ended within `timeout`."""
        deadline = time.monotonic() + timeout
        self.request_stop()
        with self._jobs_lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel_requested = True
            job.try_inject()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- jobs -----------------------------------------------------------------------------------

    def submit(self, job: Job, body: JobBody) -> None:
        """Start `body(job)` as a task on the loop. If the thread is gone, the job ends at once
        with `job.lost` set."""
        job.thread_ident = self._ident
        job.route = self.route
        with self._jobs_lock:
            if self._closed:
                self._lose(job, "the eval thread has stopped")
                return
            self._jobs.add(job)
        if not self._call_soon(self._start_job, job, body):
            with self._jobs_lock:
                self._jobs.discard(job)
            self._lose(job, "the eval thread has stopped")

    def wait(self, job: Job, timeout: float) -> WaitResult:
        """Wait for `job`; past `timeout` (or as soon as `job.request_stop` is called), escalate:
        cancel its task (this releases an `await`), inject EvalInterrupted while it runs user
        code, and finally report whether the thread can be kept. Returns within about
        timeout + CANCEL_GRACE_S + INJECT_WINDOW_S + 0.1 s."""
        job.wake.wait(timeout)
        if job.done.is_set():
            return "finished"
        job.cancel_requested = True
        if not job.try_inject():
            self.cancel(job)
            if job.done.wait(CANCEL_GRACE_S):
                return "finished"
        deadline = time.monotonic() + INJECT_WINDOW_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if job.done.wait(min(INJECT_TICK_S, remaining)):
                return "finished"
            job.try_inject()
            self.cancel(job)
        if job.done.is_set():
            return "finished"
        if self.alive and not job.running and self.responsive(INJECT_TICK_S):
            return "orphaned"
        return "wedged"

    def cancel(self, job: Job) -> None:
        self._call_soon(self._cancel_job, job)

    def responsive(self, timeout: float) -> bool:
        """The loop runs callbacks (it is not stuck in a synchronous call)."""
        ping = threading.Event()
        return self._call_soon(ping.set) and ping.wait(timeout)

    # -- eval thread ----------------------------------------------------------------------------

    def _call_soon(self, fn: Callable[..., object], *args: object) -> bool:
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed between the check and the call
            return False
        return True

    def _stop_loop(self) -> None:
        # A request that arrives after `run_forever` returned (the loop died, or was stopped by
        # someone else) must not stop the `run_until_complete` calls that close the loop: that
        # would cut the cleanup short and leave the default executor's threads running.
        if self._loop is not None and not self._loop_ended:
            self._loop.stop()

    def _start_job(self, job: Job, body: JobBody) -> None:
        # each job its own copy of the kernel's context: its output sinks are its own
        context = None if self._context is None else self._context.copy()
        job.task = self.loop.create_task(self._drive(job, body), context=context)

    def _cancel_job(self, job: Job) -> None:
        if job.task is not None and not job.done.is_set():
            job.task.cancel()

    async def _drive(self, job: Job, body: JobBody) -> None:
        self.route.attach(job.sinks)
        capture.TASK_SINKS.set(job.sinks)
        try:
            job.value = await body(job)
        except BaseException as exc:  # noqa: BLE001 - any end of the job is its outcome
            job.error = exc
        finally:
            job.sinks.open = False
            self.route.detach(job.sinks)
            with self._jobs_lock:
                self._jobs.discard(job)
            job.finish()

    @staticmethod
    def _lose(job: Job, why: str) -> None:
        job.lost = why
        job.finish()

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A background task failed with nobody awaiting it: show it to the agent in the output
        # of the current (or next) evaluation rather than on the process's stderr.
        message = str(context.get("message") or "unhandled error in the event loop")
        exc = context.get("exception")
        text = message + "\n"
        if isinstance(exc, BaseException):
            text += self._describe_error(exc) + "\n"
        self.route.current.stderr.write(text)

    def _run(self) -> None:
        self._ident = threading.get_ident()
        try:
            loop = KernelLoop()
            asyncio.set_event_loop(loop)
            if self._on_thread_start is not None:
                self._on_thread_start()
            mark = object()
            _KERNEL_MARK.set(mark)
            self._context = contextvars.copy_context()
            loop.kernel_context = self._context
            loop.kernel_mark = mark
            loop.set_exception_handler(self._on_loop_exception)
            capture.add_route(self._ident, self.route)
            self._loop = loop
        except BaseException as exc:  # noqa: BLE001 - re-raised by start() in the caller's thread
            self._start_error = exc
            self._closed = True
            self._ready.set()
            return
        self._ready.set()
        close_error: BaseException | None = None
        try:
            loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a task etc.: logged as death
            self.death = exc
        finally:
            self._loop_ended = True
            with self._jobs_lock:
                self._closed = True
                orphans = list(self._jobs)
                self._jobs.clear()
            for job in orphans:
                if not job.done.is_set():
                    why = (
                        f"the eval thread died ({self.death!r})"
                        if self.death
                        else ("the eval thread stopped")
                    )
                    self._lose(job, why)
            # Still routed while closing: task cleanup may print, and must not reach real stdout.
            close_error = self._close_loop(loop)
            capture.remove_route(self._ident, self.route)
            asyncio.set_event_loop(None)
        # Logged only now, so an unconfigured structlog (which prints to stdout) does not write
        # into the route's buffers.
        if self.death is not None:
            log.warning("eval_thread_died", thread=self._name, error=repr(self.death))
        if close_error is not None:
            log.warning("eval_loop_close_failed", thread=self._name, error=repr(close_error))

    @staticmethod
    def _close_loop(loop: KernelLoop) -> BaseException | None:
        """Cancel what is left, shut the async generators and executor down, close the loop.
        Best effort: returns the error that cut it short, if any."""
        error: BaseException | None = None
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            for future in loop.pending_futures():
                future.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(
                asyncio.wait([loop.create_task(loop.shutdown_default_executor())], timeout=1.0)
            )
        except BaseException as exc:  # noqa: BLE001 - best effort, logged; the thread must end
            error = exc
        finally:
            loop.close()
        return error
