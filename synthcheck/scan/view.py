"""Reading a results file for display and export: filter by conclusion, one page at a time.

Only the rows of the page asked for are materialised (Arrow filters and slices), so a page of
a million-row results file costs what a page of a small one does. Exports stream the file in
batches; CSV cells go through :func:`synthcheck.triage.to_csv` (spreadsheet formulas defused).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from typing import Any

ERROR = "error"  # the filter value for rows that could not be read
EXPORTS = ("csv", "json", "parquet")


DISPLAY = ("path", "conclusion", "conclusion_label", "p_fake", "verdict", "band", "in_domain",
           "domain_reasons", "advisories", "sha256", "error")  # the page's columns


def _table(path: str | os.PathLike, conclusions: Sequence[str] | None,
           columns: Sequence[str] | None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(columns) if columns else None)
    if conclusions is None:
        return table
    wanted = pa.array([c for c in conclusions if c != ERROR], pa.string())
    mask = pc.fill_null(pc.is_in(table["conclusion"], value_set=wanted), False)
    if ERROR in conclusions:
        mask = pc.or_(mask, pc.is_valid(table["error"]))
    return table.filter(mask)


def page(path: str | os.PathLike, conclusions: Sequence[str] | None = None, number: int = 0,
         size: int = 100, columns: Sequence[str] | None = DISPLAY) -> tuple[list[dict[str, Any]], int]:
    """(rows of page ``number``, how many rows match) among rows whose conclusion is in
    ``conclusions`` (``"error"`` for unreadable inputs; None: all); only ``columns`` are read."""
    table = _table(path, conclusions, columns)
    return table.slice(number * size, size).to_pylist(), table.num_rows


def export(path: str | os.PathLike, fmt: str) -> bytes:
    """The whole results file as CSV, JSON (an array of rows) or Parquet bytes."""
    from ..triage import to_csv
    from .writer import ROW_FIELDS, iter_row_batches

    if fmt == "parquet":
        with open(path, "rb") as fh:
            return fh.read()
    buf = io.StringIO()
    if fmt == "csv":
        buf.write(to_csv([], ROW_FIELDS))
        for rows in iter_row_batches(path):
            buf.write(to_csv(rows, ROW_FIELDS).split("\n", 1)[1])
    else:
        sep = "["
        for rows in iter_row_batches(path):
            for r in rows:
                buf.write(sep + "\n" + json.dumps(r, ensure_ascii=False))
                sep = ","
        buf.write("[\n]\n" if sep == "[" else "\n]\n")
    return buf.getvalue().encode("utf-8")
