"""A registry written for one set of plugins, read with another (issue 27, item 6).

A preset written for zoo-fixture-good's ``fixture-tiny`` (parameters size and
noise) sets ``noise``. Once zoo-fixture-good is uninstalled and a loose plugin
file registers another ``fixture-tiny`` (parameter size only), the bare name
binds to that one and the parameter no longer fits. That is a plugin change,
not a mistake in the file: only the entries that hold the parameter become
unavailable, with the reason in ``zoo list`` and as the error when they are
used; every other command works, ``zoo run mnist-mlp`` included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import run_cli
from zoo_core.errors import ParameterMismatchError, ZooError
from zoo_core.plugins import load_catalog
from zoo_core.registry import load_registry

REGISTRY = """
[datasets.tiny-noisy]
summary = "fixture-good's tiny dataset, noisier"
component = "fixture-tiny"
noise = 0.3

[runs.tiny-run]
dataset = "tiny-noisy"
architecture = "mlp"
optimizer = "keras-optimizers:adam"
loss = "keras-losses:sparse-categorical-crossentropy"

[runs.tiny-inline]
architecture = "mlp"
optimizer = "keras-optimizers:adam"
loss = "keras-losses:sparse-categorical-crossentropy"
dataset = { component = "fixture-tiny", noise = 0.3 }
"""

OTHER_TINY = '''
from zoo_core import Component, hookimpl


def tiny(size: int = 8):
    """Another plugin's tiny dataset.

    Args:
        size: examples per class.
    """
    raise NotImplementedError


@hookimpl
def register_datasets():
    return [Component("fixture-tiny", tiny)]
'''

OWNER = "('fixture-tiny' is a dataset of plugin 'other_tiny' (plugins dir))"
MISMATCH = f"dataset 'fixture-tiny' has no parameter 'noise' {OWNER}"


@pytest.fixture
def other_plugin(tmp_path: Path) -> Path:
    """A plugins dir whose one file registers another ``fixture-tiny``."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "other_tiny.py").write_text(OTHER_TINY, encoding="utf-8")
    return folder


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_registry_works_with_the_plugin_it_was_written_for(
        use_plugins: Callable[..., list[Path]], in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-good")
    (in_tmp_cwd / "registry.toml").write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(load_catalog(warn=lambda line: None), cwd=in_tmp_cwd)
    assert registry.run("tiny-run").dataset.params == {"size": 8, "noise": 0.3}
    assert registry.run("tiny-inline").dataset.params == {"size": 8, "noise": 0.3}


def test_parameters_for_an_uninstalled_plugins_component_make_only_their_entries_unavailable(
        other_plugin: Path, in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry_file = in_tmp_cwd / "registry.toml"
    registry_file.write_text(REGISTRY, encoding="utf-8")
    listing = run_cli("--plugins-dir", str(other_plugin), "list", "--json")
    assert listing.exit_code == 0, listing.output
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["tiny-noisy"]["unavailable"] == MISMATCH
    assert rows["tiny-inline"]["unavailable"] == MISMATCH
    assert rows["tiny-run"]["unavailable"] == f"preset 'tiny-noisy' (registry.toml:2): {MISMATCH}"
    assert rows["mnist-mlp"]["unavailable"] == "" and rows["fixture-tiny"].get("unavailable", "") == ""
    text = run_cli("--plugins-dir", str(other_plugin), "list")
    assert text.exit_code == 0 and "unavailable: dataset 'fixture-tiny' has no parameter 'noise'" in flat(text.stdout)

    for command, line in ((["show", "tiny-noisy"], f"{registry_file}:5 [datasets.tiny-noisy]"),
                          (["run", "tiny-run"], f"{registry_file}:2 [datasets.tiny-noisy]"),
                          (["run", "tiny-inline"], f"{registry_file}:17 [runs.tiny-inline]")):
        result = run_cli("--plugins-dir", str(other_plugin), *command)
        assert result.exit_code == 2, (command, result.output)
        message = flat(result.stderr)
        assert message.startswith(f"error: {line}: {MISMATCH}"), (command, message)
        assert "hint: parameters: size; if it was written for another plugin's 'fixture-tiny', install that " \
               "plugin again (its plugin:name picks it), or fit the parameters to plugin 'other_tiny'" in message
        assert "Traceback" not in result.output and "internal error" not in result.output

    assert run_cli("--plugins-dir", str(other_plugin), "show", "mnist-mlp").exit_code == 0
    reached: list[Any] = []

    def train(config: Any, *args: Any, **kwargs: Any) -> None:  # `zoo run mnist-mlp` gets as far as training
        reached.append(config.recipe)
        raise ZooError("stopped before training")

    monkeypatch.setattr("zoo_core.training.train", train)
    result = run_cli("--plugins-dir", str(other_plugin), "run", "mnist-mlp")
    assert (result.exit_code, reached) == (2, ["mnist-mlp"]), result.output
    fitted = run_cli("--plugins-dir", str(other_plugin), "run", "tiny-run", "--set", "dataset=fixture-tiny")
    assert reached == ["mnist-mlp", "tiny-run"], fitted.output  # the entry works with the part replaced


def test_a_mismatch_is_the_same_error_in_python(other_plugin: Path, in_tmp_cwd: Path) -> None:
    (in_tmp_cwd / "registry.toml").write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(load_catalog(plugins_dir=other_plugin, warn=lambda line: None), cwd=in_tmp_cwd)
    for use in (lambda: registry.run("tiny-run"), lambda: registry.resolve_preset("dataset", "tiny-noisy"),
                lambda: registry.run("mnist-mlp", ["dataset=tiny-noisy"])):
        with pytest.raises(ParameterMismatchError, match="has no parameter 'noise'"):
            use()
    assert "tiny-noisy" not in registry.names("dataset")


def test_a_wrong_parameter_of_zoos_own_component_stays_fatal(other_plugin: Path, in_tmp_cwd: Path) -> None:
    (in_tmp_cwd / "registry.toml").write_text('[optimizers.fast]\ncomponent = "adam"\nlearning_rat = 0.1\n',
                                              encoding="utf-8")
    result = run_cli("--plugins-dir", str(other_plugin), "list")
    assert result.exit_code == 2
    assert "registry.toml:3 [optimizers.fast]: optimizer 'adam' has no parameter 'learning_rat'" in flat(result.stderr)
