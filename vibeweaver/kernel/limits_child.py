"""What the kernel process does to itself first thing: die with its parent, and cap its memory.

The service starts the kernel without a `preexec_fn` (unsafe with threads), so the child applies
these limits itself before it imports or runs anything else. Only the standard library is used
here: this runs before the kernel's own imports.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from typing import Final

PR_SET_PDEATHSIG: Final = 1
PARENT_GONE_EXIT_CODE: Final = 70
"""The exit code of a kernel whose parent died before it could arrange to die with it."""


def limit_self(memory_limit: int | None, parent_pid: int | None = None) -> None:
    """Arrange SIGKILL on the parent's death (Linux), exit at once if `parent_pid` is already
    gone, then limit the address space to `memory_limit` bytes (soft and hard limit alike, so
    agent code cannot raise it).

    Linux sends the death signal when the *thread* that started the child ends; the service starts
    the kernel from the thread that waits for it (see KernelProcess), which lives exactly as long.
    """
    if memory_limit is not None and memory_limit <= 0:
        raise ValueError(f"memory_limit must be a positive number of bytes, not {memory_limit}")
    if sys.platform.startswith("linux"):
        _set_parent_death_signal(signal.SIGKILL)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(PARENT_GONE_EXIT_CODE)
    if memory_limit is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            memory_limit = min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))


def _set_parent_death_signal(sig: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
