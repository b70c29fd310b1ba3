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


@pytest.mark.slow
def test_the_guide_s_exporter_names_its_format_as_its_component_so_bench_reuses_it(guide_exporter: str,
                                                                                    tmp_path: Path) -> None:
    """zoo bench reuses a run's export only when its format is the exporter's name (issue 27, item 12)."""
    from zoo_core import Component
    from zoo_core.bench.artifacts import matches
    from zoo_core.export import ExportContext
    from zoo_core.registry import ComponentChoice

    component = Component("npz-weights", guide_exporter, kind="exporter")
    data = zoo_core.testing.synthetic_dataset()
    context = ExportContext(model=zoo_core.testing.trained_tiny_model(data, epochs=1), dataset=data,
                            destination=tmp_path / "exports", model_name="tiny")
    result = component.load_factory()(context, verify_samples=10)
    assert result.format == component.name
    choice = ComponentChoice("exporter", "npz-weights", component, component.check_params({}, "test"))
    assert matches(choice, result.to_dict())


def test_the_guide_says_where_heavy_imports_go_and_the_check_before_work_hides_tensorflow_s_lines(
        capfd: pytest.CaptureFixture[str]) -> None:
    """A factory importing keras prints TensorFlow's native start-up lines: the dry run (before every run or
    export) hides them, and the guide says to import after the parameter checks."""
    import os

    from zoo_core import Component
    from zoo_core.registry import ComponentChoice
    from zoo_core.training.parameter_checks import StandIn, dry_run

    assert "import the heavy packages **after the parameter checks**" in guide()
    example = code_blocks(guide())["my_plugin/exporters.py"]
    assert example.index("raise ConfigError") < example.index("import keras")

    def noisy(context: Any, level: int = 1) -> Any:
        """Writes as TensorFlow's C++ start-up does, then starts working.

        Args:
            level: unused.
        """
        os.write(2, b"I0000 00:00:1796461909.361982   16662 port.cc:153] oneDNN custom operations are on.\n")
        return context.model

    component = Component("noisy", noisy, kind="exporter")
    assert dry_run(ComponentChoice("exporter", "noisy", component, {}), StandIn(model_name="m")) is None
    assert "oneDNN" not in capfd.readouterr().err


def test_reliability_md_says_what_resume_set_may_change() -> None:
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    assert "`--set` is refused on a resume" not in text
    from zoo_core.training.resume_changes import RESUMABLE_SETTINGS

    for key in (*RESUMABLE_SETTINGS, "exporters.NAME.PARAMETER"):
        assert f"`{key}`" in text, key


def test_every_command_is_in_the_readme_s_command_table() -> None:
    from zoo_core.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `zoo ([a-z-]+)", table, flags=re.M))
    commands = {command.name or command.callback.__name__ for command in app.registered_commands}
    assert commands - documented == set(), "README's command table misses these commands"


# -- every module, name and file the docs cite exists ------------------------------------------------------

#: Where the packages the docs name live in this repository. A module is found by its file, never imported: a
#: package's __init__ may pull TensorFlow (importlib.util.find_spec of a submodule imports its parents).
PACKAGES = {"zoo_core": ROOT / "zoo_core", "zoo_plugins": ROOT / "plugins" / "zoo_plugins",
            "zoo_digits": ROOT / "examples" / "zoo-digits" / "zoo_digits"}
#: The user guide and the other documents that name zoo's modules and files.
DOCUMENTS = ["README.md", "docs/*.md", "benchmarks/NOTES.md", "examples/zoo-digits/README.md"]
#: Folders of the repository a path in prose may start with (``tests/test_docs.py``). In a code span, a path may
#: also start with a sub-package of zoo_core, as README's "How zoo is built" names them (``registry/overrides.py``).
PATH_ROOTS = ("zoo_core", "plugins", "tests", "benchmarks", "docs", "examples", ".ci")
#: Files the docs name that are the reader's own, not zoo's.
NOT_OURS = {"setup.py"}

DOTTED = re.compile(r"(?<![\w./-])(?:zoo_core|zoo_plugins|zoo_digits)(?:\.[A-Za-z_]\w*)+")
FROM_IMPORT = re.compile(r"^\s*from ((?:zoo_core|zoo_plugins|zoo_digits)[\w.]*) import (\([^)]*\)|[^\n(]*)$", re.M)
PROSE_PATH = re.compile(rf"(?<![\w./~-])(?:{'|'.join(re.escape(root) for root in PATH_ROOTS)})/[\w./*-]*")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
SPHINX_ROLE = re.compile(r":(?:mod|func|class|data|meth|attr|exc):`~?([\w.]+)`")


def module_file(dotted: str) -> Path | None:
    """The source file of a module of zoo's packages (``__init__.py`` for a package), or None."""
    top, *rest = dotted.split(".")
    if top not in PACKAGES:
        return None
    base = PACKAGES[top].joinpath(*rest)
    return next((path for path in (base / "__init__.py", base.with_suffix(".py")) if path.is_file()), None)


def top_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """A module's or class's statements, looking inside ``if`` and ``try`` blocks (not into functions)."""
    for node in body:
        if isinstance(node, (ast.If, ast.Try)):
            yield from top_level_statements(node.body + node.orelse + getattr(node, "finalbody", [])
                                            + [s for handler in getattr(node, "handlers", []) for s in handler.body])
        else:
            yield node


def defines(path: Path, parts: list[str]) -> bool:
    """Whether the module at ``path`` defines ``parts[0]`` (and a class of it ``parts[1]``), read with ast."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    name, rest = parts[0], parts[1:]
    for node in top_level_statements(body):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return not rest or any(name_of(member) == rest[0] for member in top_level_statements(node.body))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return not rest
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and name in names_assigned(node):
            return True
        if isinstance(node, ast.Import) and any((a.asname or a.name.split(".")[0]) == name for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) != name:
                    continue
                source = imported_module(node, path)
                if source is None or source.split(".")[0] not in PACKAGES:
                    return True  # from a third-party module: trust it
                return resolves(".".join([source, alias.name, *rest]))
    return False


def name_of(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return next(iter(names_assigned(node)), None)
    return None


def names_assigned(node: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def imported_module(node: ast.ImportFrom, path: Path) -> str | None:
    """The absolute name of the module a ``from ... import`` in ``path`` reads from."""
    if not node.level:
        return node.module
    top = next((top for top, folder in PACKAGES.items() if folder in path.parents), None)
    if top is None:
        return None
    inside = path.parent.relative_to(PACKAGES[top]).parts
    anchor = [top, *inside][: len(inside) + 2 - node.level]
    return ".".join([*anchor, node.module] if node.module else anchor)


def resolves(dotted: str) -> bool:
    """``zoo_core.a.b.Name.attr``: the longest prefix that is a module, and the rest defined in it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = module_file(".".join(parts[:cut]))
        if path is not None:
            return cut == len(parts) or defines(path, parts[cut:])
    return False


def path_resolves(text: str, document: Path) -> bool:
    """A file or folder of the repository, from its root, the document's folder or zoo_core/; or ``file.py.Name``."""
    for base in (ROOT, document.parent, PACKAGES["zoo_core"]):
        if (base / text).exists() or ("*" in text and any(base.glob(text))):
            return True
        module, _, name = text.rpartition(".")
        if name.isidentifier() and (base / f"{module}.py").is_file():
            return defines(base / f"{module}.py", [name])
    return False


def is_placeholder(path: str) -> bool:
    """``runs/ID/config.toml``, ``RUN/evaluations/<time>.json``: a pattern, not a file (``*`` is globbed)."""
    return any(re.fullmatch(r"[A-Z_]+", part) or set(part) & set("<>{}") for part in path.split("/"))


def references(text: str, document: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, reference, whether it resolves) for each module, name and path the text cites.

    Paths inside fenced code blocks are not checked: there they are the reader's own files (the plugin guide's
    ``tests/test_my_plugin.py``); zoo's modules and names are checked everywhere.
    """
    roots = PATH_ROOTS + tuple(path.name for path in PACKAGES["zoo_core"].iterdir() if path.is_dir())
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        for dotted in DOTTED.findall(line):
            yield number, dotted, resolves(dotted)
        fenced ^= line.lstrip().startswith("```")
        if fenced or line.lstrip().startswith("```"):
            continue
        for path in (path.rstrip(".,:;") for path in PROSE_PATH.findall(line)):
            if not is_placeholder(path):
                yield number, path, path_resolves(path, document)
        for span in CODE_SPAN.findall(line):
            span = span.strip().lstrip("@")
            if re.fullmatch(r"[\w.-]+\.py", span):
                if span not in NOT_OURS:
                    yield number, span, any(ROOT.glob(f"[!.]*/**/{span}")) or (ROOT / span).exists()
            elif re.fullmatch(r"[\w./-]+/[\w./-]*", span) and span.split("/")[0] in roots[len(PATH_ROOTS):]:
                if not is_placeholder(span) and not PROSE_PATH.fullmatch(span):
                    yield number, span, path_resolves(span, document)
        for target in LINK.findall(line):
            if not re.match(r"\w+:", target):
                yield number, target, (document.parent / target).exists()
    for match in FROM_IMPORT.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        for name in match.group(2).strip("()").replace("\n", ",").split(","):
            name = name.split(" as ")[0].strip()
            if name and not name.startswith("#"):
                yield number, f"{match.group(1)}.{name}", resolves(f"{match.group(1)}.{name}")


def docstring_references(path: Path) -> Iterator[tuple[int, str, bool]]:
    """What a zoo_core module's docstring cites: zoo's modules and names, files, Sphinx roles, a package's modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    if not docstring:
        return
    offset = tree.body[0].lineno - 1
    yield from ((offset + number, reference, found) for number, reference, found in references(docstring, path))
    package = ".".join(path.relative_to(ROOT).parent.parts)
    for number, line in enumerate(docstring.splitlines(), start=offset + 1):
        for role in SPHINX_ROLE.findall(line):
            if role.startswith("."):
                yield number, role, resolves(package + role)
        if path.name == "__init__.py":  # "- ``engine``: ..." lists the package's modules
            listed = re.match(r"^- ((?:``\w+``(?:,| and) )*``\w+``):", line)
            for name in re.findall(r"``(\w+)``", listed.group(1)) if listed else []:
                yield number, f"{package}.{name}", module_file(f"{package}.{name}") is not None


def layer_table_references() -> Iterator[tuple[int, str, bool]]:
    """The first column of README's layer table ("How zoo is built") names zoo_core's modules and packages."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.count("\n", 0, text.index("## How zoo is built"))
    section = text.split("## How zoo is built", 1)[1].split("\n## ", 1)[0]
    for number, line in enumerate(section.splitlines(), start=start + 1):
        if line.startswith("| `"):
            for name in re.findall(r"`(\w+)/?`", line.split("|")[1]):
                yield number, f"zoo_core.{name}", module_file(f"zoo_core.{name}") is not None


def cited_references() -> list[tuple[str, int, str, bool]]:
    cited = []
    for pattern in DOCUMENTS:
        for document in sorted(ROOT.glob(pattern)):
            text = document.read_text(encoding="utf-8")
            cited += [(str(document.relative_to(ROOT)), *found) for found in references(text, document)]
    cited += [("README.md", *found) for found in layer_table_references()]
    for path in sorted(PACKAGES["zoo_core"].rglob("*.py")):
        cited += [(str(path.relative_to(ROOT)), *found) for found in docstring_references(path)]
    return cited


def test_every_module_name_and_file_the_docs_cite_exists() -> None:
    """README, docs/, benchmarks/NOTES.md, the example's README and zoo_core's module docstrings name only what is."""
    cited = cited_references()
    assert len(cited) > 150  # the scan sees the references at all
    missing = [f"{document}:{line}: {reference}"
               for document, line, reference in sorted({entry[:3] for entry in cited if not entry[3]})]
    assert not missing, "the docs cite modules, names or files that do not exist:\n" + "\n".join(missing)


def test_the_run_settings_readme_describes_are_settings() -> None:
    from zoo_core.registry import SETTINGS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme.split("\nRun settings: ", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", paragraph)) - {"true", "false"}
    assert len(named) >= 10 and named - set(SETTINGS) == set()
