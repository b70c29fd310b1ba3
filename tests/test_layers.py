"""The house rules of zoo_core, checked on the source: no import cycle, modules and functions of a readable size.

The layer order itself is declared as import-linter contracts in pyproject.toml
(``lint-imports``, run by .ci/run); this test adds what those contracts do not
see: a cycle between modules of one layer, counting imports inside functions,
and the size limits of README's "How zoo is built".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "zoo_core"
#: Longest module and function (in lines) in zoo_core/ and plugins/.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The zoo_core modules ``name`` imports anywhere in its source (also inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_zoo_core_counting_imports_inside_functions() -> None:
    known = modules()
    graph = {name: imports_of(name, path, set(known)) for name, path in known.items()}
    assert sum(len(edges) for edges in graph.values()) > 100  # the walk sees the imports at all
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def source_files() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])


@pytest.mark.parametrize("path", source_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_and_functions_stay_readable(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path} has {len(text.splitlines())} lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == [], f"{path}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_layer_contract_names_every_module_of_zoo_core() -> None:
    """A new top-level module or sub-package must take its place in pyproject.toml's layers."""
    from zoo_core._util.toml import read_toml

    table, _ = read_toml(ROOT / "pyproject.toml")
    (layers,) = [c["layers"] for c in table["tool"]["importlinter"]["contracts"] if c["id"] == "layers"]
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    top_level = {f"zoo_core.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    top_level |= {f"zoo_core.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}
    assert top_level == layered


#: The public paths that plugin authors, the docs (docs/plugins.md above all: the plugin author's guide promises
#: them) and the example package use; they keep working when the machinery behind them moves. The hooks of
#: zoo_core.hookspecs are all here (checked below), and so is the entry-point group ``zoo``.
PUBLIC_PATHS = {
    "zoo_core": ["Component", "hookimpl", "Range", "Choice", "__version__"],
    "zoo_core.hookspecs": ["register_datasets", "register_architectures", "register_optimizers", "register_losses",
                           "register_exporters", "register_callbacks", "HOOK_KINDS"],
    "zoo_core.data": ["Dataset", "DatasetInfo", "check_dataset"],
    "zoo_core.errors": ["ConfigError", "DataError", "ExportError"],
    "zoo_core.export": ["ExportContext", "ExportResult", "make_folders", "remove_empty_folders", "next_free_path",
                        "temporary_beside", "move_into_place", "remove_quietly", "verification_slice",
                        "keras_probabilities", "compare_probabilities", "failed_thresholds", "verification_error",
                        "artifact_metadata", "sha256_of", "size_of", "compare_with_keras", "staged"],
    "zoo_core.testing": ["conformance_tests", "assert_conforms", "check_component", "check_plugin",
                         "synthetic_dataset", "CheckResult", "ConformanceError"],
    "zoo_core.predict": ["KerasPredictor", "TFLitePredictor", "SavedModelPredictor", "SAVEDMODEL_METADATA",
                         "TFLITE_METADATA_NAME", "read_tflite_metadata", "load_predictor", "load_input", "top_classes"],
    "zoo_core.runner": ["train", "resume", "evaluate", "export"],
    "zoo_core.training": ["train", "resume", "evaluate", "export", "RunOutcome", "RunInterrupted"],
    "zoo_core.training.callbacks": ["CallbackContext", "RunSummary", "ZooCallback"],
    "zoo_core.training.distribute": ["multi_worker_strategy_class", "KERAS_20585_FIXED_IN"],
    "zoo_core.cli": ["app", "main", "state"],
    "zoo_core.workspace": ["Workspace"],
    "zoo_core.distribute": ["multi_worker_strategy_class", "KERAS_20585_FIXED_IN"],
    "zoo_core.files": ["atomic_path", "write_text_atomic", "write_json_atomic"],
    "zoo_core.plugins": ["load_catalog", "Catalog", "PluginRecord", "ENTRY_POINT_GROUP"],
    "zoo_core.registry": ["load_registry", "Registry", "RunConfig", "ComponentChoice", "SETTINGS"],
}


#: Modules that moved and stay as shims warning with the new path (as timm's do): docs/distributed.md named them.
MOVED_MODULES = {"zoo_core.runner": "zoo_core.training", "zoo_core.distribute": "zoo_core.training.distribute",
                 "zoo_core.training.context": "zoo_core.training.callbacks"}


@pytest.mark.filterwarnings("ignore:zoo_core.(runner|distribute) is deprecated:FutureWarning")
@pytest.mark.parametrize("module", sorted(PUBLIC_PATHS))
def test_public_paths_keep_working(module: str) -> None:
    import importlib

    imported = importlib.import_module(module)
    assert [name for name in PUBLIC_PATHS[module] if not hasattr(imported, name)] == []


def test_every_hook_and_the_entry_point_group_are_public_paths() -> None:
    from zoo_core.hookspecs import HOOK_KINDS
    from zoo_core.plugins import ENTRY_POINT_GROUP

    assert set(HOOK_KINDS) - set(PUBLIC_PATHS["zoo_core.hookspecs"]) == set()
    assert ENTRY_POINT_GROUP == "zoo"


@pytest.mark.filterwarnings("ignore:zoo_core.(runner|distribute) is deprecated:FutureWarning")
def test_the_cli_state_is_a_workspace_and_the_shims_are_the_same_objects() -> None:
    import zoo_core.distribute
    import zoo_core.runner
    from zoo_core import cli, training
    from zoo_core.training import distribute
    from zoo_core.workspace import Workspace

    assert isinstance(cli.state, Workspace) and callable(cli.state.registry)
    assert zoo_core.runner.train is training.train
    assert zoo_core.distribute.multi_worker_strategy_class is distribute.multi_worker_strategy_class


@pytest.mark.parametrize("moved", sorted(MOVED_MODULES))
def test_a_moved_module_warns_naming_its_new_path(moved: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, moved, raising=False)  # imported before: import it afresh, then put it back
    with pytest.warns(FutureWarning, match=f"{moved} is deprecated: import from {MOVED_MODULES[moved]} instead"):
        importlib.import_module(moved)
