"""manifest.json's ``timings``: contiguous phases from the process start, summing to the run's wall time; report.md
shows them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo_core.reporting.report import render_report
from zoo_core.runs.timings import PhaseClock, process_age

ZOO = str(Path(sys.executable).with_name("zoo"))


def test_laps_follow_each_other_and_add_up() -> None:
    clock = PhaseClock()
    time.sleep(0.05)
    first = clock.lap("data")
    time.sleep(0.02)
    clock.lap("training")
    time.sleep(0.01)
    clock.lap("data")  # a phase met twice adds up
    clock.beside("plots", 1.25)
    record = clock.record()
    assert list(record) == ["data", "training", "total", "beside"]
    assert first >= 0.05 and record["data"] >= 0.06 and record["training"] >= 0.02
    assert record["total"] == pytest.approx(record["data"] + record["training"], abs=0.002)
    assert record["beside"] == {"plots": 1.25}


def test_the_first_phase_can_start_with_the_process() -> None:
    age = process_age()
    if age is None:
        pytest.skip("no /proc here")
    assert 0 < age < 24 * 3600
    clock = PhaseClock(from_process_start=True)
    assert clock.lap("startup") >= age - 0.05  # pytest's own start-up is in it


def test_report_shows_the_phases_with_their_share() -> None:
    timings = {"startup": 2.0, "data": 1.0, "training": 6.0, "export tflite int8": 1.0, "total": 10.0,
               "beside": {"plots": 3.5}}
    text = render_report(title="t", config_toml="", manifest={"timings": timings}, metrics={}, history=[],
                         plots={}, exports=[])
    section = text[text.index("## Time"):]
    assert "| startup | 2.00 | 20 % |" in section
    assert "| training | 6.00 | 60 % |" in section
    assert "| export tflite int8 | 1.00 | 10 % |" in section
    assert "| total | 10.00 | 100 % |" in section
    assert "| plots (in a thread, beside the phases above) | 3.50 |  |" in section


def test_report_without_timings_has_no_phase_table() -> None:
    text = render_report(title="t", config_toml="", manifest={"timings": "garbage"}, metrics={}, history=[],
                         plots={}, exports=[])
    assert "Where the run's seconds went" not in text


@pytest.mark.slow
def test_a_run_records_every_phase_and_they_add_up_to_its_wall_time(tmp_path: Path) -> None:
    command = [ZOO, "run", "mnist-mlp", "--runs-dir", str(tmp_path), "--quiet", "--set", "max_train_samples=2000",
               "--set", "max_test_samples=500", "--set", "epochs=2", "--set", 'exporters=["tflite"]']
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    (run_dir,) = list(tmp_path.iterdir())
    timings = json.loads((run_dir / "manifest.json").read_text())["timings"]
    phases = [name for name in timings if name not in ("total", "beside")]
    assert phases == ["startup", "data", "import tensorflow", "model", "setup", "training", "evaluation", "save model",
                      "export tflite float32", "plots", "report"]
    assert all(timings[name] >= 0 for name in phases) and timings["training"] > 0 and timings["startup"] > 0.1
    assert timings["total"] == pytest.approx(sum(timings[name] for name in phases), abs=0.01)
    # all but the process's exit (and the start of the measuring subprocess call) is in a phase
    assert wall - max(3.0, 0.25 * wall) <= timings["total"] <= wall
    assert timings["beside"]["plots"] > 0
    report = (run_dir / "report.md").read_text()
    assert "Where the run's seconds went" in report and "| training |" in report and "| export tflite float32 |" in report


def test_startup_does_not_count_what_the_process_did_before_it_exec_d_zoo() -> None:
    """A shell that worked 3 s and then exec'd Python keeps its start time: zoo's start-up is still short."""
    probe = "from zoo_core.runs.timings import process_age; print(process_age())"
    shown = subprocess.run(["bash", "-c", f'sleep 3; exec "{sys.executable}" -c "{probe}"'], capture_output=True,
                           text=True, check=True, timeout=60).stdout
    age = float(shown)
    assert 0.0 <= age < 2.9, age  # the interpreter's start-up at most (2 s), never the shell's 3 s before it
