"""Private pycapnp helpers for the codecs: decode/encode guards, Uuid, Text, Float32, enums."""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

from vibeweaver.schema import Schemas, load
from vibeweaver.wire.errors import WireDecodeError, WireEncodeError, WireError

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound=str)

_F32 = struct.Struct("<f")
_UINT64_MAX = (1 << 64) - 1


def schemas() -> Schemas:
    """The compiled schema modules (cached by `vibeweaver.schema.load`)."""
    return load()


def describe(exc: BaseException) -> str:
    """A one-line description of an exception (KjException text carries a stack dump)."""
    text = str(exc).split("\nstack:", 1)[0].strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def decode_root(struct_type: Any, body: bytes, read: Callable[[Any], T], what: str) -> T:
    """Open `body` as a message rooted at `struct_type` and convert it with `read` inside the block.

    The reader never escapes: `read` must return plain Python values. Every failure of the
    Cap'n Proto library (truncation, bad segment table, unknown union tag, invalid UTF-8 ...)
    becomes WireDecodeError.
    """
    if not isinstance(body, bytes):
        body = bytes(body)
    try:
        with struct_type.from_bytes(body) as reader:
            return read(reader)
    except WireError:
        raise
    except Exception as exc:
        raise WireDecodeError(f"cannot decode {what}: {describe(exc)}") from exc


def encoding(fn: Callable[P, bytes]) -> Callable[P, bytes]:
    """Turn any failure of an encoder (out-of-range number, bad value) into WireEncodeError."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> bytes:
        try:
            return fn(*args, **kwargs)
        except WireError:
            raise
        except Exception as exc:
            raise WireEncodeError(f"cannot encode {fn.__name__}: {describe(exc)}") from exc

    return wrapper


def uuid_words(request_id: bytes) -> tuple[int, int]:
    """(low, high): bytes 0-7 and 8-15 of the RFC 4122 id as little-endian u64 (sheet §2.3)."""
    if len(request_id) != 16:
        raise WireEncodeError(f"a request id is 16 bytes, got {len(request_id)}")
    return int.from_bytes(request_id[:8], "little"), int.from_bytes(request_id[8:], "little")


def set_uuid(builder: Any, value: bytes) -> None:
    """Write the 16 id bytes into an initialised `Uuid` builder (low, then high)."""
    low, high = uuid_words(value)
    builder.low = low
    builder.high = high


def read_uuid(reader: Any) -> bytes:
    """The 16 id bytes of a `Uuid` reader."""
    return int(reader.low).to_bytes(8, "little") + int(reader.high).to_bytes(8, "little")


def new_envelope(request_id: bytes) -> tuple[Any, Any]:
    """An Envelope built in the Rust order (id, traceparent "", payload); returns (msg, payload)."""
    msg = schemas().envelope.Envelope.new_message()
    set_uuid(msg.init("id"), request_id)
    msg.traceparent = ""
    return msg, msg.init("payload")


def text(value: str) -> str:
    """`value` made writable as Cap'n Proto Text: lone surrogates become backslash escapes."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def set_text_list(builder: Any, field: str, values: Sequence[str]) -> None:
    """Allocate a `List(Text)` and fill it in order (always allocated, even when empty)."""
    lst = builder.init(field, len(values))
    for i, value in enumerate(values):
        lst[i] = text(value)


def read_text_list(values: Iterable[Any]) -> tuple[str, ...]:
    """A `List(Text)` reader as a tuple of str."""
    return tuple(str(v) for v in values)


def f32(value: float) -> float:
    """A Float32 read as the shortest decimal with the same Float32 bits (0.95, not 0.9499...)."""
    if not math.isfinite(value):
        return value
    packed = _F32.pack(value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        try:
            if _F32.pack(candidate) == packed:
                return candidate
        except OverflowError:  # rounding up past the largest Float32 (3.4028235e38)
            continue
    return value


def enum_name(value: Any, names: Sequence[S], what: str) -> S:
    """The enumerant name of an enum field reader; an unknown value fails like the Rust decoders."""
    raw = int(value.raw)
    if 0 <= raw < len(names):
        return names[raw]
    raise WireDecodeError(f"unknown {what} enumerant {raw}")


def check_enum(value: str, names: Sequence[str], what: str) -> str:
    """Validate an enumerant name before writing it."""
    if value not in names:
        raise WireEncodeError(f"unknown {what} {value!r}; expected one of {', '.join(names)}")
    return value


@functools.cache
def union_members(struct_name: str) -> dict[str, bool]:
    """Member name -> is-Void for the whole-struct unions ('Payload', 'ToolRequest', ...)."""
    s = schemas()
    struct_type = {
        "Payload": s.envelope.Payload,
        "ToolRequest": s.tools.ToolRequest,
        "ToolResponse": s.responses.ToolResponse,
        "Broadcast": s.broadcast.Broadcast,
    }[struct_name]
    fields = struct_type.schema.fields
    return {
        name: fields[name].proto.slot.type.which() == "void"
        for name in struct_type.schema.union_fields
    }


def set_member(union_builder: Any, struct_name: str, member: str) -> None:
    """Select `member` of a union with default content (Void set, struct initialised empty)."""
    members = union_members(struct_name)
    if member not in members:
        raise WireEncodeError(f"{struct_name} has no member {member!r}")
    if members[member]:
        setattr(union_builder, member, None)
    else:
        union_builder.init(member)


def root_tag(body: bytes) -> int:
    """The UInt16 at data-section byte 0 of the root struct, whatever the union says.

    pycapnp refuses `which()` on a union tag its schema does not know. Reading the message with
    a root type whose first field is a UInt64 at data offset 0 (`Timestamp`) exposes the raw
    discriminant of a whole-struct union (tag at byte 0, sheet §2.4) without hand-parsing pointers.
    """
    ts = schemas().common.Timestamp
    return decode_root(ts, body, lambda r: int(r.nanos) & 0xFFFF, "union tag")


def check_u64(value: int, what: str) -> int:
    """Validate a UInt64 before writing it (pycapnp raises OverflowError otherwise)."""
    if not 0 <= value <= _UINT64_MAX:
        raise WireEncodeError(f"{what} {value} is out of the UInt64 range")
    return value
