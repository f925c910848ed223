"""Fixtures of the DeadlinePlanner actor tests: rigs on simulated time that are always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scheduler_actor.rig import Rig, build_rig


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Build rigs (by default all on one database file); every one is stopped at teardown."""
    rigs: list[Rig] = []

    def make(db_name: str = "vw.db", **kwargs: Any) -> Rig:
        rig = build_rig(tmp_path / db_name, **kwargs)
        rigs.append(rig)
        return rig

    yield make
    for rig in reversed(rigs):
        rig.stop()
