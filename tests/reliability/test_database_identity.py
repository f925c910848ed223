"""Hole 3 of [9]: a database file deleted or replaced under the running service used to keep
acknowledging writes into the unlinked file (all lost at the next start, nothing logged). Now
every write is refused with a StoreError saying why, /admin/system shows it, and nothing
acknowledged is lost."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOCAL_HTTP, local_config
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


@pytest.fixture
def make_weaver(make_weaver: Callable[..., Weaver]) -> Callable[..., Weaver]:
    """Weavers with their HTTP listener: these tests read the admin endpoint."""
    return functools.partial(make_weaver, http=LOCAL_HTTP)


def admin_database(weaver: Weaver) -> dict[str, object]:
    bound = weaver.http_address
    assert bound is not None
    system = httpx.get(f"http://{bound[0]}:{bound[1]}/admin/system", timeout=5).json()
    database = system["database"]
    assert isinstance(database, dict)
    return database


def test_writes_into_a_deleted_database_are_refused_and_shown(
    make_weaver: Callable[..., Weaver], tmp_path: Path
) -> None:
    weaver = make_weaver("svc")
    service = ToolService(weaver.system, eval_timeout=10)
    assert service.evaluate("marker('kept', 1)", timeout_s=10).status == "ok"
    db = tmp_path / "svc" / "vibeweaver.db"
    db.unlink()

    acknowledged = []
    for i in range(10):
        outcome = service.evaluate(f"marker('after_{i}', {i})", timeout_s=10)
        if outcome.status == "ok":
            acknowledged.append(f"after_{i}")
        else:
            assert outcome.error is not None and outcome.error.type == "StoreError"
            assert "was deleted while vibeweaver ran" in outcome.error.message
    assert acknowledged == []
    assert "was deleted" in str(admin_database(weaver)["database_file_error"])
    assert weaver.handle("store").stats.restarts == 0
    weaver.stop()
    with Weaver(local_config(tmp_path / "svc")) as again:
        assert again.session is not None
        names = {m.name for m in again.store.list_markers(again.session.id)}
        assert not names & {f"after_{i}" for i in range(10)}


def test_a_replaced_database_refuses_writes_until_the_file_is_back(
    make_weaver: Callable[..., Weaver], tmp_path: Path
) -> None:
    weaver = make_weaver("svc")
    service = ToolService(weaver.system, eval_timeout=10)
    db = tmp_path / "svc" / "vibeweaver.db"
    moved = tmp_path / "moved.db"
    shutil.move(db, moved)
    db.write_bytes(b"")  # another file at the path
    outcome = service.evaluate("marker('x', 1)", timeout_s=10)
    assert (
        outcome.error is not None and "was replaced while vibeweaver ran" in outcome.error.message
    )
    db.unlink()
    shutil.move(moved, db)  # the original file is back: writes go on
    assert service.evaluate("marker('y', 2)", timeout_s=10).status == "ok"
    assert admin_database(weaver)["database_file_error"] is None
