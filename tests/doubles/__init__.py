"""Test doubles shared across the test suite (fakes of external peers)."""

from __future__ import annotations

from .fake_hootenanny import FakeHootenanny, FakeJob, Received

__all__ = ["FakeHootenanny", "FakeJob", "Received"]
