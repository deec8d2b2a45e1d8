"""Readers: a report file in, a RawReport (title, period, rows keyed by column) out.

Reading is two steps: the file becomes a grid of cells (text: decoded strictly
and split as TSV or CSV), then the grid becomes a report (title line, header
row matched by its text through the source profile, one row per incident).
Problems are returned as data; nothing is printed or raised to the caller
except :class:`ReadFailed`, which carries them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Profile
from .dates import Period, parse_period
from .errors import Problem, ValueProblem

TEXT_SUFFIXES = (".txt", ".tsv", ".csv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
REPORT_SUFFIXES = TEXT_SUFFIXES + EXCEL_SUFFIXES
CORRECTION_MARKS = ("訂正版", "訂正", "修正版")
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RawRow:
    line: int  # where the row starts in the file (1-based)
    cells: dict[str, str]  # profile key -> cell text


@dataclass(frozen=True)
class RawReport:
    file: str  # the name shown in messages and published in `reports`
    sha256: str
    bytes: int
    title: str
    period: Period
    headers: dict[str, str]  # profile key -> the header text as the source wrote it
    rows: tuple[RawRow, ...]
    profile: Profile
    correction: bool = False  # marked 訂正版 in its title or file name: replaces the period's report


class ReadFailed(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message() for p in problems))
        self.problems = problems


Grid = list[tuple[int, list[str]]]  # (row number, cells)


def decode(data: bytes, file: str, encoding: str | None = None) -> str:
    """Strict decoding: the named encoding; else a BOM; else UTF-8; else CP932."""
    if encoding:
        candidates = [encoding]
    elif data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp932"]
    for name in candidates:
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise ReadFailed([Problem("file-unreadable", file, params={"reason": f"unknown encoding {name!r}"})]) from None
    raise ReadFailed([Problem("file-encoding", file)])


def text_grid(text: str) -> Grid:
    """TSV or CSV (quoted cells may hold line breaks) → rows with their first line number."""
    lines = text.splitlines()
    tabbed = sum(1 for line in lines if line.count("\t") >= 2)
    delimiter = "\t" if tabbed else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    grid: Grid = []
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                grid.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise QuotingError(start, str(exc)) from None
    return grid


class QuotingError(Exception):
    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line


_TITLE_PERIOD = re.compile(r"【([^【】]*?月[^【】]*?)】")


def _find_header(grid: Grid, profile: Profile) -> int | None:
    for i, (_, cells) in enumerate(grid):
        keys = {profile.key_for_header(c) for c in cells}
        if sum(1 for k in profile.required if k in keys) >= 3:
            return i
    return None


def parse_grid(grid: Grid, file: str, profile: Profile) -> tuple[str, Period, dict[str, str], list[RawRow]]:
    """Title and period, the header matched by text, and the incident rows."""
    if not grid:
        raise ReadFailed([Problem("file-empty", file)])
    header_at = _find_header(grid, profile)
    if header_at is None:
        expected = "、".join(profile.header_text(k) for k in profile.required)
        raise ReadFailed([Problem("no-header", file, params={"expected": expected})])
    problems: list[Problem] = []
    title, period = "", None
    for row_no, cells in grid[:header_at]:
        text = " ".join(c.strip() for c in cells if c.strip())
        m = _TITLE_PERIOD.search(text)
        if m:
            title = text
            try:
                period = parse_period(m.group(1))
            except ValueProblem as exc:
                problems.append(Problem("bad-period", file, row=row_no, value=m.group(0), params={"reason": exc.reason}))
            break
    if not title and not problems:
        problems.append(Problem("no-title", file))

    header_row, header_cells = grid[header_at]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for pos, cell in enumerate(header_cells):
        key = profile.key_for_header(cell)
        if key is None:
            continue
        if key in positions:
            problems.append(Problem("duplicate-column", file, row=header_row, header=cell.strip()))
        positions[key], headers[key] = pos, cell.strip()
    for key in profile.required:
        if key not in positions:
            problems.append(Problem("missing-column", file, row=header_row, header=profile.header_text(key)))

    rows: list[RawRow] = []
    width = len(header_cells)
    for row_no, cells in grid[header_at + 1 :]:
        while len(cells) > width and not cells[-1].strip():
            cells = cells[:-1]
        if len(cells) > width or len(cells) < max(positions.values(), default=0) + 1:
            problems.append(
                Problem("ragged-row", file, row=row_no, params={"found": str(len(cells)), "expected": str(width)})
            )
            continue
        rows.append(RawRow(row_no, {key: cells[pos] if pos < len(cells) else "" for key, pos in positions.items()}))
    if not rows and not problems:
        problems.append(Problem("no-rows", file, row=header_row))
    if problems:
        raise ReadFailed(problems)
    assert period is not None
    return title, period, headers, rows


def read_report(path: Path, profile: Profile, encoding: str | None = None, name: str | None = None) -> RawReport:
    """Read one report file of any supported form: text (TSV/CSV) or an Excel workbook."""
    file = name or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadFailed([Problem("file-unreadable", file, params={"reason": exc.strerror or str(exc)})]) from None
    if not data.strip():
        raise ReadFailed([Problem("file-empty", file)])
    if len(data) > MAX_FILE_BYTES:
        reason = f"it is {len(data):,} bytes, more than the {MAX_FILE_BYTES:,} a quarterly report may have; split it or check it is the right file"
        raise ReadFailed([Problem("file-unreadable", file, params={"reason": reason})])
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        from .excel import excel_grid

        grid = excel_grid(path, file, profile.sheet)
    elif suffix in TEXT_SUFFIXES:
        if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ReadFailed([Problem("file-unreadable", file, params={"reason": "it is a binary file, not text; save the report as text (.txt/.csv) or Excel (.xlsx)"})])
        try:
            grid = text_grid(decode(data, file, encoding))
        except QuotingError as exc:
            reason = f'a quoted cell starting on this line is not closed properly ({exc}); check the " marks'
            raise ReadFailed([Problem("file-unreadable", file, row=exc.line, params={"reason": reason})]) from None
    else:
        reason = f"{suffix or 'files without an extension'} is not a report form this pipeline reads; use .txt, .tsv, .csv or .xlsx"
        raise ReadFailed([Problem("file-unreadable", file, params={"reason": reason})])
    title, period, headers, rows = parse_grid(grid, file, profile)
    correction = any(mark in title or mark in path.stem for mark in CORRECTION_MARKS)
    return RawReport(file, hashlib.sha256(data).hexdigest(), len(data), title, period, headers, tuple(rows), profile, correction)


def discover(inputs: list[Path]) -> Iterator[tuple[Path, Path]]:
    """(report file, the input it was found under): files named directly, or the report
    files found (sorted, recursively) under folders."""
    for item in inputs:
        if item.is_dir():
            found = item.rglob("*")
            for path in sorted(p for p in found if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES and not p.name.startswith((".", "~$"))):
                yield path, item
        else:
            yield item, item
