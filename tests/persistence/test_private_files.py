"""A fresh data directory is private (SPEC §3.1): its directories 0700, its files 0600 (the
database, its WAL and shared-memory files, the lock), whatever the umask; older files are
tightened."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import local_config
from vibeweaver.weaver import Weaver


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    found = {str(root.relative_to(root)): stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.usefixtures("loose_umask")
def test_a_fresh_data_dir_has_only_private_files_and_directories(
    make_weaver: Callable[..., Weaver], tmp_path: Path
) -> None:
    weaver = make_weaver("fresh")
    weaver.store.open_session("jam")
    data_dir = tmp_path / "fresh"
    found = modes(data_dir)
    assert {"vibeweaver.db", "vibeweaver.db-wal", "vibeweaver.db.lock", "workspace"} <= set(found)
    for name, mode in found.items():
        is_dir = (data_dir / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), (name, oct(mode))


@pytest.mark.usefixtures("loose_umask")
def test_files_of_an_older_version_are_tightened_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "old"
    data_dir.mkdir()
    with Weaver(local_config(data_dir)):
        pass
    for name in ("vibeweaver.db", "vibeweaver.db.lock"):
        os.chmod(data_dir / name, 0o644)
    with Weaver(local_config(data_dir)):
        pass
    for name in ("vibeweaver.db", "vibeweaver.db.lock"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755  # an existing directory is left alone
