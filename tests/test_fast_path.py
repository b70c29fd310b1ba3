"""Nothing on the path of --help, list, show and plugins imports TensorFlow.

Each command runs through the console script's ``main`` in a fresh Python
process; after each one the process reports which heavy modules it has
imported. No timings here: they belong in benchmarks/, not in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import subprocess_env

HEAVY = ("tensorflow", "keras", "numpy", "matplotlib", "sklearn", "ai_edge_litert", "pydantic")
COMMANDS = [
    ["--help"],
    ["--version"],
    ["list"],
    ["list", "--json"],
    ["list", "optimizers", "ad*"],
    ["list", "settings"],
    ["show", "mlp"],
    ["show", "mnist"],
    ["show", "tflite-int8"],
    ["show", "mnist-mlp"],
    ["show", "settings", "--json"],
    ["show", "nosuch"],
    ["plugins"],
    ["plugins", "--json"],
]

PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from zoo_core.cli import main

    heavy, commands = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    report = []
    for command in commands:
        sys.argv = ["zoo", *command]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main()
            except SystemExit:
                pass
        report.append([command, sorted(m for m in heavy if m in sys.modules)])
    print(json.dumps(report))
""")


def probe(commands: list[list[str]], cwd: Path, pythonpath: list[Path] = ()) -> list[tuple[list[str], list[str]]]:
    """Run ``commands`` one after the other in one process; the heavy modules present after each."""
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(commands)],
                            cwd=cwd, env=subprocess_env(pythonpath), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [tuple(entry) for entry in json.loads(result.stdout.splitlines()[-1])]


def test_introspection_commands_import_no_tensorflow(tmp_path: Path) -> None:
    for command, imported in probe(COMMANDS, tmp_path):
        assert imported == [], f"'zoo {' '.join(command)}' imported {', '.join(imported)}"


def test_a_third_party_plugin_keeps_the_path_light(installed_plugins: dict[str, Path], tmp_path: Path) -> None:
    folders = [installed_plugins["zoo-fixture-good"], installed_plugins["zoo-fixture-collision"]]
    for command, imported in probe([["list"], ["show", "fixture-momentum"], ["plugins"]], tmp_path, folders):
        assert imported == [], f"'zoo {' '.join(command)}' imported {', '.join(imported)}"


@pytest.mark.parametrize("module", ["zoo_core", "zoo_core.cli", "zoo_core.registry", "zoo_core.plugins"])
def test_importing_zoo_core_imports_nothing_heavy(module: str, tmp_path: Path) -> None:
    code = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_probe_sees_a_plugin_that_imports_numpy_at_the_top(tmp_path: Path) -> None:
    """The check above can fail: a plugin importing a heavy module at the top is caught."""
    (tmp_path / "heavy.py").write_text("import numpy  # wrong: import inside the factory\n")
    [(command, imported)] = probe([["--plugins-dir", str(tmp_path), "list"]], tmp_path)
    assert imported == ["numpy"]
