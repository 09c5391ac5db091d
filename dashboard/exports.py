"""CSV downloads that a spreadsheet opens as data, never as formulas (CSV injection).

Every export writes its rows through `csv_lines`, which treats every text cell as coming
from outside (file names, account names, upstream codes and request ids, what people
typed). A spreadsheet starts a formula wherever a cell begins with `=`, `+`, `-`, `@`,
a tab or CR (or their full-width forms), and where a cell begins depends on the reader:
a `;` locale splits `"a","x;=cmd"` into `a,"x` and `=cmd"`, quotes or not, and a line
break inside a cell can start a new row. So a `'` (which spreadsheets read as "this is
text") goes before every trigger that starts the cell or follows a `,`, `;`, tab or line
break, with only spaces and quotes in between: `x;=cmd` is written `x;'=cmd`.

Numbers (zero or more) are written as numbers; text cells are quoted.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence

FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# Where a reader may start a cell (the text's start, a separator of any locale, a line
# break), then spaces or quotes, then a trigger: the `'` goes before the trigger.
_CELL_STARTS = re.compile('(^|[,;\t\r\n])([ "]*)(?=[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20])')


def csv_cell(value: object) -> str | int | float:
    """One cell: numbers as they are, anything else as neutralised text (a negative
    number too: read with another separator, `-1,x` would start a formula)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return value
    text = "" if value is None else str(value)
    return _CELL_STARTS.sub(lambda m: m.group(1) + m.group(2) + "'", text)


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Each row as one CSV line (text cells quoted and neutralised); streams."""
    writer = csv.writer(_Line(), quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])
