"""Fixtures of the kernel snapshot tests: FakeHootenannys, and Weavers restarted on one data dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.doubles import FakeHootenanny
from tests.snapshots.helpers import EVAL_S, Running
from vibeweaver.service import ToolService
from vibeweaver.weaver import Weaver


@pytest.fixture
def fakes() -> Iterator[Callable[..., FakeHootenanny]]:
    """Start FakeHootenannys; every one is stopped at teardown."""
    started: list[FakeHootenanny] = []

    def make(**options: Any) -> FakeHootenanny:
        fake = FakeHootenanny(**options).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def start(make_weaver: Callable[..., Weaver]) -> Callable[..., Running]:
    """Start a Weaver on the data dir `name` (the same name = the same data dir: a restart),
    talking to `fake` when given, else to no hootenanny."""

    subscribed: dict[int, int] = {}

    def make(fake: FakeHootenanny | None = None, name: str = "w", **overrides: Any) -> Running:
        if fake is not None:
            overrides.setdefault("hootenanny", fake.router_endpoint)
            overrides.setdefault("broadcasts", fake.pub_endpoint)
            overrides.setdefault("hootenanny_timeout", 5.0)
        weaver = make_weaver(name, **overrides)
        if fake is not None and overrides.get("broadcasts"):
            # the fake counts subscriptions; the one of an earlier (stopped) Weaver is gone
            subscribed[id(fake)] = subscribed.get(id(fake), 0) + 1
            fake.wait_for_subscribers(subscribed[id(fake)])
        return Running(weaver, ToolService(weaver.system, eval_timeout=EVAL_S))

    return make
