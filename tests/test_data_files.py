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
from pathlib import Path

import pytest

from zoo_core.errors import DataError
from zoo_plugins.datasets.csv import csv_dataset

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
    assert "(4996 more)" in str(caught.value) and len(str(caught.value)) < 400
