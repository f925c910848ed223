"""CallbackFailures: the failure streak of each callback rule and the verdict at the limit."""

from __future__ import annotations

import pytest

from vibeweaver.kernel.callback_failures import (
    CallbackFailures,
    counts_as_failure,
    failure_text,
)
from vibeweaver.kernel.outcome import CallOutcome, ErrorInfo, Status
from vibeweaver.types import RuleId

A = RuleId("rule_a")
B = RuleId("rule_b")


def _outcome(status: Status, error_type: str | None = None) -> CallOutcome:
    error = None
    if error_type is not None:
        error = ErrorInfo(type=error_type, message="boom", traceback=f"{error_type}: boom")
    return CallOutcome(
        status=status, value_repr=None, stdout="", stderr="", error=error, duration_ms=1.0
    )


def test_the_third_failure_in_a_row_disables_with_the_last_error() -> None:
    failures = CallbackFailures()
    assert failures.failed(A, "NameError: one") is None
    assert failures.failed(A, "NameError: two") is None
    assert failures.streak(A) == 2
    verdict = failures.failed(A, "NameError: name 'hits' is not defined")
    assert verdict is not None and verdict.rule_id == A and verdict.failures == 3
    assert verdict.reason == (
        "its callback failed 3 times in a row; last error: NameError: name 'hits' is not defined"
    )
    assert failures.is_disabled(A)
    assert failures.failed(A, "again") is None  # the verdict comes once
    assert not failures.is_disabled(B) and failures.streak(B) == 0


def test_a_success_starts_the_count_again() -> None:
    failures = CallbackFailures()
    for _ in range(5):
        assert failures.failed(A, "ValueError: x") is None
        assert failures.failed(A, "ValueError: x") is None
        failures.succeeded(A)
        assert failures.streak(A) == 0
    assert not failures.is_disabled(A)


def test_forget_enables_again_and_counts_from_zero() -> None:
    failures = CallbackFailures()
    failures.failed(A, "e")
    failures.failed(A, "e")
    failures.forget(A)  # rules().disable then enable: the streak starts over
    assert failures.failed(A, "e") is None and failures.failed(A, "e") is None
    assert failures.failed(A, "e") is not None
    failures.forget(A)
    assert not failures.is_disabled(A) and failures.streak(A) == 0


def test_what_counts_as_the_callbacks_failure() -> None:
    assert counts_as_failure(_outcome("ok")) is False
    assert counts_as_failure(_outcome("error", "NameError")) is True
    assert counts_as_failure(_outcome("timeout", "TimeoutError")) is True
    # cut short from outside: says nothing about the callback
    assert counts_as_failure(_outcome("error", "Interrupted")) is None
    assert counts_as_failure(_outcome("error", "KernelThreadLost")) is None
    assert failure_text(_outcome("error", "NameError")) == "NameError: boom"
    assert failure_text(_outcome("ok")) is None


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CallbackFailures(limit=0)
