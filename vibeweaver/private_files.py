"""Private files: the service's directories are 0700 and its files 0600 (SPEC §3.1).

The database holds every cell's code (secrets pasted into a cell included), so nothing the service
creates is readable by other local users: the data directory, the workspace, the database (sqlite
gives its WAL and shared-memory files the database file's mode), the lock file and the log file.
Existing files the service owns are tightened at start. Existing directories are left as they
are: `--data-dir` may name a directory that is not the service's alone (a home, /tmp).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700 (umask notwithstanding); an existing
    directory is left as it is."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty as 0600 if missing (never truncating it), else tighten it to 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def tighten_if_present(path: Path) -> None:
    """0600 for a file the service made earlier (a WAL from a previous run), if it is there."""
    with contextlib.suppress(FileNotFoundError):
        _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid != os.geteuid():
        return
    if stat.S_IMODE(info.st_mode) & ~mode:
        os.chmod(path, stat.S_IMODE(info.st_mode) & mode)
