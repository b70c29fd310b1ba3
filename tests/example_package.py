"""The example plugin package (examples/zoo-digits), installed with real pip.

Shared by the test modules that use it; it is installed once per test
session, from a copy of its sources (so the build leaves nothing in the
repository), into a folder of its own that a test puts on ``sys.path`` or a
subprocess's ``PYTHONPATH``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "zoo-digits"
#: The example's entry-point (plugin) name and what it registers.
PLUGIN = "zoo-digits"
COMPONENTS = [("dataset", "digits"), ("architecture", "small-cnn"), ("optimizer", "lion"),
              ("exporter", "keras-file")]

_installed: dict[str, Path] = {}


def install_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install examples/zoo-digits with pip into a temporary folder (once per session); return the folder."""
    if "site" not in _installed:
        pytest.importorskip("setuptools", reason="the example plugin package builds with setuptools")
        root = tmp_path_factory.mktemp("zoo-digits")
        source = shutil.copytree(EXAMPLE, root / "src", ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                      "__pycache__"))
        target = root / "site"
        command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                   "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"pip could not install examples/zoo-digits:\n{done.stdout}\n{done.stderr}")
        _installed["site"] = target
    return _installed["site"]


def forget_example_modules() -> None:
    """Drop the example's modules from sys.modules, so no other test sees them."""
    for module in [name for name in sys.modules if name == "zoo_digits" or name.startswith("zoo_digits.")]:
        del sys.modules[module]
