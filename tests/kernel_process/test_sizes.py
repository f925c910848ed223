"""parse_size reads what `--kernel-memory` gets; format_bytes writes sizes into causes."""

from __future__ import annotations

import pytest

from vibeweaver.actors.kernel.process import format_bytes, parse_size

GIB = 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4G", 4 * GIB),
        ("4g", 4 * GIB),
        ("4GB", 4 * GIB),
        ("1GiB", GIB),
        (" 1 GiB ", GIB),
        ("1.5G", 3 * GIB // 2),
        ("512M", 512 * 1024**2),
        ("64k", 64 * 1024),
        ("2T", 2 * 1024**4),
        ("1073741824", GIB),
        ("100B", 100),
    ],
)
def test_parse_size_accepts_units_and_plain_bytes(text: str, expected: int) -> None:
    """Every spelling a user may type is read in binary units."""
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a size"),
        ("lots", "not a size"),
        ("4X", "not a size"),
        ("-1G", "not a size"),
        ("G", "not a size"),
        ("1 G B", "not a size"),
        ("1iB", "'iB' needs a unit"),
        ("0", "more than 0"),
        ("0G", "more than 0"),
        ("1.5", "whole number of bytes"),
    ],
)
def test_parse_size_rejects_bad_input_with_a_clear_message(text: str, message: str) -> None:
    """Bad input is a ValueError that says what a size looks like."""
    with pytest.raises(ValueError, match=message) as raised:
        parse_size(text)
    assert repr(text) in str(raised.value)


def test_parse_size_rejects_non_text() -> None:
    """A number instead of text is a TypeError, not a silent conversion."""
    with pytest.raises(TypeError, match="text such as '4G'"):
        parse_size(4096)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (16 * 1024, "16 KiB"),
        (GIB, "1 GiB"),
        (3 * GIB // 2, "1.5 GiB"),
        (4 * GIB, "4 GiB"),
        (1024 * 1024 - 1, "1 MiB"),
        (5 * 1024**5, "5120 TiB"),
    ],
)
def test_format_bytes_is_human(n: int, text: str) -> None:
    """Sizes read as a person would write them, with at most one decimal."""
    assert format_bytes(n) == text


def test_round_trip() -> None:
    """What format_bytes writes, parse_size reads back."""
    for n in (1024, GIB, 4 * GIB, 512 * 1024**2, 3 * GIB // 2):
        assert parse_size(format_bytes(n)) == n
