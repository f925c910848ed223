"""Misspellings get a "did you mean": DSL names in a cell, markers named by @on_marker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


@pytest.fixture
def service(make_weaver: Callable[..., Weaver]) -> ToolService:
    return ToolService(make_weaver().system, eval_timeout=10)


def test_a_misspelt_dsl_function_names_the_right_one(service: ToolService) -> None:
    outcome = service.evaluate("sampel('orpheus_loops', 'kick')", timeout_s=10)
    assert outcome.error is not None and outcome.error.type == "NameError"
    assert outcome.error.message == "name 'sampel' is not defined. Did you mean: 'sample'?"


def test_a_misspelt_attribute_of_dsl_state_names_the_right_one(service: ToolService) -> None:
    outcome = service.evaluate("transport.stat", timeout_s=10)
    assert outcome.error is not None and outcome.error.type == "AttributeError"
    assert outcome.error.message.endswith("Did you mean: 'state'?")


def test_on_marker_with_a_misspelt_marker_names_the_closest_marker(service: ToolService) -> None:
    service.evaluate('marker("drop", 256)', timeout_s=10)
    outcome = service.evaluate("@on_marker('dorp')\ndef hit(name):\n    pass\n", timeout_s=10)
    assert outcome.status == "ok"  # the marker may still be placed later: a note, not an error
    assert "no marker named 'dorp' yet" in outcome.stderr
    assert "Did you mean 'drop'?" in outcome.stderr


def test_on_marker_with_an_existing_marker_says_nothing(service: ToolService) -> None:
    service.evaluate('marker("drop", 256)', timeout_s=10)
    outcome = service.evaluate("@on_marker('drop')\ndef hit(name):\n    pass\n", timeout_s=10)
    assert outcome.status == "ok" and outcome.stderr == ""
