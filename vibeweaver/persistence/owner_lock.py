"""OwnerLock: one running vibeweaver per database file.

The session store must be the only writer of its database, and two services on one database
would each run the session's rules and overwrite each other's kernel snapshots. The lock is an
exclusive `flock` on `<database>.lock`, held from start to stop; the kernel drops it when the
process dies (even by `kill -9`), so a stale file never blocks a restart. The file holds the
owner's pid, read only to name it in the refusal. A starting service waits a few seconds for the
lock, so a restart does not fail while the previous process is still stopping.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vibeweaver.errors import StartCancelled, StartupError
from vibeweaver.private_files import FILE_MODE, tighten_if_present

POLL_S = 0.05


def lock_path_for(database: Path) -> Path:
    """Where the lock of `database` lives."""
    return database.with_name(database.name + ".lock")


class OwnerLock:
    """Exclusive ownership of one database file; `acquire()` raises StartupError if taken."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = lock_path_for(database)
        self._fd: int | None = None

    def acquire(
        self,
        *,
        wait_s: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> OwnerLock:
        """Take the lock, waiting up to `wait_s` seconds for another owner to let it go (a
        service being restarted may still be stopping); `on_wait(owner_pid)` is called once if
        it has to wait. Setting `cancel` ends the wait with StartCancelled."""
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            raise StartupError(f"cannot create lock file {self.path}: {exc.strerror}") from None
        tighten_if_present(self.path)  # a lock file of an older version was 0644
        deadline = time.monotonic() + wait_s
        waited = False
        try:
            while not _try_lock(fd, self.path):
                if time.monotonic() >= deadline:
                    owner = _read_owner(fd)
                    who = f"another vibeweaver (pid {owner})" if owner else "another vibeweaver"
                    raise StartupError(
                        f"database {self.database} is in use by {who}; stop it, or give this "
                        "one another --data-dir or --db"
                    )
                if not waited and on_wait is not None:
                    on_wait(_read_owner(fd))
                waited = True
                if cancel is None:
                    time.sleep(POLL_S)
                elif cancel.wait(POLL_S):
                    raise StartCancelled(
                        f"stopped while waiting for database {self.database} to be free"
                    )
        except BaseException:
            os.close(fd)
            raise
        _write_owner(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the database up (safe to call twice). The file stays: removing it would race
        with a process that has opened it and is about to lock it."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


def _try_lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise StartupError(f"cannot lock {path}: {exc.strerror}") from None
    return True


def _read_owner(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def _write_owner(fd: int) -> None:
    # best effort: the pid only improves the refusal message of a second process
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass
