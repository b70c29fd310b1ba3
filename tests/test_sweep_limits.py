"""Issue 27, item 9: a sweep's grid is counted before it is built and refused when too large; ``set`` may not name a
key of the space; ``zoo sweeps`` says "invalid" (with the reason) for every sweep ``zoo sweep`` would refuse."""

from __future__ import annotations

import json
import re
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from conftest import run_cli
from zoo_core.errors import ConfigError
from zoo_core.plugins import Catalog
from zoo_core.registry import load_registry
from zoo_core.sweeps.definition import Range, load_sweep
from zoo_core.sweeps.space import MAX_GRID_POINTS

HUGE = """
[sweeps.huge]
run = "mnist-mlp"
sampler = "grid"
set = {{ epochs = 1 }}
[sweeps.huge.space]
architecture = ["mlp-128-64-10", "mlp"]
batch_size = {{ {batch} }}
"""


def registry_with(catalog: Catalog, folder: Path, text: str):
    (folder / "registry.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_registry(catalog, cwd=folder)


@pytest.mark.parametrize("batch, count", [
    ("low = 1, high = 2147483647", "4,294,967,294 points (2,147,483,647 for batch_size alone)"),
    ("low = 0.0, high = 1.0, step = 1e-9", "2,000,000,002 points (1,000,000,001 for batch_size alone)"),
    ("low = 0.0, high = 1.0, step = 5e-324", "more than can be counted"),
])
def test_a_grid_too_large_is_refused_at_its_line_before_it_is_built(builtin_catalog: Catalog, tmp_path: Path,
                                                                    batch: str, count: str) -> None:
    registry = registry_with(builtin_catalog, tmp_path, HUGE.format(batch=batch))
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as caught:
            load_sweep(registry, "huge")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert "registry.toml:8 [sweeps.huge]: space.batch_size: the grid has " in message, message
    assert count in message and f"more than the limit of {MAX_GRID_POINTS:,}" in message, message
    assert "hint: a larger step for space.batch_size, or sampler = \"tpe\"" in message, message
    assert peak < 50_000_000, peak  # counted, never built


def test_the_grid_count_is_the_length_of_the_grid() -> None:
    for dimension in (Range(0.0, 1.0, step=0.1), Range(0.0, 0.95, step=0.1), Range(1, 10, step=4), Range(1, 10, step=6),
                      Range(16, 128, step=16), Range(3, 3), Range(0.1, 0.7, step=0.2), Range(-1.0, 1.0, step=0.3)):
        assert dimension.grid_count() == len(dimension.grid()), dimension


def test_a_grid_at_the_limit_is_accepted(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = registry_with(builtin_catalog, tmp_path, HUGE.format(batch=f"low = 1, high = {MAX_GRID_POINTS // 2}"))
    assert load_sweep(registry, "huge").grid_size() == MAX_GRID_POINTS


def test_set_may_not_name_a_key_of_the_space(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = registry_with(builtin_catalog, tmp_path, """
        [sweeps.s]
        run = "mnist-mlp"
        set = { epochs = 1, "optimizer.learning_rate" = 0.01 }
        [sweeps.s.space]
        "optimizer.learning_rate" = [0.001, 0.01]
    """)
    with pytest.raises(ConfigError) as caught:
        load_sweep(registry, "s")
    message = str(caught.value)
    assert "registry.toml:4 [sweeps.s]: set.optimizer.learning_rate is also a key of the space" in message, message
    assert 'hint: drop "optimizer.learning_rate" from set' in message


def test_zoo_sweeps_says_invalid_with_the_reason_for_every_sweep_zoo_sweep_refuses(in_tmp_cwd: Path) -> None:
    (in_tmp_cwd / "registry.toml").write_text(textwrap.dedent("""
        [sweeps.no-recipe]
        run = "nosuch"
        [sweeps.no-recipe.space]
        epochs = [1, 2]

        [sweeps.bad-value]
        run = "mnist-mlp"
        [sweeps.bad-value.space]
        epochs = [1, -3]

        [sweeps.huge]
        run = "mnist-mlp"
        sampler = "grid"
        [sweeps.huge.space]
        batch_size = { low = 1, high = 2147483647 }
    """), encoding="utf-8")
    table = run_cli("sweeps")
    assert table.exit_code == 0, table.output
    assert re.search(r"^no-recipe\s+nosuch\s+\S+\s+invalid: .*registry.toml:3.*unknown run 'nosuch'", table.stdout, re.M), \
        table.stdout
    assert re.search(r"^bad-value\s+mnist-mlp\s+\S+\s+invalid: .*space.epochs = -3", table.stdout, re.M), table.stdout
    assert re.search(r"^huge\s+-\s+-\s+invalid: .*the grid has", table.stdout, re.M), table.stdout
    rows = {row["name"]: row for row in json.loads(run_cli("sweeps", "--json").stdout)}
    assert rows["mnist-mlp-search"]["status"] == "not started"  # zoo's own sweeps as before
    rows = {name: row for name, row in rows.items() if name in ("no-recipe", "bad-value", "huge")}
    assert len(rows) == 3 and all(row["status"].startswith("invalid: ") for row in rows.values())
    assert "unknown run 'nosuch'" in rows["no-recipe"]["status"] and rows["no-recipe"]["hint"]
    for name in rows:
        assert run_cli("sweep", name).exit_code == 2  # what the listing says is what the command does


def test_a_sweep_s_plots_leave_matplotlib_s_style_as_it_was(tmp_path: Path) -> None:
    """Optuna's matplotlib plots switch the whole process to the ggplot style; a zoo bench plot drawn after a
    sweep in the same process then lost its colours (found by running tests/test_sweeps.py before test_bench.py)."""
    optuna = pytest.importorskip("optuna")
    import matplotlib

    from zoo_core.sweeps.report import write_plots

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0) ** 2, n_trials=3)
    style = ("axes.prop_cycle", "axes.facecolor", "axes.grid", "grid.color", "font.size")
    before = {key: matplotlib.rcParams[key] for key in style}
    written, skipped = write_plots(study, tmp_path)
    assert written, skipped
    assert {key: matplotlib.rcParams[key] for key in style} == before
