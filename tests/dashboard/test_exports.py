"""CSV exports open as data in any spreadsheet: no cell runs as a formula, whichever
separator (`,`, `;` or tab) the reader's locale splits on."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.exports import FORMULA_TRIGGERS, csv_cell, csv_lines

# What a hostile name, file name, code or request id from upstream can look like.
HOSTILE = [
    '=HYPERLINK("http://evil","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    "  =1",
    "x;=cmd|' /C calc'!A0",
    "x,=1",
    "x\t=1",
    'x";=1',
    "line\n=1",
    "\uff1d1+1",
]
SEPARATORS = [",", ";", "\t"]
FORMULA_STARTS = FORMULA_TRIGGERS - {"\t", "\r"}


def formula_cells(text: str) -> list[str]:
    """Every cell a spreadsheet would start as a formula, reading `text` with each
    separator."""
    found = []
    for separator in SEPARATORS:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            # Spreadsheets skip a leading tab, CR or space before reading `=`.
            found += [cell for cell in row if cell.lstrip(" \t\r\n")[:1] in FORMULA_STARTS]
    return found


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_cell_reads_back_as_text_with_every_separator(value):
    text = "".join(csv_lines([["before", value, "after"]]))
    assert formula_cells(text) == []
    read_back = next(csv.reader(io.StringIO(text, newline="")))
    assert read_back == ["before", csv_cell(value), "after"]
    assert csv_cell(value).replace("'", "") == value.replace("'", "")  # only marks added


def test_harmless_cells_and_numbers_are_written_as_they_are():
    assert csv_cell("alice") == "alice"
    assert csv_cell("a-b=c") == "a-b=c"  # a trigger inside a word starts nothing
    assert csv_cell("x;=cmd") == "x;'=cmd"
    assert csv_cell("=1") == "'=1"
    assert csv_cell(None) == ""
    assert csv_cell(5) == 5 and csv_cell(2.5) == 2.5
    assert csv_cell(-5) == "'-5"
    assert "".join(csv_lines([["name", 42]])) == '"name",42\r\n'


@given(st.lists(st.lists(st.text() | st.integers(), max_size=6), max_size=5))
def test_no_row_of_any_text_ever_opens_as_a_formula(rows):
    assert formula_cells("".join(csv_lines(rows))) == []
