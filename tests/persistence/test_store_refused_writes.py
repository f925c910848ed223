"""The SessionStore actor while the disk refuses writes: write asks fail with the cause, the batch
is kept (bounded) and written once the disk accepts again, reads go on, and the actor never
crashes over it.

The refusal is real and confined to a subprocess: it lowers its own RLIMIT_FSIZE to 0, so every
write sqlite makes fails with EFBIG ("disk I/O error" to sqlite), then raises it again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, cli_env
from vibeweaver.persistence.database import root_cause

SCRIPT = r"""
import json, resource, sys, time
from vibeweaver.actors.store import SessionStore, StoreClient
from vibeweaver.actors.store import actor as store_actor
from vibeweaver.actors.supervisor import Supervisor
from vibeweaver.actors.system import SUPERVISOR, ActorSpec, ActorSystem
from vibeweaver.errors import StoreError
from vibeweaver.logs import configure

configure(json=True)  # to stderr: stdout carries the result
store_actor.MAX_PENDING_WRITES = 5
system = ActorSystem(name="refused-writes")
system.define(ActorSpec(SUPERVISOR, Supervisor))
handle = system.define(ActorSpec("store", SessionStore, {"db_url": f"sqlite:///{sys.argv[1]}"}))
system.start()
store = StoreClient(handle)
session = store.open_session("jam")
store.append_history(session.id, "before")
store.flush()
out = {}

soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
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


def test_a_store_whose_disk_refuses_writes_keeps_serving_and_writes_the_kept_batch_later(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "vw.db")],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

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
    assert '"event": "store_writes_failing"' in done.stderr
    assert '"event": "store_writes_recovered"' in done.stderr
    assert done.stderr.count('"event": "store_writes_failing"') == 1  # once per streak


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
