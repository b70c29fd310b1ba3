"""Names from files and registries in what zoo writes (issue 27, item 3): Markdown, CSV and the terminal.

A class named ``<img src=x onerror=alert(1)>``, a recipe named with terminal
escapes or starting as a spreadsheet formula: each output writes them as
text of its own format (:mod:`zoo_core.reporting.markdown` for Markdown,
:func:`zoo_core._util.text.csv_cell` for CSV, ``shown`` for the terminal).
The Markdown is checked by rendering it as a viewer would (markdown-it-py, a
dependency of rich) with raw HTML allowed.
"""

from __future__ import annotations

import csv
import io
import tomllib
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from conftest import run_cli
from zoo_core._util.text import csv_cell
from zoo_core.bench.compare import Comparison
from zoo_core.bench.compare_report import comparison_markdown, same_summary
from zoo_core.bench.suite import COLUMNS, BenchResult
from zoo_core.bench.table import bench_csv, bench_markdown
from zoo_core.cli.app import out
from zoo_core.reporting import markdown
from zoo_core.reporting.report import render_report

IMG = "<img src=x onerror=alert(1)>"
IMG_TEXT = "&lt;img src=x onerror=alert(1)&gt;"  # how a viewer's HTML holds it when it is shown as text
SCRIPT = "<script>alert(1)</script>"
ESC = "clear\x1b[2J\x9b31m\u202e"  # ESC, a C1 CSI and a right-to-left override
ESC_SHOWN = "clear\\x1b[2J\\x9b31m\\u202e"
FORMULA = "=cmd|' /C calc'!A0"
MARKUP = "[red]x[/]"
RAW = ("\x1b", "\x9b", "\u202e", "\x07")


def html(text: str) -> str:
    """``text`` rendered as a Markdown viewer does (GitHub-flavoured tables, raw HTML let through)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def no_raw_html(text: str) -> bool:
    """No name became an element: the hostile ``<img src=x ...>``, ``<script>`` or ``<b>`` (plots are ``<img src="...``)."""
    rendered = html(text)
    return "<img src=x" not in rendered and "<script" not in rendered and "<b>" not in rendered


def no_raw_controls(text: str) -> bool:
    return not any(character in text for character in RAW)


# -- the one Markdown helper ---------------------------------------------------------------------


def test_markdown_inline_writes_html_as_text_and_control_characters_as_escapes() -> None:
    assert markdown.inline(f"{IMG} & {ESC}\nnext") == f"{IMG_TEXT} &amp; {ESC_SHOWN} next"
    assert markdown.cell("a|b <b>") == "a\\|b &lt;b&gt;"
    assert markdown.inline("mnist-mlp — 0.98 [bold] ü") == "mnist-mlp — 0.98 [bold] ü"


@pytest.mark.parametrize(("value", "span"), [
    ("mlp-128", "`mlp-128`"),
    ("a`b", "``a`b``"),
    ("`x``", "``` `x`` ```"),
    (f"{SCRIPT}|{ESC}", f"`{SCRIPT}\\|{ESC_SHOWN}`"),  # a code span shows <...> as it is: no entities
    ("", ""),
])
def test_markdown_code_spans_cannot_be_broken_out_of(value: str, span: str) -> None:
    assert markdown.code(value) == span
    if value:
        assert no_raw_html(f"| a |\n|---|\n| {markdown.code(value)} |\n")


# -- report.md of a run ----------------------------------------------------------------------------


def hostile_report() -> str:
    per_class = [{"class": 0, "name": IMG, "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3},
                 {"class": 1, "name": f"{ESC}|{MARKUP}", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}]
    manifest = {
        "run_id": "r-1", "status": "completed", "started": "2026-01-01T00:00:00+00:00",
        "components": [{"kind": "architecture", "name": f"mlp`{SCRIPT}", "component": f"mlp{IMG}",
                        "distribution": "zoo<b>", "version": "1", "params": {"activation": f"{IMG}|x"}}],
        "dataset": {"name": f"faces{IMG}", "num_classes": 2, "class_names": [IMG, ESC], "input_dtype": "float32"},
        "stopped_early": {"epoch": 1, "epochs": 2, "by": f"stop{SCRIPT}", "reason": ESC},
    }
    exports = [{"format": "tflite", "variant": f"int8{IMG}", "path": f"/runs/r-1/exports/{SCRIPT}.tflite",
                "status": "failed", "figures": {}, "message": f"broke on {IMG}"}]
    return render_report(title=f"{FORMULA} — r-1", config_toml="", manifest=manifest,
                         metrics={"accuracy": 0.8, "per_class": per_class, "confusion_matrix": [[3, 0], [1, 1]]},
                         history=[{"epoch": 1, "loss": 0.5}], plots={f"odd{IMG}": f"plots/odd{IMG}.png"},
                         exports=exports)


def test_a_run_report_shows_class_and_component_names_as_text() -> None:
    text = hostile_report()
    rendered = html(text)
    assert no_raw_html(text) and no_raw_controls(text)
    assert f"<td>{IMG_TEXT}</td>" in rendered  # the per-class name, whole in its cell
    assert f"<td>{ESC_SHOWN}|{MARKUP}</td>" in rendered  # the pipe did not split the row
    assert f"<code>mlp`{SCRIPT.replace('<', '&lt;').replace('>', '&gt;')}</code>" in rendered
    assert f"{ESC_SHOWN}|{MARKUP} → {IMG_TEXT} (1)" in rendered  # the confusions line


# -- bench.csv ----------------------------------------------------------------------------------------


def bench_result(*models: str) -> BenchResult:
    rows = []
    for number, model in enumerate(models):
        row: dict[str, Any] = {column: None for column in COLUMNS}
        row.update(model=model, recipe=model, run_id=f"run-{number}", format="tflite", variant="int8", status="ok",
                   check="ok", message="", accuracy=0.5, delta_vs_keras=-0.002, size_bytes=2048, latency_us=12.5,
                   images_per_second=1000.0, params=10, macs=100, argmax_agreement=1.0, max_abs_diff=float("nan"),
                   reused=True, path=f"/runs/run-{number}/exports/m.tflite")
        rows.append(row)
    skipped = [{"model": models[0], "exporter": f"onnx{IMG}", "reason": f"no runtime for {SCRIPT}"}]
    return BenchResult(rows, skipped, created="2026-01-01T00:00:00Z", machine={"machine": "x86_64"}, repeat=3)


def test_csv_cell_guards_formulas_and_control_characters_and_keeps_numbers() -> None:
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "  =1"):
        assert str(csv_cell(formula)).startswith("'"), formula
    assert csv_cell(ESC) == ESC_SHOWN and csv_cell("a\nb") == "a\\nb"
    assert csv_cell("mnist-mlp") == "mnist-mlp"
    assert csv_cell(-0.002) == -0.002 and csv_cell(7) == 7 and csv_cell(True) is True
    assert csv_cell(None) == "" and csv_cell(float("nan")) == "" and csv_cell(float("-inf")) == ""


def test_bench_csv_cells_never_start_a_formula_nor_carry_control_characters() -> None:
    text = bench_csv(bench_result(FORMULA, ESC, "-1", "@SUM(A1)", "+x"))
    assert no_raw_controls(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["model"] for row in rows] == [f"'{FORMULA}", ESC_SHOWN, "'-1", "'@SUM(A1)", "'+x"]
    assert all(not row[column].startswith(("=", "+", "-", "@")) for row in rows for column in COLUMNS
               if column != "delta_vs_keras")
    assert [float(row["delta_vs_keras"]) for row in rows] == [-0.002] * 5  # numbers stay numbers
    assert rows[0]["accuracy"] == "0.5" and rows[0]["params"] == "10" and rows[0]["max_abs_diff"] == ""


# -- bench.md and compare.md ----------------------------------------------------------------------------


def test_bench_md_shows_recipe_names_as_text() -> None:
    text = bench_markdown(bench_result(ESC, IMG, FORMULA))
    assert no_raw_controls(text) and no_raw_html(text)
    rendered = html(text)
    assert f"<td>{ESC_SHOWN}</td>" in rendered and f"<td>{IMG_TEXT}</td>" in rendered
    assert "<td>=cmd|' /C calc'!A0</td>" in rendered


def hostile_comparison() -> Comparison:
    runs = [{"label": label, "id": f"run-{n}", "recipe": label, "status": "completed", "started": "2026"}
            for n, label in enumerate((ESC, IMG))]
    return Comparison(runs, differ=[("architecture", [f"mlp{SCRIPT}", "cnn|wide"])], same=[("dataset", IMG)],
                      metrics=[(f"F1 class {IMG}", ["0.5000", "0.6000"])])


def test_compare_md_shows_recipe_names_and_values_as_text() -> None:
    text = comparison_markdown(hostile_comparison())
    assert no_raw_controls(text) and no_raw_html(text)
    rendered = html(text)
    assert f"<th>{ESC_SHOWN}</th>" in rendered and f"<th>{IMG_TEXT}</th>" in rendered
    assert "<td>cnn|wide</td>" in rendered and f"settings are the same in every run: dataset = {IMG_TEXT}" in rendered


def test_the_terminal_s_summary_of_identical_settings_is_plain_text() -> None:
    assert same_summary(hostile_comparison()) == f"1 settings are the same in every run: dataset = {IMG}"


# -- a sweep's report.md and best.toml --------------------------------------------------------------


#: A sweep name no registry accepts any more (one plain folder name: tests/test_sweep_definitions.py), as a
#: sweep built in Python may still carry it into the report's text.
HOSTILE_SWEEP_NAME = f"sw\x1b[2J\n[dataset]\ncomponent = \"evil\"{IMG}"


def hostile_sweep(tmp_path: Path, name: str = HOSTILE_SWEEP_NAME) -> tuple[Any, Any, Path]:
    optuna = pytest.importorskip("optuna")
    from zoo_core.sweeps.definition import Choice, Sweep

    choices = (IMG, f"relu{SCRIPT}")
    sweep = Sweep(name=name, recipe=f"rec`{IMG}",
                  space={"architecture.activation": Choice(choices)}, summary=f"Tries {SCRIPT}", metric="accuracy")
    study = optuna.create_study(direction="maximize")
    distributions = {"architecture.activation": optuna.distributions.CategoricalDistribution(choices)}
    study.add_trial(optuna.trial.create_trial(params={"architecture.activation": IMG}, distributions=distributions,
                                              value=0.9, user_attrs={"run": "run-1"}))
    study.add_trial(optuna.trial.create_trial(params={"architecture.activation": choices[1]},
                                              distributions=distributions, state=optuna.trial.TrialState.FAIL,
                                              user_attrs={"run": "run-2", "error": f"boom {ESC} | {SCRIPT}"}))
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-1" / "config.toml").write_text('recipe = "x"\nepochs = 1\n', encoding="utf-8")
    return sweep, study, tmp_path


def test_a_sweep_report_shows_names_values_and_errors_as_text(tmp_path: Path) -> None:
    from zoo_core.sweeps.report import report_markdown

    sweep, study, _ = hostile_sweep(tmp_path)
    text = report_markdown(sweep, study, 2, {"plots": [], "skipped": {"history.png": f"cannot draw {IMG}"}})
    assert no_raw_controls(text) and no_raw_html(text)
    rendered = html(text)
    assert text.splitlines()[0].startswith("# Sweep sw\\x1b[2J [dataset]")  # one heading line
    assert f"<td>boom {ESC_SHOWN} | {SCRIPT.replace('<', '&lt;').replace('>', '&gt;')}</td>" in rendered


def test_best_toml_names_the_sweep_in_comments_only(tmp_path: Path) -> None:
    from zoo_core.sweeps.report import write_report

    sweep, study, root = hostile_sweep(tmp_path, name="sw")  # a report's folder is named by a plain name only
    written = write_report(sweep, study, root, 2)
    text = written["best"].read_text(encoding="utf-8")
    assert no_raw_controls(text)
    assert tomllib.loads(text) == {"recipe": "x", "epochs": 1}  # the name's line break added no table
    assert [line for line in text.splitlines() if line.startswith("#")] == text.splitlines()[:2]


# -- the terminal ----------------------------------------------------------------------------------------


def printed(render: Any, *args: Any) -> str:
    with out.capture() as captured:
        render(*args)
    return captured.get()


def test_bench_and_compare_tables_print_names_literally() -> None:
    from zoo_core.cli.bench_commands import _render_bench, _side_by_side

    text = printed(_render_bench, bench_result(f"{MARKUP}{ESC}", "[/]"))
    assert f"{MARKUP}{ESC_SHOWN}" in text and "[/]" in text and no_raw_controls(text)
    table = _side_by_side("metrics", "metric", [MARKUP, ESC], [(f"F1 class {MARKUP}", ["[/]", "1"])])
    text = printed(out.print, table)
    assert MARKUP in text and ESC_SHOWN in text and "F1 class [red]x[/]" in text and no_raw_controls(text)


def test_a_sweep_s_final_table_prints_names_literally(tmp_path: Path) -> None:
    from zoo_core.cli.sweep_commands import _render_end

    sweep, study, root = hostile_sweep(tmp_path)
    text = printed(_render_end, sweep, study, {"folder": root / "sw", "best": None}, 2)
    assert f"boom {ESC_SHOWN} | {SCRIPT}" in text and no_raw_controls(text)


def test_zoo_list_prints_a_pattern_that_matches_nothing_literally() -> None:
    for pattern in ("[/]zz", "[bold red]zz"):
        result = run_cli("list", pattern)
        assert result.exit_code == 0, result.output
        assert f"nothing matches '{pattern}'" in result.stdout


# -- end to end: a table whose labels and recipe name are hostile -----------------------------------------

LABELS = (IMG, FORMULA, f"{MARKUP}{ESC}")
RECIPE = "=cmd|' /C calc'!A0 \\u001b[2J<b>"  # as registry.toml writes it: \u001b is ESC


@pytest.mark.slow
def test_a_run_and_a_comparison_of_hostile_names_write_them_as_text(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},\"{LABELS[i % 3]}\"" for i in range(90)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "registry.toml").write_text(
        f'[runs."{RECIPE}"]\ndataset = {{ component = "csv", path = "t.csv", label = "label", delimiter = "," }}\n'
        'architecture = { component = "mlp", hidden = [4], dropout = 0.0 }\noptimizer = "adam"\n'
        'loss = "sparse-categorical-crossentropy"\nexporters = []\nepochs = 1\nbatch_size = 16\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    recipe = tomllib.loads((tmp_path / "registry.toml").read_text(encoding="utf-8"))["runs"].popitem()[0]
    runs = []
    for seed in (1, 2):
        result = run_cli("run", recipe, "--runs-dir", "runs", "--set", f"seed={seed}", "--quiet")
        assert result.exit_code == 0, result.output
        assert no_raw_controls(result.stdout)
        runs.append(next(p for p in (tmp_path / "runs").iterdir() if p.name not in runs).name)
    report = (tmp_path / "runs" / runs[0] / "report.md").read_text(encoding="utf-8")
    assert no_raw_controls(report) and no_raw_html(report) and f"<td>{IMG_TEXT}</td>" in html(report)
    result = run_cli("compare", *runs, "--runs-dir", "runs", "--out", "compared")
    assert result.exit_code == 0, result.output
    assert no_raw_controls(result.stdout) and "=cmd|' /C calc'!A0 \\x1b[2J<b>" in result.stdout
    compared = (tmp_path / "compared" / "compare.md").read_text(encoding="utf-8")
    assert no_raw_controls(compared) and no_raw_html(compared)
    assert "<td>=cmd|' /C calc'!A0 \\x1b[2J&lt;b&gt;</td>" in html(compared)
