"""Text the database can store: valid UTF-8, whatever a caller passed.

The DSL refuses text that is not valid Unicode (`vibeweaver.dsl.checks`), but some text reaches
the store without passing a DSL call: a cell's own code in its history entry, a callback's
output, an error message quoting a user's value. A lone surrogate in any of them used to fail the
store's whole write batch (UnicodeEncodeError), again at every retry, until the supervisor gave
the store up. Here such characters are written as `\\udXXX` escapes instead; everything else
passes unchanged (and without a copy).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def storable_text(value: str) -> str:
    """`value`, with characters UTF-8 cannot encode (lone surrogates) as backslash escapes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def storable_optional(value: str | None) -> str | None:
    return None if value is None else storable_text(value)


def storable_record(record: T) -> T:
    """A frozen dataclass record with every str (and tuple-of-str) field made storable."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        return record
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, str):
            fixed: Any = storable_text(value)
        elif isinstance(value, tuple) and any(isinstance(item, str) for item in value):
            fixed = tuple(storable_text(i) if isinstance(i, str) else i for i in value)
        else:
            continue
        if fixed is not value and fixed != value:
            changes[field.name] = fixed
    return dataclasses.replace(record, **changes) if changes else record
