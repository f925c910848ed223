"""Human byte sizes: `parse_size` reads what a user types (`--kernel-memory 4G`), `format_bytes`
writes what a message shows (`memory limit 1 GiB`).

Units are binary whatever their spelling (`4G`, `4GB`, `4GiB` are all 4 x 1024³ bytes), as in
`ulimit`, Docker and systemd: an address-space limit is never meant in powers of ten.
"""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_PATTERN: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(I?B)?", re.IGNORECASE)
_NAMES: Final = ("B", "KiB", "MiB", "GiB", "TiB")


def parse_size(text: str) -> int:
    """`"4G"`, `"512M"`, `"1GiB"`, `"1.5 GB"`, `"1073741824"` → bytes; ValueError otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"a size is text such as '4G', not {type(text).__name__}")
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a size: {text!r} (write a number of bytes with an optional unit K, M, G or T, "
            "e.g. 4G, 512M, 1GiB or 1073741824)"
        )
    number, unit, suffix = match.groups()
    if suffix is not None and suffix.upper() == "IB" and not unit:
        raise ValueError(f"not a size: {text!r} ('iB' needs a unit before it, e.g. 1GiB)")
    value = float(number) * _UNITS[unit.upper()]
    if value != int(value):
        raise ValueError(f"not a whole number of bytes: {text!r}")
    if value <= 0:
        raise ValueError(f"a size must be more than 0 bytes: {text!r}")
    return int(value)


def format_bytes(n: int) -> str:
    """1073741824 → "1 GiB", 1610612736 → "1.5 GiB", 512 → "512 B" (at most one decimal)."""
    if n < 0:
        return "-" + format_bytes(-n)
    value = float(n)
    for name in _NAMES:
        if name == "B" and value < 1024:
            return f"{n} B"
        if round(value, 1) < 1024 or name == _NAMES[-1]:
            return f"{value:.1f}".removesuffix(".0") + f" {name}"
        value /= 1024
    raise AssertionError("unreachable")
