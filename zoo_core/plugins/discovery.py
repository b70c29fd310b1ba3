"""Finding plugins: entry points in the ``zoo`` group, then loose ``.py`` files in a plugins folder."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable

from zoo_core.errors import PluginError
from zoo_core.plugins.catalog import PluginRecord

ENTRY_POINT_GROUP = "zoo"
BUILTIN_DISTRIBUTION = "zoo"


def discover(plugins_dir: str | Path | None) -> Iterable[tuple[PluginRecord, Callable[[], ModuleType]]]:
    """Yield a record and a module loader for every entry point, the built-ins first, then every loose file."""
    yield from _entry_points()
    if plugins_dir is not None:
        yield from _loose_files(Path(plugins_dir))


def _entry_points() -> Iterable[tuple[PluginRecord, Callable[[], ModuleType]]]:
    seen: set[tuple[str, str]] = set()
    entry_points = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (_distribution_name(ep) != BUILTIN_DISTRIBUTION, ep.name),
    )
    for entry_point in entry_points:
        if (entry_point.name, entry_point.value) in seen:
            continue  # the same distribution found twice on sys.path
        seen.add((entry_point.name, entry_point.value))
        distribution = _distribution_name(entry_point)
        version = entry_point.dist.version if entry_point.dist else ""
        record = PluginRecord(
            name=entry_point.name,
            distribution=distribution,
            version=version,
            module=entry_point.value,
            builtin=distribution == BUILTIN_DISTRIBUTION,
        )
        yield record, entry_point.load


def _loose_files(directory: Path) -> Iterable[tuple[PluginRecord, Callable[[], ModuleType]]]:
    if not directory.is_dir():
        raise PluginError(
            f"plugins directory {str(directory)!r} does not exist",
            hint="pass an existing folder of .py plugin files to --plugins-dir / ZOO_PLUGINS_DIR",
        )
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue  # __init__.py and private helpers are not plugins
        record = PluginRecord(
            name=path.stem,
            distribution="(plugins dir)",
            version="",
            module=str(path),
            builtin=False,
            source="plugins dir",
        )
        yield record, (lambda path=path: _import_file(path))


def _distribution_name(entry_point: metadata.EntryPoint) -> str:
    return entry_point.dist.metadata["Name"] if entry_point.dist else "(unknown)"


def _import_file(path: Path) -> ModuleType:
    """Import a loose plugin file as ``zoo_plugins_dir.<stem>``; on failure leave no half-imported module behind."""
    module_name = f"zoo_plugins_dir.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
