"""`vibeweaver status [--json]`: a one-shot snapshot of a running service's actors on stdout.

With `--json` it prints exactly what `GET /admin/actors` returns (a list, one object per actor), so
scripts can rely on the endpoint's field names. Without it, a summary line, the actor table sized
to the terminal, and a line naming stuck actors. A service that cannot be reached raises
`AdminError` (one line on stderr from the CLI, exit code 1).
"""

from __future__ import annotations

import json
import shutil
import sys
from typing import TextIO

from vibeweaver.console.client import AdminClient
from vibeweaver.console.render import render_table, stuck_summary, summary_line

EXIT_OK = 0


def status_text(client: AdminClient, *, width: int) -> str:
    """The human-readable snapshot (summary, table, stuck line) as one string."""
    actors = client.actors()
    system = client.system()
    lines = [summary_line(system, client.base_url, width), ""]
    lines.extend(render_table(actors, width=width))
    stuck = stuck_summary(actors, width)
    if stuck:
        lines.extend(["", stuck])
    return "\n".join(lines) + "\n"


def run_status(
    *,
    http: str | None = None,
    token: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Print the snapshot; returns the exit code (AdminError propagates to the CLI)."""
    out = out or sys.stdout
    client = AdminClient(http, token)
    if as_json:
        text = json.dumps(client.actors(), indent=2) + "\n"
    else:
        width = max(60, shutil.get_terminal_size((100, 24)).columns)
        text = status_text(client, width=width)
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:  # `vibeweaver status | head`: the reader left, which is fine
        pass
    return EXIT_OK
