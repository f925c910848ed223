"""Checks of the strings and values a cell hands the DSL (SPEC §4.6), before any actor sees them.

Every text that reaches the store or hootenanny is valid Unicode (a lone surrogate such as
`chr(0xd800)` cannot be encoded as UTF-8, and used to crash the store) and bounded: names ≤ 256
characters, a vibe, a prompt or a message ≤ 4 KB, metadata ≤ 64 KB as JSON. A value that fails
gets a DslError naming the call and the argument; nothing is sent.
"""

from __future__ import annotations

import json
from typing import Any, Final

from vibeweaver.dsl.context import DslError

MAX_NAME_CHARS: Final = 256
MAX_TEXT_BYTES: Final = 4 * 1024
MAX_METADATA_BYTES: Final = 64 * 1024


def check_name(value: Any, call: str, argument: str = "name") -> str:
    """A non-empty name (session, marker, tag, space) of at most 256 characters, stripped."""
    if not isinstance(value, str):
        raise DslError(f"{call}: {argument} must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise DslError(f"{call}: {argument} must be a non-empty string")
    if len(text) > MAX_NAME_CHARS:
        raise DslError(
            f"{call}: {argument} has {len(text):,} characters; the limit is {MAX_NAME_CHARS}"
        )
    _check_unicode(text, call, argument)
    return text


def check_text(value: Any, call: str, argument: str, *, limit: int = MAX_TEXT_BYTES) -> str:
    """A free text (vibe, prompt, message) of at most `limit` bytes as UTF-8."""
    if not isinstance(value, str):
        raise DslError(f"{call}: {argument} must be a string, not {type(value).__name__}")
    size = len(_check_unicode(value, call, argument))
    if size > limit:
        raise DslError(f"{call}: {argument} is {size:,} bytes as UTF-8; the limit is {limit:,}")
    return value


def check_metadata(value: Any, call: str, argument: str = "metadata") -> str | None:
    """JSON text of `value` (None stays None), at most 64 KB; DslError if it is not JSON-able."""
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DslError(
            f"{call}: {argument} must be JSON data (dict, list, str, number, bool, None): {exc}"
        ) from None
    except RecursionError:
        raise DslError(f"{call}: {argument} is nested too deeply") from None
    size = len(_check_unicode(text, call, argument))
    if size > MAX_METADATA_BYTES:
        raise DslError(
            f"{call}: {argument} is {size:,} bytes as JSON; the limit is {MAX_METADATA_BYTES:,}"
        )
    return text


def _check_unicode(text: str, call: str, argument: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise DslError(
            f"{call}: {argument} is not valid Unicode text (character U+{ord(bad):04X} at "
            f"position {exc.start} is a lone surrogate)"
        ) from None
