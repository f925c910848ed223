"""Fixtures for the kernel tests: started kernels that are always stopped, and a condition wait."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vibeweaver.kernel import Kernel

KernelFactory = Callable[..., Kernel]


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.005)


def kernel_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


@pytest.fixture
def make_kernel() -> Iterator[KernelFactory]:
    """Build and start kernels with unique names; all of them are stopped at teardown."""
    made: list[Kernel] = []

    def make(**kwargs: Any) -> Kernel:
        kwargs.setdefault("name", f"tk-{uuid.uuid4().hex[:8]}")
        kernel = Kernel(**kwargs)
        kernel.start()
        made.append(kernel)
        return kernel

    yield make
    for kernel in reversed(made):
        kernel.stop()


@pytest.fixture(name="wait_until")
def _wait_until() -> Callable[..., None]:
    """The `wait_until(predicate, timeout=5.0, what="")` helper, as a fixture."""
    return wait_until


@pytest.fixture
def kernel(make_kernel: KernelFactory) -> Kernel:
    return make_kernel()
