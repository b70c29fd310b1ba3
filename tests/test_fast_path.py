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

HEAVY = ("tensorflow", "keras", "numpy", "matplotlib", "sklearn", "ai_edge_litert", "pydantic",
         "starlette", "uvicorn", "prometheus_client")  # the last three: zoo serve's ASGI stack
#: command -> (its exit code, a fragment its output must hold): each did its job, not just exited.
COMMANDS = {
    ("--help",): (0, "Usage"),
    ("--version",): (0, "zoo"),
    ("list",): (0, "mnist-mlp"),
    ("list", "--json"): (0, '"name": "mlp"'),
    ("list", "optimizers", "ad*"): (0, "adam"),
    ("list", "settings"): (0, "batch_size"),
    ("show", "mlp"): (0, "hidden"),
    ("show", "mnist"): (0, "mnist"),
    ("show", "tflite-int8"): (0, "int8"),
    ("show", "mnist-mlp"): (0, "sparse-categorical-crossentropy"),
    ("show", "settings", "--json"): (0, '"validation_split"'),
    ("show", "nosuch"): (2, "nosuch"),
    ("plugins",): (0, "keras-optimizers"),
    ("plugins", "--json"): (0, '"keras-optimizers"'),
    ("serve", "--help"): (0, "--max-batch"),
}

PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from zoo_core.cli import main

    heavy, commands = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    report = []
    for command in commands:
        sys.argv = ["zoo", *command]
        out, err, code = io.StringIO(), io.StringIO(), 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        report.append({"command": command, "imported": sorted(m for m in heavy if m in sys.modules),
                       "code": code, "output": out.getvalue() + err.getvalue()})
    print(json.dumps(report))
""")


def probe(commands: list[list[str]], cwd: Path, pythonpath: list[Path] = ()) -> list[dict]:
    """Run ``commands`` one after the other in one process; for each: the heavy modules present after it,
    its exit code and its output."""
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(commands)],
                            cwd=cwd, env=subprocess_env(pythonpath), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def assert_light_and_done(report: dict, code: int, fragment: str) -> None:
    shown = f"'zoo {' '.join(report['command'])}'"
    assert report["imported"] == [], f"{shown} imported {', '.join(report['imported'])}"
    assert report["code"] == code, f"{shown} exited with {report['code']}, expected {code}:\n{report['output']}"
    assert fragment in report["output"], f"{shown} did not print {fragment!r}:\n{report['output']}"
    assert "Traceback" not in report["output"], report["output"]


def test_introspection_commands_import_no_tensorflow(tmp_path: Path) -> None:
    reports = probe([list(command) for command in COMMANDS], tmp_path)
    assert [tuple(r["command"]) for r in reports] == list(COMMANDS)
    for report, (code, fragment) in zip(reports, COMMANDS.values()):
        assert_light_and_done(report, code, fragment)


def test_a_third_party_plugin_keeps_the_path_light(installed_plugins: dict[str, Path], tmp_path: Path) -> None:
    folders = [installed_plugins["zoo-fixture-good"], installed_plugins["zoo-fixture-collision"]]
    reports = probe([["list"], ["show", "fixture-momentum"], ["plugins"]], tmp_path, folders)
    for report, fragment in zip(reports, ("fixture-momentum", "fixture-momentum", "fixture-good"), strict=True):
        assert_light_and_done(report, 0, fragment)


@pytest.mark.parametrize("module", ["zoo_core", "zoo_core.cli", "zoo_core.registry", "zoo_core.plugins",
                                    "zoo_core.serve"])
def test_importing_zoo_core_imports_nothing_heavy(module: str, tmp_path: Path) -> None:
    code = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_probe_sees_a_plugin_that_imports_numpy_at_the_top(tmp_path: Path) -> None:
    """The check above can fail: a plugin importing a heavy module at the top is caught."""
    (tmp_path / "heavy.py").write_text("import numpy  # wrong: import inside the factory\n")
    [report] = probe([["--plugins-dir", str(tmp_path), "list"]], tmp_path)
    assert report["imported"] == ["numpy"] and report["code"] == 0


def test_loading_your_own_files_leaves_tensorflow_for_later(tmp_path: Path) -> None:
    """image-folder and csv scan their files without TensorFlow: zoo imports it afterwards with its C++ start-up
    logs hushed (an import in a factory printed them on every run)."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from PIL import Image
        from zoo_plugins.datasets.csv import csv_dataset
        from zoo_plugins.datasets.image_folder import image_folder
        for name in ("a", "b"):
            (folder := __import__("pathlib").Path("photos", name)).mkdir(parents=True)
            for index in range(5):
                Image.fromarray(np.full((8, 8), index * 20, np.uint8)).save(folder / f"{index}.png")
        open("t.csv", "w").write("x,y\\n" + "".join(f"{i},{'ab'[i % 2]}\\n" for i in range(20)))
        image_folder("photos"), csv_dataset("t.csv")
        print([m for m in ("tensorflow", "keras") if m in sys.modules])
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]" and "oneDNN" not in result.stderr
