"""Excel workbooks (.xlsx) as a grid of cell texts, keeping nothing the workbook hid.

openpyxl parses the XML through defusedxml (installed with this package), so
entity expansion is refused; the archive's size and compression ratio are
checked before it is opened. Only the chosen sheet is read (the profile's
`sheet`, else the first visible one); hidden rows and columns are skipped,
comments are never read, and a formula is read as the value Excel saved with
it, or rejected when the file holds no saved value.
"""

from __future__ import annotations

import warnings
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .readers import Grid, ReadFailed, unreadable




def cell_text(value: Any) -> str:
    """A cell's value as the text a clerk typed: 1 not 1.0, dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0, 0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def excel_grid(path: Path, file: str, sheet: str | None = None) -> Grid:
    from .safety import UnsafeFile, check_xlsx

    try:
        check_xlsx(path)
    except UnsafeFile as exc:
        raise ReadFailed([exc.problem(file)]) from None
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and data validation it drops
            values = openpyxl.load_workbook(path, data_only=True)
            formulas = openpyxl.load_workbook(path, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise unreadable(file, f"it is not a readable Excel workbook ({type(exc).__name__}); open it in Excel and save it again as .xlsx",
                         "読み込める Excel ブックではありません。Excel で開き、.xlsx として保存し直してください") from None

    visible = [ws.title for ws in values.worksheets if ws.sheet_state == "visible"]
    if sheet is None:
        if not visible:
            raise unreadable(file, "the workbook has no visible sheet", "表示されているシートがありません")
        sheet = visible[0]
    elif sheet not in visible:
        names = "、".join(visible) or "none"
        raise unreadable(file, f"there is no visible sheet named 「{sheet}」 (sheets: {names}); set `sheet` in the source profile",
                         f"「{sheet}」という表示中のシートがありません（シート: {names}）。取込設定の sheet を直してください")
    ws, wf = values[sheet], formulas[sheet]

    hidden_cols = {i for dim in ws.column_dimensions.values() if dim.hidden for i in range(dim.min or 0, (dim.max or 0) + 1)}
    grid: Grid = []
    for row in ws.iter_rows():
        if not row:
            continue
        number = row[0].row
        if ws.row_dimensions[number].hidden:
            continue
        cells: list[str] = []
        for cell in row:
            if cell.column in hidden_cols:
                continue
            formula = wf.cell(row=number, column=cell.column)
            if formula.data_type == "f" and cell.value is None:
                raise unreadable(file, f"cell {formula.coordinate} holds a formula with no saved value; open the workbook in Excel, save it, and try again",
                                 f"セル {formula.coordinate} の数式に保存された値がありません。Excel で開いて保存し直してください", number)
            cells.append(cell_text(cell.value))
        if any(c.strip() for c in cells):
            grid.append((number, cells))
    return grid
