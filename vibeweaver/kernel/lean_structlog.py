"""Importing structlog without rich, in the kernel process.

structlog imports rich when it is installed (textual, for the console, installs it) only to
pretty-print tracebacks and the locals of frames; the kernel never renders either (its log lines
go to the service as plain fields over the channel). Importing rich that way costs ~60-80 ms, a
third of the kernel process's start, so the kernel's entry point imports structlog with rich
hidden from it. Agent code that imports rich itself still gets it; the service and programs that
embed vibeweaver are not affected.
"""

from __future__ import annotations

import sys


def import_structlog() -> None:
    """Import structlog (if nothing has yet) while `import rich` fails, then make rich importable
    again."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # a None entry makes the import fail
    try:
        import structlog  # noqa: F401
    finally:
        if "rich" in sys.modules and sys.modules["rich"] is None:
            del sys.modules["rich"]
