"""CSV exports that Excel opens correctly in French."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.csv_cells import safe_cell


def excel_cell(value: Any) -> str:
    """A cell as French Excel reads it: decimal comma, dd/mm/yyyy, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, Decimal | float):
        return format(value, "f").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return safe_cell(str(value))


def stream_csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """Yield a UTF-8 CSV with BOM, `;`-separated, CRLF line ends, one chunk per 500 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([excel_cell(h) for h in header])
    for index, row in enumerate(rows, 1):
        writer.writerow([excel_cell(v) for v in row])
        if index % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
