"""The kernel channel's value codec: JSON with an allow-list of vibeweaver's frozen dataclasses.

The kernel process runs agent code, so nothing it sends may make the service run code of its
choosing: no pickle. A value is plain JSON where JSON can say it; everything else is a tagged
object:

* `{"$c": "module:Class", "f": {...}}`: a dataclass from one of `ALLOWED_MODULES` (messages,
  records, outcomes, wire values), built again with its constructor from its decoded fields;
* `{"$t": [...]}` a tuple, `{"$b": "base64"}` bytes, `{"$x": "inf" | "-inf" | "nan"}` a float
  JSON cannot write, `{"$m": [[key, value], ...]}` a dict whose keys are not all strings (or that
  has a key starting with "$"), `{"$s": [...]}` a frozenset;
* `{"$e": "module:Class", "msg": "..."}` an exception: rebuilt as that class when it is a
  vibeweaver error or a builtin one, otherwise as `RemoteError` naming it;
* `{"$f": id}` a callable: encoded through the `Refs` the caller passes (the side that owns the
  callable keeps it under an id; the other side gets a stub that calls it back over the channel).

Anything else is refused with `CodecError`, on both sides.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import dataclasses
import importlib
import json
import math
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

ALLOWED_MODULES = (
    "vibeweaver.actors.kernel.messages",
    "vibeweaver.actors.planner.messages",
    "vibeweaver.actors.scheduler.messages",
    "vibeweaver.actors.store.messages",
    "vibeweaver.channel.messages",
    "vibeweaver.kernel.outcome",
    "vibeweaver.persistence.records",
    "vibeweaver.scheduling.clock",
    "vibeweaver.wire.broadcasts",
    "vibeweaver.wire.envelope",
    "vibeweaver.wire.tools",
)
"""Modules whose dataclasses may cross the channel (and so be built by the receiving side)."""

_BUILTIN_ERRORS = frozenset(
    {
        "ArithmeticError",
        "AttributeError",
        "ConnectionError",
        "KeyError",
        "LookupError",
        "MemoryError",
        "NotImplementedError",
        "OSError",
        "OverflowError",
        "PermissionError",
        "RuntimeError",
        "TimeoutError",
        "TypeError",
        "UnicodeError",
        "ValueError",
        "ZeroDivisionError",
    }
)


class CodecError(ValueError):
    """A value that may not cross the channel (or a message that does not decode)."""


class RemoteError(Exception):
    """An exception raised on the other side whose class may not be rebuilt here."""


class Refs(Protocol):
    """How callables cross: the encoder keeps one and names it, the decoder makes a stub."""

    def keep(self, fn: Callable[..., Any]) -> int: ...

    def stub(self, ref: int) -> Callable[..., Any]: ...


class _Registry:
    def __init__(self) -> None:
        self._classes: dict[str, type] | None = None

    def classes(self) -> dict[str, type]:
        if self._classes is None:
            found: dict[str, type] = {}
            for name in ALLOWED_MODULES:
                module = importlib.import_module(name)
                for value in vars(module).values():
                    if (
                        isinstance(value, type)
                        and value.__module__ == name
                        and (dataclasses.is_dataclass(value) or issubclass(value, BaseException))
                    ):
                        found[f"{name}:{value.__qualname__}"] = value
            self._classes = found
        return self._classes


_REGISTRY = _Registry()


def class_key(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def encode(value: Any, refs: Refs | None = None) -> bytes:
    """`value` as JSON bytes; CodecError for anything not allowed."""
    try:
        return json.dumps(_out(value, refs), separators=(",", ":"), allow_nan=False).encode()
    except RecursionError:
        raise CodecError("the value is nested too deeply to send") from None


def decode(data: bytes, refs: Refs | None = None) -> Any:
    """The value `encode` wrote; CodecError for malformed or disallowed input.

    Tagged objects are rebuilt by the JSON parser's object hook, innermost first, so only
    objects are visited in Python (strings, numbers and lists are the parser's own)."""
    try:
        return json.loads(data, object_hook=partial(_hook, refs))
    except CodecError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise CodecError(f"not a channel message: {exc}") from None


def _out(value: Any, refs: Refs | None) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$x": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, list):
        return [_out(v, refs) for v in value]
    if isinstance(value, tuple) and not dataclasses.is_dataclass(value):
        return {"$t": [_out(v, refs) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _out(v, refs) for k, v in value.items()}
        return {"$m": [[_out(k, refs), _out(v, refs)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, frozenset):
        return {"$s": [_out(v, refs) for v in value]}
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        key, names = _allowed(cls)
        return {"$c": key, "f": {name: _out(getattr(value, name), refs) for name in names}}
    if isinstance(value, BaseException):
        return {"$e": class_key(cls), "msg": str(value)}
    if callable(value) and refs is not None:
        return {"$f": refs.keep(value)}
    raise CodecError(f"a {cls.__name__} may not cross the kernel channel")


def _hook(refs: Refs | None, raw: dict[str, Any]) -> Any:
    """A decoded JSON object (its values already decoded): a tagged value, or a plain dict."""
    if len(raw) == 1 or (len(raw) == 2 and ("$c" in raw or "$e" in raw)):
        tag = next((k for k in raw if k.startswith("$")), None)
        if tag is not None:
            return _tagged(tag, raw, refs)
    return raw


_ALLOWED: dict[type, tuple[str, tuple[str, ...]]] = {}
"""Per allowed dataclass: its key and the names of its constructor's fields."""


def _allowed(cls: type) -> tuple[str, tuple[str, ...]]:
    known = _ALLOWED.get(cls)
    if known is None:
        key = class_key(cls)
        if _REGISTRY.classes().get(key) is not cls:
            raise CodecError(f"{key} may not cross the kernel channel")
        known = (key, tuple(f.name for f in dataclasses.fields(cls) if f.init))
        _ALLOWED[cls] = known
    return known


def _tagged(tag: str, raw: dict[str, Any], refs: Refs | None) -> Any:
    body = raw[tag]
    if tag == "$t" and isinstance(body, list):
        return tuple(body)
    if tag == "$s" and isinstance(body, list):
        try:
            return frozenset(body)
        except TypeError as exc:
            raise CodecError(f"bad set: {exc}") from None
    if tag == "$x" and body in ("inf", "-inf", "nan"):
        return float(body)
    if tag == "$b" and isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise CodecError(f"bad bytes: {exc}") from None
    if tag == "$m" and isinstance(body, list):
        try:
            return dict(body)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"bad mapping: {exc}") from None
    if tag == "$c" and isinstance(body, str) and isinstance(raw.get("f"), dict):
        cls = _REGISTRY.classes().get(body)
        if cls is None or not dataclasses.is_dataclass(cls):
            raise CodecError(f"{body} may not cross the kernel channel")
        try:
            return cls(**raw["f"])
        except TypeError as exc:
            raise CodecError(f"{body}: {exc}") from None
    if tag == "$e" and isinstance(body, str):
        return _error(body, str(raw.get("msg", "")))
    if tag == "$f" and isinstance(body, int) and refs is not None:
        return refs.stub(body)
    raise CodecError(f"unknown or malformed tag {tag!r}")


def _error(key: str, message: str) -> BaseException:
    module, _, name = key.partition(":")
    cls: Any = None
    if module == "builtins" and name in _BUILTIN_ERRORS:
        cls = getattr(builtins, name)
    elif module.startswith("vibeweaver."):
        cls = _REGISTRY.classes().get(key) or _vibeweaver_error(module, name)
    if isinstance(cls, type) and issubclass(cls, Exception):
        with contextlib.suppress(Exception):  # an error class with another signature
            return cls(message)
    return RemoteError(f"{name}: {message}" if message else name)


def _vibeweaver_error(module: str, name: str) -> type | None:
    """A VibeweaverError subclass defined at the top of an already imported vibeweaver module."""
    import sys

    from vibeweaver.errors import VibeweaverError

    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None and "." not in name else None
    if isinstance(cls, type) and issubclass(cls, VibeweaverError):
        return cls
    return None
