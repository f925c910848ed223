"""Workspace hot reload: reload workspace modules whose file changed since they were loaded."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType


@dataclass(frozen=True, slots=True)
class _Signature:
    module: ModuleType
    mtime_ns: int
    size: int
    digest: bytes


def _signature(module: ModuleType, path: str) -> _Signature | None:
    try:
        stat = os.stat(path)
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return _Signature(
        module=module,
        mtime_ns=stat.st_mtime_ns,
        size=stat.st_size,
        digest=hashlib.blake2b(data, digest_size=16).digest(),
    )


class WorkspaceReloader:
    """Reloads changed workspace modules with importlib.reload.

    A change is a different mtime or size, or, because file timestamps are coarse (two writes in the
    same clock tick keep the same mtime and often the same size), a different content hash; the
    files are small, so hashing them before each eval is cheap. The stale .pyc is removed before a
    reload for the same reason: its header stores the source mtime in whole seconds.
    """

    def __init__(self, workspace: Path) -> None:
        self._root = str(workspace.resolve())
        self._prefixes = tuple({self._root + os.sep, str(workspace.absolute()) + os.sep})
        self._seen: dict[str, _Signature] = {}
        self._names: set[str] = set()
        """The names in sys.modules at the last look (only new names are inspected)."""
        self._found: dict[str, tuple[ModuleType, str]] = {}
        """The workspace modules among them, with their files."""

    @property
    def root(self) -> str:
        return self._root

    def add_to_path(self) -> None:
        """Make workspace modules importable (appended, so they never shadow the stdlib)."""
        if self._root not in sys.path:
            sys.path.append(self._root)
        self._refresh_finder()

    def contains(self, filename: str) -> bool:
        return filename.startswith(self._prefixes)

    def _refresh_finder(self) -> None:
        # The path finder caches directory listings keyed by the directory mtime: a module file
        # created in the same clock tick as the last listing would otherwise not be found.
        finder = sys.path_importer_cache.get(self._root)
        invalidate = getattr(finder, "invalidate_caches", None)
        if invalidate is not None:
            invalidate()

    def _workspace_modules(self) -> list[tuple[str, ModuleType, str]]:
        """The workspace modules in sys.modules, in import order. Only names new since the last
        look are inspected (a kernel has hundreds of modules and this runs twice per cell); a
        known name whose module object changed (deleted and imported again) is looked at anew."""
        modules = sys.modules
        if len(modules) == len(self._names) and self._names == modules.keys():
            # nothing imported or removed since (compared in C, without building a set: this
            # runs twice per cell); a module object replaced under its old name is still seen
            for name, (module, _path) in self._found.items():
                if modules.get(name) is not module:
                    break
            else:
                return [(name, module, path) for name, (module, path) in self._found.items()]
        names = set(modules)
        for gone in self._names - names:
            self._found.pop(gone, None)
        fresh = names - self._names
        for name, (module, _path) in list(self._found.items()):
            if modules.get(name) is not module:
                del self._found[name]
                fresh.add(name)
        for name in fresh:
            fresh_module = modules.get(name)
            path = getattr(fresh_module, "__file__", None)
            if (
                fresh_module is not None
                and isinstance(path, str)
                and path.startswith(self._prefixes)
            ):
                self._found[name] = (fresh_module, path)
        self._names = names
        if fresh:  # keep import order, as sys.modules has it
            order = {name: index for index, name in enumerate(modules)}
            self._found = dict(sorted(self._found.items(), key=lambda kv: order.get(kv[0], 0)))
        return [(name, module, path) for name, (module, path) in self._found.items()]

    def record_new(self) -> None:
        """Remember the file state of workspace modules imported since the last look."""
        for name, module, path in self._workspace_modules():
            known = self._seen.get(name)
            if known is None or known.module is not module:
                sig = _signature(module, path)
                if sig is not None:
                    self._seen[name] = sig

    def reload_changed(self, report: Callable[[str, BaseException], None]) -> list[str]:
        """Reload every changed workspace module, in import order; return their names.

        A failing reload is passed to `report` and the old module stays; it is retried only after
        the file changes again.
        """
        self._refresh_finder()
        reloaded: list[str] = []
        for name, module, path in self._workspace_modules():
            known = self._seen.get(name)
            current = _signature(module, path)
            if current is None:
                continue
            if known is None or known.module is not module:
                self._seen[name] = current
                continue
            if (known.mtime_ns, known.size, known.digest) == (
                current.mtime_ns,
                current.size,
                current.digest,
            ):
                continue
            self._seen[name] = current
            _remove_bytecode(module)
            try:
                importlib.reload(module)
            except Exception as exc:  # noqa: BLE001 - reported; a broken module never stops a cell
                report(name, exc)
            else:
                reloaded.append(name)
        return reloaded


def _remove_bytecode(module: ModuleType) -> None:
    spec = getattr(module, "__spec__", None)
    cached = getattr(spec, "cached", None)
    if isinstance(cached, str):
        with contextlib.suppress(OSError):
            os.unlink(cached)
