"""The plugin author's guide (docs/plugins.md) stays true: a section per hook,
linked from the README, its minimal plugin installs and works as written, its
exporter passes the conformance kit, its Python snippets compile, and the
names and signatures it gives (kit checks, export helpers, zoo_core.*) exist."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import zoo_core.export
import zoo_core.testing
from conftest import subprocess_env
from zoo_core import hookspecs
from zoo_core.plugins import Catalog, load_catalog

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
ZOO = Path(sys.executable).with_name("zoo")


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^#{1,6}\s", line)]


def code_blocks(text: str) -> dict[str, str]:
    """The guide's code blocks that start with a file-name comment (``# zoo_adagrad.py``), by file name."""
    blocks = re.findall(r"^```\w*\n(.*?)^```", text, flags=re.M | re.S)
    files = {}
    for block in blocks:
        first = block.splitlines()[0]
        match = re.match(r"^# ([\w./-]+\.(?:py|toml))$", first)
        if match:
            files[match.group(1)] = block
    return files


@pytest.mark.parametrize("hook", sorted(hookspecs.HOOK_KINDS))
def test_every_hookspec_has_its_own_section_in_the_guide(hook: str) -> None:
    assert f"### {hook}" in headings(guide()), f"docs/plugins.md needs a section '### {hook}' with its contract"


def test_the_readme_links_the_guide_from_its_plugins_section() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Plugins", 1)[1].split("\n## ", 1)[0]
    assert "(docs/plugins.md)" in section and "(examples/zoo-digits)" in section


def test_the_guide_covers_what_a_plugin_author_needs() -> None:
    text = guide()
    for topic in ("[project.entry-points.zoo]", "Args:", "Literal[", "list[int]", "--plugins-dir", "ZOO_PLUGINS_DIR",
                  "ZOO_PLUGINS=", "ZOO_STRICT_PLUGINS=1", "plugin:name", "conformance_tests", "zoo_one_hot_labels",
                  "safe_mode=True", "inside the factory",
                  # issue 12: data order, exporter details, names in tests, what runs need
                  "`shuffle`", "the `validation` setting in README", "The `.tmp` suffix trap", "np.savez(handle",
                  "of `path` **only**", "`message`", 'names=["my-plugin:wine"', 'kinds=["architectures"]',
                  "**skipped**", "`--optimizer`\ndefaults to `adam` and `--loss` to `sparse-categorical-crossentropy`",
                  "must\nname all four"):
        assert topic in text, f"docs/plugins.md does not mention {topic}"


def test_every_check_of_the_kit_is_in_the_guide_s_table() -> None:
    source = "".join(path.read_text(encoding="utf-8") for path in Path(zoo_core.testing.__file__).parent.glob("*.py"))
    checks = set(re.findall(r'checks\.run\("(\w+)"', source))
    assert len(checks) > 25
    missing = sorted(check for check in checks if f"`{check}`" not in guide())
    assert not missing, f"docs/plugins.md does not describe the checks {missing}"


def test_the_names_the_guide_gives_exist() -> None:
    text = guide()
    for name in ("conformance_tests", "assert_conforms", "check_component", "check_plugin", "synthetic_dataset"):
        assert name in zoo_core.testing.__all__ and name in text
    section = text.split("`zoo_core.export` has the helpers:", 1)[1].split("\n\n", 1)[0]
    helpers = re.findall(r"`(\w+)`", section)
    assert len(helpers) >= 12
    assert [h for h in helpers if not hasattr(zoo_core.export, h)] == []


# -- the minimal plugin, exactly as the guide writes it ---------------------------------------


@pytest.fixture(scope="module")
def minimal_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's minimal plugin written out from its code blocks and installed with pip; its install folder."""
    pytest.importorskip("setuptools", reason="the guide's minimal plugin builds with setuptools")
    files = code_blocks(guide().split("## A minimal plugin, in full", 1)[1].split("\n## ", 1)[0])
    assert set(files) == {"pyproject.toml", "zoo_adagrad.py", "tests/test_zoo_adagrad.py"}
    source = tmp_path_factory.mktemp("zoo-adagrad")
    for name, content in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(content, encoding="utf-8")
    target = source.parent / "zoo-adagrad-site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(target),
                           str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_the_guide_s_minimal_plugin_installs_and_shows_up(minimal_plugin: Path, tmp_path: Path) -> None:
    env = subprocess_env([minimal_plugin])
    listed = subprocess.run([str(ZOO), "list", "optimizers", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r.get("name") == "adagrad")
    assert row["plugin"] == "adagrad"
    shown = subprocess.run([str(ZOO), "show", "adagrad", "--json"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    data = json.loads(shown.stdout)
    assert (data["distribution"], data["version"]) == ("zoo-adagrad", "0.1.0")
    assert [(p["name"], p["type"], p["default"]) for p in data["parameters"]] == [
        ("learning_rate", "float", 0.01), ("initial_accumulator_value", "float", 0.1), ("epsilon", "float", 1e-7)]
    assert all(p["help"] for p in data["parameters"])


@pytest.fixture
def minimal_catalog(minimal_plugin: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    monkeypatch.syspath_prepend(str(minimal_plugin))
    yield load_catalog(allowlist=["adagrad"], strict=True)
    sys.modules.pop("zoo_adagrad", None)


@pytest.mark.slow
def test_the_guide_s_minimal_plugin_passes_the_conformance_kit(minimal_catalog: Catalog) -> None:
    zoo_core.testing.assert_conforms("optimizer", "adagrad", catalog=minimal_catalog)
    problems = zoo_core.testing.check_component("optimizer", "adagrad", {"initial_accumulator_value": 0.0},
                                                catalog=minimal_catalog)
    assert [r.check for r in problems if r.status == "failed"] == ["builds"]  # its own range check speaks up


# -- every snippet compiles, every zoo_core name exists, every helper signature is the real one ----------


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_every_python_snippet_of_the_guide_compiles() -> None:
    blocks = python_blocks(guide())
    assert len(blocks) >= 12
    for block in blocks:
        # a hook's contract is written as a bare signature line: complete it before compiling
        source = re.sub(r"^(def .*\))( -> [^:\n]+)?$", r"\1\2: ...", block, flags=re.M)
        try:
            compile(source, "docs/plugins.md", "exec")
        except SyntaxError:  # a fragment from inside a function (e.g. ends in 'return loss')
            compile("def _fragment():\n" + "".join(f"    {line}\n" for line in source.splitlines()),
                    "docs/plugins.md", "exec")


def resolve_dotted(name: str) -> Any:
    """Import the longest module prefix of ``zoo_core.a.b.C`` and get the rest as attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(name)


def test_every_zoo_core_name_the_guide_mentions_exists() -> None:
    text = guide()
    dotted = sorted(set(re.findall(r"\bzoo_core(?:\.[A-Za-z_]\w*)+", text)))
    imported = [f"{module}.{name.strip()}"
                for module, names in re.findall(r"^\s*from (zoo_core[\w.]*) import (\([^)]*\)|[^\n(]*)$", text, flags=re.M)
                for name in names.strip("()").replace("\n", ",").split(",") if name.strip()]
    assert len(dotted) >= 12 and len(imported) >= 15
    missing = []
    for name in sorted(set(dotted + imported)):
        try:
            resolve_dotted(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == [], f"docs/plugins.md mentions names that do not exist: {missing}"


def real_parameters(target: Any) -> list[tuple[str, Any]]:
    """(name, default or inspect.Parameter.empty) of a function's or a dataclass's parameters."""
    if dataclasses.is_dataclass(target):
        return [(f.name, f.default if f.default is not dataclasses.MISSING else
                 f.default_factory() if f.default_factory is not dataclasses.MISSING else inspect.Parameter.empty)
                for f in dataclasses.fields(target) if f.init]
    return [(p.name, p.default) for p in inspect.signature(target).parameters.values()]


def documented_parameters(arguments: str) -> list[tuple[str, Any]] | None:
    """(name, default) of a signature written as ``a, b=1, *, c=NAME``; None if it is a call, not a signature."""
    try:
        tree = ast.parse(f"def f({arguments}): pass")
    except SyntaxError:
        return None
    args = tree.body[0].args
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    return [(arg.arg, inspect.Parameter.empty if default in (None, inspect.Parameter.empty) else
             getattr(zoo_core.export, default.id) if isinstance(default, ast.Name) else ast.literal_eval(default))
            for arg, default in pairs]


def test_the_export_helpers_signatures_in_the_guide_are_the_real_ones() -> None:
    section = guide().split("#### The helpers", 1)[1].split("A run's exporters all run", 1)[0]
    checked = []
    for name, arguments in re.findall(r"`(\w+)\(([^`]*)\)`", section):
        documented = documented_parameters(arguments.replace("\n", " "))
        if name not in zoo_core.export.__all__ or documented is None:
            continue
        real = real_parameters(getattr(zoo_core.export, name))
        assert documented == real, f"docs/plugins.md gives {name}({arguments}), the code has {real}"
        checked.append(name)
    assert {"staged", "next_free_path", "compare_with_keras", "compare_probabilities", "keras_probabilities",
            "verification_slice", "failed_thresholds", "verification_error", "artifact_metadata",
            "ExportResult"} <= set(checked)


def test_numpy_renames_a_tmp_path_as_the_guide_warns(tmp_path: Path) -> None:
    import numpy as np

    temporary = zoo_core.export.temporary_beside(tmp_path / "model.npz")
    np.savez(temporary, w=np.zeros(2))
    assert not temporary.exists() and temporary.with_name(temporary.name + ".npz").exists()
    with open(temporary, "wb") as handle:  # the guide's way: a handle is written where it is
        np.savez(handle, w=np.zeros(2))
    assert temporary.exists()


# -- the guide's exporter, exactly as written ----------------------------------------------------------


@pytest.fixture
def guide_exporter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The guide's npz exporter written out as a module on sys.path; its factory path."""
    source = code_blocks(guide())["my_plugin/exporters.py"]
    (tmp_path / "guide_npz_exporter.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "guide_npz_exporter:npz_weights"
    sys.modules.pop("guide_npz_exporter", None)


@pytest.mark.slow
def test_the_guide_s_exporter_passes_the_conformance_kit(guide_exporter: str, tmp_path: Path) -> None:
    from zoo_core import Component
    from zoo_core.errors import ConfigError
    from zoo_core.export import ExportContext

    results = zoo_core.testing.assert_conforms("exporter", Component("npz-weights", guide_exporter))
    assert "import_is_light" in [r.check for r in results if r.status == "passed"]
    data = zoo_core.testing.synthetic_dataset()
    context = ExportContext(model=zoo_core.testing.trained_tiny_model(data, epochs=2), dataset=data,
                            destination=tmp_path / "exports", model_name="tiny")
    factory = Component("npz-weights", guide_exporter, kind="exporter").load_factory()
    with pytest.raises(ConfigError, match="max_abs_diff and verify_samples must be 0 or more"):
        factory(context, max_abs_diff=-1.0)
    assert not (tmp_path / "exports").exists()
    result = factory(context, verify_samples=10)
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["tiny.json", "tiny.npz"]
    assert result.size_bytes == (tmp_path / "exports" / "tiny.npz").stat().st_size
    assert result.figures["max_abs_diff"] == 0.0 and result.figures["samples"] == 10
    sidecar = json.loads((tmp_path / "exports" / "tiny.json").read_text(encoding="utf-8"))
    assert sidecar["file"] == "tiny.npz" and sidecar["class_names"] == ["class-0", "class-1", "class-2"]


def test_every_command_is_in_the_readme_s_command_table() -> None:
    from zoo_core.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `zoo ([a-z-]+)", table, flags=re.M))
    commands = {command.name or command.callback.__name__ for command in app.registered_commands}
    assert commands - documented == set(), "README's command table misses these commands"
