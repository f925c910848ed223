"""The SessionStore actor while the disk refuses writes: write asks fail with the cause (a cell's
history line asked by the kernel bridge too), the batch is kept (bounded) and written once the
disk accepts again, reads go on, and the actor never crashes over it.

The refusal is real and confined to a subprocess: it lowers its own RLIMIT_FSIZE to 0, so every
write sqlite makes fails with EFBIG ("disk I/O error" to sqlite), then raises it again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO, cli_env
from vibeweaver.persistence.database import root_cause

START = r"""
import json, resource, sys, time
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.store import actor as store_actor
from vibeweaver.actors.store import messages as m
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem
from vibeweaver.errors import StoreError
from vibeweaver.logs import configure

configure(json=True)  # to stderr: stdout carries the result
store_actor.MAX_PENDING_WRITES = int(sys.argv[2])
system = ActorSystem(name="refused-writes")
system.define(ActorSpec(SUPERVISOR, Supervisor))
handle = system.define(ActorSpec("store", SessionStore, {"db_url": f"sqlite:///{sys.argv[1]}"}))
system.start()
store = StoreClient(handle)
session = store.open_session("jam")
out = {}
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
"""
"""Every script's start: a store on the database file argv[1]; `out` is printed as its result."""

SCRIPT = r"""
store.append_history(session.id, "before")
store.flush()
resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
for i in range(8):
    store.append_history(session.id, f"during {i}")
try:
    store.flush()
    out["flush"] = "ok"
except StoreError as exc:
    out["flush"] = str(exc)
try:
    store.save_marker(session.id, "drop", 64)
    out["marker"] = "ok"
except StoreError as exc:
    out["marker"] = str(exc)
out["read"] = [h.action for h in store.recent_history(session.id, 50)]
out["failing"] = dict(handle.stats.published)
time.sleep(1.0)  # let the flush ticker retry (and fail) a few times
out["restarts"] = handle.stats.restarts
out["state"] = handle.stats.state

resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
store.flush()
out["after"] = [h.action for h in store.recent_history(session.id, 50)]
out["recovered"] = dict(handle.stats.published)
out["marker_after"] = store.save_marker(session.id, "drop", 64).name
system.stop()
print(json.dumps(out))
"""


def run_store_script(script: str, db: Path, *, max_pending: int) -> tuple[dict[str, Any], str]:
    """Run START + `script` in a subprocess; its `out` and its stderr (the store's logs)."""
    done = subprocess.run(
        [sys.executable, "-c", START + script, str(db), str(max_pending)],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out, done.stderr


def test_a_store_whose_disk_refuses_writes_keeps_serving_and_writes_the_kept_batch_later(
    tmp_path: Path,
) -> None:
    out, stderr = run_store_script(SCRIPT, tmp_path / "vw.db", max_pending=5)

    assert out["flush"].startswith("the database refuses writes (disk I/O error);"), out
    assert "batched writes are kept and retried" in out["flush"]
    assert out["marker"] == "database error during SaveMarker: disk I/O error"
    assert out["read"] == ["before"]  # what is written stays readable
    # at most MAX_PENDING_WRITES (5 here) rows wait; the oldest of the 8 were dropped, counted
    assert out["failing"] == {
        "pending_writes": 5,
        "write_error": "disk I/O error",
        "database_file_error": None,
        "dropped_writes": 3,
    }
    assert (out["restarts"], out["state"]) == (0, "alive")
    assert out["after"] == ["before", *(f"during {i}" for i in range(3, 8))]
    assert out["recovered"] == {
        "pending_writes": 0,
        "write_error": None,
        "database_file_error": None,
        "dropped_writes": 3,
    }
    assert out["marker_after"] == "drop"
    assert '"event": "store_writes_failing"' in stderr
    assert '"event": "store_writes_recovered"' in stderr
    assert stderr.count('"event": "store_writes_failing"') == 1  # once per streak


EVAL_LINE = r"""
resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
try:
    handle.ask(m.AppendHistory(session_id=session.id, action="eval", params="1"), timeout=10)
    out["refused"] = "answered as written"
except StoreError as exc:
    out["refused"] = str(exc)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
handle.ask(m.AppendHistory(session_id=session.id, action="eval", params="2"), timeout=10)
out["after"] = [h.params for h in store.recent_history(session.id, 10)]
system.stop()
print(json.dumps(out))
"""


def test_an_eval_line_the_disk_refuses_is_answered_with_the_cause_and_written_later(
    tmp_path: Path,
) -> None:
    """Asked (as the kernel bridge asks a cell's line), the answer says why it is not written."""
    out, _ = run_store_script(EVAL_LINE, tmp_path / "vw.db", max_pending=50_000)
    assert out["refused"].startswith("the database refuses writes (disk I/O error);"), out
    assert "batched writes are kept and retried" in out["refused"]
    assert out["after"] == ["1", "2"]  # kept, and written with the next line


def _chained() -> BaseException:
    try:
        try:
            raise OSError("disk I/O error")
        except OSError:
            raise RuntimeError("cannot rollback - no transaction is active")  # noqa: B904
    except RuntimeError as exc:
        return exc
    raise AssertionError("unreachable")


def test_root_cause_looks_past_peewees_failed_rollback() -> None:
    assert root_cause(_chained()) == "disk I/O error"
    assert root_cause(ValueError("plain")) == "plain"
    assert root_cause(ValueError("")) == "ValueError"  # an empty message names the type
