"""The DSL's input checks (SPEC §4.6): valid Unicode and bounded sizes, with clear DslErrors;
any string at all either passes or is refused with a DslError, never anything else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vibeweaver.dsl.checks import (
    MAX_METADATA_BYTES,
    MAX_NAME_CHARS,
    MAX_TEXT_BYTES,
    check_metadata,
    check_name,
    check_text,
)
from vibeweaver.dsl.context import DslError

ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


def test_a_lone_surrogate_is_named() -> None:
    with pytest.raises(DslError, match=r"marker\(\): name is not valid Unicode text .*U\+D800"):
        check_name(chr(0xD800), "marker()")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must be a non-empty string"),
        ("   ", "must be a non-empty string"),
        (3, "must be a string, not int"),
        ("n" * (MAX_NAME_CHARS + 1), f"257 characters; the limit is {MAX_NAME_CHARS}"),
    ],
)
def test_bad_names(value: Any, message: str) -> None:
    with pytest.raises(DslError, match="marker"):
        check_name(value, "marker()")
    with pytest.raises(DslError) as caught:
        check_name(value, "marker()")
    assert message in str(caught.value)


def test_a_name_is_stripped_and_may_be_256_characters() -> None:
    assert check_name("  drop ", "marker()") == "drop"
    assert check_name("é" * MAX_NAME_CHARS, "marker()") == "é" * MAX_NAME_CHARS


def test_texts_are_bounded_in_utf8_bytes() -> None:
    assert check_text("a" * MAX_TEXT_BYTES, "session()", "vibe")
    with pytest.raises(DslError, match="vibe is 4,098 bytes as UTF-8; the limit is 4,096"):
        check_text("é" * 2049, "session()", "vibe")


def test_metadata_must_be_json_and_at_most_64_kb() -> None:
    assert check_metadata({"bars": [1, 2]}, "marker()") == '{"bars":[1,2]}'
    assert check_metadata(None, "marker()") is None
    with pytest.raises(DslError, match="must be JSON data"):
        check_metadata({"f": object()}, "marker()")
    with pytest.raises(DslError, match="must be JSON data"):
        check_metadata(float("nan"), "marker()")
    with pytest.raises(DslError, match=f"the limit is {MAX_METADATA_BYTES:,}"):
        check_metadata("x" * MAX_METADATA_BYTES, "marker()")
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(DslError, match="metadata"):
        check_metadata(deep, "marker()")


@given(ANY_TEXT)
def test_any_string_passes_or_gets_a_dsl_error(text: str) -> None:
    for check in (
        lambda: check_name(text, "marker()"),
        lambda: check_text(text, "session()", "vibe"),
        lambda: check_metadata({"k": text}, "marker()"),
    ):
        try:
            result = check()
        except DslError:
            continue
        assert isinstance(result, str)
        result.encode("utf-8")  # whatever passes can be stored
