"""Workspace hot reload: a module whose file changed is reloaded before the next evaluation."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vibeweaver.kernel import Kernel

KernelFactory = Callable[..., Kernel]


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "workspace"
    root.mkdir()
    path_before = list(sys.path)
    modules_before = set(sys.modules)
    yield root
    sys.path[:] = path_before
    for name in set(sys.modules) - modules_before:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def module_name() -> str:
    return f"ws_{uuid.uuid4().hex[:10]}"


def test_the_workspace_is_put_on_sys_path_once(make_kernel: KernelFactory, workspace: Path) -> None:
    make_kernel(workspace=workspace)
    make_kernel(workspace=workspace)
    assert sys.path.count(str(workspace.resolve())) == 1


def test_a_changed_workspace_module_is_reloaded_before_the_next_evaluation(
    make_kernel: KernelFactory, workspace: Path
) -> None:
    name = module_name()
    source = workspace / f"{name}.py"
    source.write_text("VALUE = 1\n")
    kernel = make_kernel(workspace=workspace)
    assert kernel.evaluate(f"import {name}\n{name}.VALUE", timeout=5).result == "1"
    source.write_text("VALUE = 2\n")  # same size, possibly the same mtime tick
    assert kernel.evaluate(f"{name}.VALUE", timeout=5).result == "2"
    source.write_text("VALUE = 'three'\n")
    assert kernel.evaluate(f"{name}.VALUE", timeout=5).result == "'three'"


def test_names_imported_from_a_reloaded_module_refer_to_the_module_object(
    make_kernel: KernelFactory, workspace: Path
) -> None:
    name = module_name()
    source = workspace / f"{name}.py"
    source.write_text("def tempo():\n    return 120\n")
    kernel = make_kernel(workspace=workspace)
    kernel.evaluate(f"import {name} as drums", timeout=5)
    source.write_text("def tempo():\n    return 128\n")
    assert kernel.evaluate("drums.tempo()", timeout=5).result == "128"


def test_a_module_deleted_and_imported_again_is_the_one_reloaded(
    make_kernel: KernelFactory, workspace: Path
) -> None:
    name = module_name()
    source = workspace / f"{name}.py"
    source.write_text("VALUE = 1\n")
    kernel = make_kernel(workspace=workspace)
    assert kernel.evaluate(f"import {name}\n{name}.VALUE", timeout=5).result == "1"
    # the reloader only inspects names new to sys.modules; a replaced module is seen all the same
    code = f"import sys\ndel sys.modules[{name!r}]\nimport {name}\n{name}.VALUE = 5\n{name}.VALUE"
    assert kernel.evaluate(code, timeout=5).result == "5"
    source.write_text("VALUE = 22\n")
    assert kernel.evaluate(f"{name}.VALUE, sys.modules[{name!r}].VALUE", timeout=5).result == (
        "(22, 22)"
    )


def test_an_unchanged_module_is_not_reloaded(make_kernel: KernelFactory, workspace: Path) -> None:
    name = module_name()
    (workspace / f"{name}.py").write_text("import random\nTOKEN = random.random()\n")
    kernel = make_kernel(workspace=workspace)
    first = kernel.evaluate(f"import {name}\n{name}.TOKEN", timeout=5).result
    assert kernel.evaluate(f"{name}.TOKEN", timeout=5).result == first


def test_a_broken_rewrite_is_reported_on_stderr_and_the_old_module_stays(
    make_kernel: KernelFactory, workspace: Path
) -> None:
    name = module_name()
    source = workspace / f"{name}.py"
    source.write_text("VALUE = 1\n")
    kernel = make_kernel(workspace=workspace)
    kernel.evaluate(f"import {name}", timeout=5)
    source.write_text("VALUE = (\n")
    outcome = kernel.evaluate(f"{name}.VALUE", timeout=5)
    assert outcome.status == "ok"
    assert outcome.result == "1"
    assert f"reloading workspace module {name!r} failed" in outcome.stderr
    assert "SyntaxError" in outcome.stderr
    source.write_text("VALUE = 5\n")
    assert kernel.evaluate(f"{name}.VALUE", timeout=5).result == "5"


def test_a_workspace_module_frame_is_a_user_frame_in_tracebacks(
    make_kernel: KernelFactory, workspace: Path
) -> None:
    name = module_name()
    (workspace / f"{name}.py").write_text(
        "def boom():\n    raise RuntimeError('from the workspace')\n"
    )
    kernel = make_kernel(workspace=workspace)
    outcome = kernel.evaluate(f"import {name}\n{name}.boom()", timeout=5)
    assert outcome.error is not None
    trace = outcome.error.traceback
    assert f'{name}.py", line 2, in boom' in trace
    assert "raise RuntimeError('from the workspace')" in trace
    assert trace.splitlines()[-1] == "RuntimeError: from the workspace"
