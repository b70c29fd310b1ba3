"""Shared test helpers: a clean zoo environment, the CLI in-process and as a
real subprocess, and the fixture plugin distributions installed with pip.

The fixture distributions under ``tests/fixtures/plugin_packages`` are real
packages (pyproject.toml, setuptools, an entry point in the ``zoo`` group).
They are installed once per test session, each into a folder of its own, so a
test puts exactly the plugins it wants on ``sys.path`` (in-process) or on
``PYTHONPATH`` (subprocess).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest
from typer.testing import CliRunner, Result

from zoo_core.cli import app
from zoo_core.plugins import Catalog, load_catalog

TESTS = Path(__file__).resolve().parent
PLUGIN_PACKAGES = TESTS / "fixtures" / "plugin_packages"
#: Environment variables that change what zoo loads; no test inherits them.
ZOO_ENVIRONMENT = ("ZOO_PLUGINS", "ZOO_STRICT_PLUGINS", "ZOO_PLUGINS_DIR", "ZOO_DEBUG")
#: distribution name -> the entry-point (plugin) name it declares.
FIXTURE_PLUGINS = {
    "zoo-fixture-good": "fixture-good",
    "zoo-fixture-import-error": "fixture-import-error",
    "zoo-fixture-hook-error": "fixture-hook-error",
    "zoo-fixture-malformed": "fixture-malformed",
    "zoo-fixture-collision": "fixture-collision",
}


@pytest.fixture(autouse=True)
def _clean_zoo_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ZOO_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test in an empty working directory (no ./registry.toml)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def builtin_catalog() -> Catalog:
    """The built-in plugins only, whatever else is installed."""
    return load_catalog(allowlist=[], strict=False, warn=lambda line: None)


# -- the CLI ----------------------------------------------------------------------


def run_cli(*args: str) -> Result:
    """``zoo ARGS`` in-process; ``result.stdout`` and ``result.stderr`` are separate."""
    return CliRunner().invoke(app, list(args))


def zoo_executable() -> str:
    """The installed ``zoo`` console script of the Python running the tests."""
    beside = Path(sys.executable).parent / "zoo"
    found = str(beside) if beside.is_file() else shutil.which("zoo")
    if not found:
        pytest.fail("the 'zoo' console script is not installed; pip install -e . first")
    return found


def subprocess_env(pythonpath: Sequence[Path] = (), **extra: str) -> dict[str, str]:
    """The environment for a zoo subprocess: no ZOO_* from outside, extra PYTHONPATH entries."""
    env = {key: value for key, value in os.environ.items() if key not in ZOO_ENVIRONMENT}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(path) for path in pythonpath)
    env["COLUMNS"] = "80"
    env.update(extra)
    return env


def run_zoo(*args: str, cwd: Path, pythonpath: Sequence[Path] = (), **extra: str) -> subprocess.CompletedProcess[str]:
    """The real ``zoo`` console script in a subprocess."""
    return subprocess.run([zoo_executable(), *args], cwd=cwd, env=subprocess_env(pythonpath, **extra),
                          capture_output=True, text=True, timeout=60)


# -- fixture plugin distributions ----------------------------------------------------


def _pip_install(source: Path, target: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--target", str(target),
               str(source)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every fixture distribution installed with pip, each into its own folder.

    The sources are copied first, so that the build leaves nothing in the
    repository. Returns distribution name -> install folder.
    """
    pytest.importorskip("setuptools", reason="the fixture plugin packages build with setuptools")
    root = tmp_path_factory.mktemp("plugin-sites")
    jobs = {}
    for name in FIXTURE_PLUGINS:
        source = shutil.copytree(PLUGIN_PACKAGES / name, root / "src" / name)
        jobs[name] = (root / name, _pip_install(source, root / name))
    for name, (_, job) in jobs.items():
        output, _ = job.communicate(timeout=300)
        if job.returncode != 0:
            pytest.fail(f"pip could not install the fixture plugin {name}:\n{output}")
    return {name: target for name, (target, _) in jobs.items()}


@pytest.fixture
def use_plugins(installed_plugins: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[Path]]]:
    """``use_plugins("zoo-fixture-good", ...)`` puts those distributions on sys.path for this test.

    Returns their folders, for a subprocess's PYTHONPATH. Their modules are
    forgotten afterwards so that no test sees another's imports.
    """

    def use(*names: str) -> list[Path]:
        folders = [installed_plugins[name] for name in names]
        for folder in folders:
            monkeypatch.syspath_prepend(str(folder))  # also invalidates the import caches
        return folders

    yield use
    for module in [m for m in sys.modules if m.startswith("zoo_fixture_")]:
        del sys.modules[module]
