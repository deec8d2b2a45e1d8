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
from operator import itemgetter
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Profile
from .dates import Period, parse_period
from .errors import Problem, ValueProblem

TEXT_SUFFIXES = (".txt", ".tsv", ".csv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
REPORT_SUFFIXES = TEXT_SUFFIXES + EXCEL_SUFFIXES
CORRECTION_MARKS = ("訂正版", "訂正後", "修正版", "(訂正)", "（訂正）")
ORIGINAL_MARKS = ("訂正前", "修正前")  # "before correction": the original, not the correction
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
    ragged: tuple[RawRow, ...] = ()  # rows whose cells do not fit the header (cells keyed #1, #2 …)
    problems: tuple[Problem, ...] = ()  # what is wrong with single rows (the rest of the file is read)
    path: str = ""  # the file read, and the encoding forced on it: to read its cells again
    encoding: str | None = None
    lines: tuple[int, ...] = ()  # where each of `rows` starts, kept when the cells are let go

    def __post_init__(self) -> None:
        if self.rows and not self.lines:
            object.__setattr__(self, "lines", tuple(row.line for row in self.rows))

    @property
    def rows_read(self) -> int:
        return len(self.lines) + len(self.ragged)

    def without_cells(self) -> RawReport:
        """The report without its rows' cells, once they are normalized: they are most of
        what a result weighs, and only --keep-going's rejects file needs them again
        (rows_again reads them back). A report arrow_reader read has none: it is itself."""
        return replace(self, rows=()) if self.rows else self

    def rows_again(self) -> tuple[RawRow, ...]:
        """The rows with their cells: as kept, or read again from the file when it has not
        changed since (else none)."""
        if self.rows or not self.lines:
            return self.rows
        try:
            again = read_report(Path(self.path), self.profile, self.encoding, self.file)
        except ReadFailed:
            return ()
        return again.rows if again.sha256 == self.sha256 else ()


def unreadable(file: str, reason: str, reason_ja: str, row: int | None = None) -> ReadFailed:
    return ReadFailed([Problem("file-unreadable", file, row=row, params={"reason": reason, "reason_ja": reason_ja})])


class ReadFailed(Exception):
    """The file as a whole cannot be read; `rows` counts the data rows it had, if known."""

    def __init__(self, problems: list[Problem], rows: int = 0) -> None:
        super().__init__("; ".join(p.message() for p in problems))
        self.problems = problems
        self.rows = rows


Grid = list[tuple[int, list[str]]]  # (row number, cells)


def decode(data: bytes, file: str, encoding: str | None = None) -> str:
    """Strict decoding: the named encoding; else a BOM; else UTF-8; else CP932."""
    return decoded(data, file, encoding)[0]


def decoded(data: bytes, file: str, encoding: str | None = None) -> tuple[str, str]:
    """decode, and the name of the codec that read the bytes."""
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
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise unreadable(file, f"unknown encoding {name!r}", f"{name!r} という文字コードはありません") from None
    raise ReadFailed([Problem("file-encoding", file)])


def text_grid(text: str) -> Grid:
    """TSV or CSV (quoted cells may hold line breaks) → rows with their first line number."""
    lines = text.splitlines()
    delimiter = "\t" if any(line.count("\t") >= 2 for line in lines) else ","
    if '"' not in text and max(map(len, lines), default=0) <= csv.field_size_limit():
        # no quoting: each line is a row, as csv_grid would read it (which refuses a cell over
        # the csv module's field size limit), only faster
        return [(number, line.split(delimiter)) for number, line in enumerate(LINE_END.split(text), 1)
                if line.replace(delimiter, " ").strip()]
    return csv_grid(text, delimiter)


def csv_grid(text: str, delimiter: str) -> Grid:
    """The rows that are not blank, read by the csv module, with their first line number."""
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


LINE_END = re.compile("\r\n|\r|\n")  # what the csv module takes for the end of a line


class QuotingError(Exception):
    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line


_TITLE_PERIOD = re.compile(r"【([^【】]*?月[^【】]*?)】")


def find_header(grid: Grid, profile: Profile) -> int | None:
    return next((i for i, (_, cells) in enumerate(grid) if is_header(cells, profile)), None)


def is_header(cells: list[str], profile: Profile) -> bool:
    """A row naming at least three of the profile's required columns."""
    keys = {profile.key_for_header(c) for c in cells}
    return sum(1 for k in profile.required if k in keys) >= 3


@dataclass(frozen=True)
class Parsed:
    title: str
    period: Period
    headers: dict[str, str]
    rows: list[RawRow]
    ragged: list[RawRow]
    problems: list[Problem]


@dataclass(frozen=True)
class Head:
    """What comes before a report's rows: its title and period, and where its columns are."""

    title: str
    period: Period | None  # None only with a problem
    headers: dict[str, str]  # profile key -> the header text as written
    positions: dict[str, int]  # profile key -> its cell in a row, in the header's order
    width: int  # cells in the header row
    problems: list[Problem]  # each makes the file unreadable


def parse_head(grid: Grid, header_at: int, file: str, profile: Profile) -> Head:
    """The title and period from the rows above the header, and the header matched by text.
    Only the rows up to the header are read, so a reader may pass the file's first lines."""
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
                problems.append(Problem("bad-period", file, row=row_no, value=m.group(0),
                                        params={"reason": exc.reason, "reason_ja": exc.reason_ja}))
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
    return Head(title, period, headers, positions, len(header_cells), problems)


def parse_grid(grid: Grid, file: str, profile: Profile) -> Parsed:
    """Title and period, the header matched by text, and the incident rows. A file-level
    fault (no title, a missing column) raises ReadFailed; a ragged row is reported alone."""
    if not grid:
        raise ReadFailed([Problem("file-empty", file)])
    header_at = find_header(grid, profile)
    if header_at is None:
        expected = "、".join(profile.header_text(k) for k in profile.required)
        raise ReadFailed([Problem("no-header", file, params={"expected": expected})])
    data_rows = len(grid) - header_at - 1
    head = parse_head(grid, header_at, file, profile)
    problems, positions, headers, period, width = head.problems, head.positions, head.headers, head.period, head.width
    if not data_rows and not problems:
        problems.append(Problem("no-rows", file, row=grid[header_at][0]))
    if problems:
        raise ReadFailed(problems, rows=data_rows)
    assert period is not None

    rows: list[RawRow] = []
    ragged: list[RawRow] = []
    row_problems: list[Problem] = []
    needed = max(positions.values(), default=0) + 1
    keys = list(positions)
    assert len(positions) > 1  # the required columns are there, so itemgetter gives a tuple
    picks = itemgetter(*positions.values())
    for row_no, cells in grid[header_at + 1 :]:
        while len(cells) > width and not cells[-1].strip():
            cells = cells[:-1]
        if len(cells) > width or len(cells) < needed:
            row_problems.append(
                Problem("ragged-row", file, row=row_no, params={"found": str(len(cells)), "expected": str(width)})
            )
            ragged.append(RawRow(row_no, {f"#{i + 1}": cell for i, cell in enumerate(cells)}))
            continue
        rows.append(RawRow(row_no, dict(zip(keys, picks(cells)))))  # every position is there: len(cells) >= needed
    return Parsed(head.title, period, headers, rows, ragged, row_problems)


def read_report(path: Path, profile: Profile, encoding: str | None = None, name: str | None = None,
                data: bytes | None = None) -> RawReport:
    """Read one report file of any supported form: text (TSV/CSV) or an Excel workbook.
    `data`: the file's bytes, when the caller has read them already."""
    file = name or path.name
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise unreadable(file, exc.strerror or str(exc), f"ファイルを開けません ({exc.strerror or exc})") from None
    check_size(data, file)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        from .excel import excel_grid

        grid = excel_grid(path, file, profile.sheet)
    elif suffix in TEXT_SUFFIXES:
        try:
            grid = text_grid(text_of(data, file, encoding))
        except QuotingError as exc:
            reason = f'a quoted cell starting on this line is not closed properly ({exc}); check the " marks'
            raise unreadable(file, reason, "この行から始まる \" で囲まれたセルが正しく閉じられていません。\" の数を確認してください", exc.line) from None
    else:
        reason = f"{suffix or 'files without an extension'} is not a report form this pipeline reads; use .txt, .tsv, .csv or .xlsx"
        raise unreadable(file, reason, f"{suffix or '拡張子のないファイル'} は読める報告の形式ではありません。.txt、.tsv、.csv、.xlsx にしてください")
    parsed = parse_grid(grid, file, profile)
    return RawReport(file, hashlib.sha256(data).hexdigest(), len(data), parsed.title, parsed.period, parsed.headers,
                     tuple(parsed.rows), profile, is_correction(parsed.title, path), tuple(parsed.ragged), tuple(parsed.problems),
                     str(path), encoding)


def check_size(data: bytes, file: str) -> None:
    """Refuse an empty file, or one too large to be a quarterly report (ReadFailed)."""
    if not data or data.isspace():  # what strip() would leave empty, without a copy of the file
        raise ReadFailed([Problem("file-empty", file)])
    if len(data) > MAX_FILE_BYTES:
        reason = f"it is {len(data):,} bytes, more than the {MAX_FILE_BYTES:,} a quarterly report may have; split it or check it is the right file"
        raise unreadable(file, reason, f"{len(data):,} バイトあり、四半期報告の上限 ({MAX_FILE_BYTES:,} バイト) を超えています。正しいファイルか確認してください")


def text_of(data: bytes, file: str, encoding: str | None = None) -> str:
    """A text report's bytes as text; ReadFailed when they are binary or not in any encoding tried (decode)."""
    return text_and_codec(data, file, encoding)[0]


def text_and_codec(data: bytes, file: str, encoding: str | None = None) -> tuple[str, str]:
    """text_of, and the name of the codec that read the bytes."""
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise unreadable(file, "it is a binary file, not text; save the report as text (.txt/.csv) or Excel (.xlsx)",
                         "文字のファイルではありません。報告をテキスト (.txt/.csv) か Excel (.xlsx) で保存してください")
    return decoded(data, file, encoding)


def is_correction(title: str, path: Path) -> bool:
    """Marked 訂正版 in its title or file name (and not 訂正前): it replaces the period's report."""
    marked = f"{title} {path.stem}"
    return any(m in marked for m in CORRECTION_MARKS) and not any(m in marked for m in ORIGINAL_MARKS)
