"""Stopping code that would hang the eval thread: timeout interrupts and a stdin-less input()."""

from __future__ import annotations

import builtins
import ctypes
from typing import Any

# Our own prototypes of PyThreadState_SetAsyncExc: setting argtypes on the shared
# ctypes.pythonapi attribute would change it for every other user in the process.
_SET_ASYNC_EXC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_CLEAR_ASYNC_EXC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class EvalInterrupted(BaseException):
    """Raised inside the eval thread when an evaluation exceeds its timeout.

    A BaseException, so the usual `except Exception:` in user code does not swallow it.
    """


def inject(thread_ident: int, exc_type: type[BaseException] = EvalInterrupted) -> bool:
    """Ask CPython to raise `exc_type` in thread `thread_ident` at its next bytecode boundary.

    It is not delivered while the thread sits in a blocking C call (a lock wait, time.sleep);
    callers must guard it so it can only be pending while user code runs (see runner.Job).
    """
    return int(_SET_ASYNC_EXC(thread_ident, exc_type)) == 1


def clear_pending(thread_ident: int) -> None:
    """Drop an injected exception that has not been raised yet."""
    _CLEAR_ASYNC_EXC(thread_ident, None)


class StdinUnavailableError(RuntimeError):
    """Raised by input() and friends inside the kernel: there is no interactive stdin."""


def _input(prompt: object = "", /) -> str:
    raise StdinUnavailableError(
        "input() is not available in the vibeweaver kernel: there is no interactive stdin "
        "(the process's stdin may carry the MCP transport). Pass values in code instead."
    )


def _breakpoint(*args: object, **kwargs: object) -> None:
    raise StdinUnavailableError(
        "breakpoint() is not available in the vibeweaver kernel: a debugger would wait on stdin."
    )


def _make_help() -> Any:
    real_help = builtins.help

    def help(*args: object, **kwargs: object) -> None:
        if not args and not kwargs:
            raise StdinUnavailableError(
                "interactive help() is not available in the vibeweaver kernel; "
                "use help(obj) or the weave_help tool."
            )
        real_help(*args, **kwargs)

    help.__doc__ = real_help.__doc__
    return help


def kernel_builtins() -> dict[str, Any]:
    """A copy of the builtins for one namespace, with the stdin readers replaced.

    The copy, not the process-wide `builtins` module, is changed: other threads keep the real
    input().
    """
    table = dict(vars(builtins))
    table["input"] = _input
    table["breakpoint"] = _breakpoint
    table["help"] = _make_help()
    return table
