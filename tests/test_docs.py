"""The plugin author's guide (docs/plugins.md) stays true: a section per hook,
linked from the README, its minimal plugin installs and works as written, and
the names it gives (kit checks, export helpers) exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

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
                  "safe_mode=True", "inside the factory"):
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
