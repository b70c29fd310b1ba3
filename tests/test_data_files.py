"""Odd data files against the csv and image-folder datasets (issue 27, item 8).

A CSV parsed by the csv module over the file itself (quoted values over
several lines, U+2028 in a value, physical line numbers, a cell over the
field limit, a quote never closed); paths that are link loops, FIFOs or links
to a class folder's parent; a FIFO among the images (never opened: no hang),
loading that stops at once on SIGTERM; and warnings that stay one short line
for 5,000 columns. Every file is made here, in tmp_path; nothing trains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_zoo, subprocess_env
from zoo_core.errors import DataError
from zoo_plugins.datasets.csv import csv_dataset
from zoo_plugins.datasets.image_folder import image_folder

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes (FIFOs) are POSIX")
ROWS = "".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(20))  # x,y,label: 20 rows, classes a and b


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --------------------------------------------------------------------------- CSV: a real parser over the file


def test_a_quoted_label_over_two_lines_is_one_value(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,label\n" + ROWS + '1,2,"Iris\nsetosa"\n3,4,"Iris\nsetosa"\n')
    dataset = csv_dataset(str(path))
    assert dataset.info.class_names == ["Iris\nsetosa", "a", "b"]
    assert len(dataset.x_train) + len(dataset.x_test) == 22


def test_errors_name_the_physical_line_after_values_over_several_lines(tmp_path: Path) -> None:
    text = 'x,y,label\n1,2,a\n3,4,"b\nc"\n5,6,a\n7,8,"x\ny"\n1,2,b\n3,z,a\n'  # 'z' is on line 9
    with pytest.raises(DataError, match=r"t.csv' line 9, column 'y': 'z' is not a number"):
        csv_dataset(str(write(tmp_path, text)))


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x1c"])
def test_a_quoted_line_separator_of_unicode_is_part_of_its_value(tmp_path: Path, separator: str) -> None:
    path = write(tmp_path, f'x,"y{separator}z",label\n' + ROWS)  # str.splitlines() would break the header here
    assert csv_dataset(str(path)).info.feature_names == ["x", f"y{separator}z"]


def test_a_value_over_the_field_limit_names_line_column_limit_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,label\n" + ROWS + '1,"' + "9" * 200_000 + '",a\n')
    with pytest.raises(DataError, match=r"t.csv' line 22, column 2 \('y'\): a value longer than 131,072 "
                                        "characters") as caught:
        csv_dataset(str(path))
    assert "check the quotes on line 22" in caught.value.hint


def test_a_quote_never_closed_is_named_not_read_as_a_class(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,label\n" + ROWS + '1,2,"a\n3,4,b\n5,6,a\n')
    with pytest.raises(DataError, match=r"line 22: a quote mark \(\"\) opens a value that is never closed: it "
                                        r"runs to the end of the file \(line 24\)"):
        csv_dataset(str(path))


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(("x,y,label\n" + ROWS + "1,2,caf\xe9\n").encode("latin-1"))
    with pytest.raises(DataError, match=r"t.csv' line 22 is not UTF-8 text"):
        csv_dataset(str(path))


@needs_fifo
def test_a_csv_path_that_is_a_fifo_or_a_link_loop_is_named_and_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(DataError, match=r"pipe.csv' is a FIFO \(named pipe\), not a CSV file"):
        csv_dataset(str(tmp_path / "pipe.csv"))
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    with pytest.raises(DataError, match=r"loop.csv' is a link loop") as caught:
        csv_dataset(str(tmp_path / "loop.csv"))
    assert "remove it" in caught.value.hint


def test_warnings_and_errors_about_thousands_of_columns_stay_short(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    names = [f"feature_{index:05d}" for index in range(5000)]
    rows = "".join(",".join(["1.5"] * 5000 + ["ab"[i % 2]]) + "\n" for i in range(10))
    path = write(tmp_path, ",".join([*names, "label"]) + "\n" + rows)
    csv_dataset(str(path))
    warning = capsys.readouterr().err
    assert "feature(s) feature_00000, feature_00001, feature_00002, feature_00003, feature_00004 ... (4995 more) " \
           "are constant" in warning
    assert len(warning) < 400
    with pytest.raises(DataError) as caught:
        csv_dataset(str(path), label="lable")
    assert "(4996 more)" in caught.value.message and len(caught.value.message) < 400


def test_a_long_cell_is_quoted_cut_short_in_messages(tmp_path: Path) -> None:
    long = "z" * 50_000  # under the field limit: read, then refused as a feature and as an unknown test label
    with pytest.raises(DataError, match=r"column 'y': 'zzz.*\.\.\. \(50,000 characters\) is not a number") as caught:
        csv_dataset(str(write(tmp_path, "x,y,label\n" + ROWS + f"1,{long},a\n")))
    assert len(caught.value.message) < 400
    train, test = write(tmp_path, "x,y,label\n" + ROWS, "train.csv"), write(tmp_path, f"x,y,label\n1,2,{long}\n", "test.csv")
    with pytest.raises(DataError, match=r"line 2: label 'zzz.*\.\.\. \(50,000 characters\) is not a class") as caught:
        csv_dataset(str(train), test_path=str(test))
    assert len(caught.value.message) < 400


# --------------------------------------------------------------------------- image folders: links and FIFOs


def image_root(tmp_path: Path) -> Path:
    """tmp_path/images/{a,b}/0..5.png: 8x8 grayscale noise."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for index in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "images" / name / f"{index}.png")
    return tmp_path / "images"


def test_a_link_loop_at_the_top_of_an_image_folder_is_named(tmp_path: Path) -> None:
    root = image_root(tmp_path)
    (root / "self").symlink_to("self")
    with pytest.raises(DataError, match=r"images/self' is a link loop"):
        image_folder(str(root))


def test_a_class_folder_linked_to_the_folder_itself_is_a_loop_not_a_class(tmp_path: Path) -> None:
    root = image_root(tmp_path)
    (root / "again").symlink_to(".")
    with pytest.raises(DataError, match=r"class folder '.*again' is a link to .* \(a link loop\)"):
        image_folder(str(root))


def test_an_image_folder_path_that_is_a_link_loop_is_named(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(DataError, match=r"'.*loop' is a link loop"):
        image_folder(str(tmp_path / "loop"))


@needs_fifo
def test_a_fifo_named_like_an_image_is_refused_or_skipped_never_opened(tmp_path: Path) -> None:
    root = image_root(tmp_path)
    os.mkfifo(root / "b" / "3a.png")  # not the first image: read in the thread pool
    started = time.monotonic()
    result = run_zoo("train", "-d", "image-folder", "-a", "mlp", "--set", f"dataset.path={root}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "3a.png' (a FIFO (named pipe), not a regular file)" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert time.monotonic() - started < 30
    dataset = image_folder(str(root), skip_bad=True)
    assert dataset.info.extra["skipped_images"]["count"] == 1
    assert len(dataset.x_train) + len(dataset.x_test) == 12


SLOW_LOADING = """
import sys, time
from pathlib import Path
from PIL import Image
import zoo_plugins.datasets._image_files as files
from zoo_core.training.signals import RunInterrupted, StopRequests

def slow(path):
    time.sleep(0.05)
    return (8, 8)

files.read_header = slow
try:
    with StopRequests("loading the data"):
        print("loading", flush=True)
        files.scan_images([Path(f"{i}.png") for i in range(1200)], None, False, "test")
except RunInterrupted as error:
    print(error, flush=True)
    sys.exit(error.exit_code)
"""


def test_loading_images_stops_at_once_on_sigterm(tmp_path: Path) -> None:
    """The thread pool does not hold the process: the first SIGTERM ends it (1,200 images would take 60 s)."""
    script = tmp_path / "load.py"
    script.write_text(textwrap.dedent(SLOW_LOADING))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               env=subprocess_env())
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "loading"
        time.sleep(1.0)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 143 and "stopped by SIGTERM during loading the data" in output
    assert time.monotonic() - sent < 5


# --------------------------------------------------------------------------- zoo predict on a CSV


def test_predict_names_the_physical_line_and_keeps_long_column_lists_short(tmp_path: Path) -> None:
    from zoo_core.predict.tabular import read_csv_rows

    path = write(tmp_path, 'a,b\n1,2\n"3\n",4\n5,x\n')  # 'x' is on line 5, the fourth row
    with pytest.raises(DataError, match=r"line 5"):
        read_csv_rows(path, 2, ["a", "b"])
    names = [f"feature_{index:05d}" for index in range(5000)]
    path = write(tmp_path, ",".join(f"other_{index}" for index in range(5000)) + "\n" + ",".join(["1"] * 5000) + "\n")
    with pytest.raises(DataError) as caught:
        read_csv_rows(path, 5000, names)
    assert "missing feature_00000, feature_00001, feature_00002, feature_00003, feature_00004 ... (4995 more)" \
        in str(caught.value)
    assert len(caught.value.message) < 400 and len(caught.value.hint or "") < 600
