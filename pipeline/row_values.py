"""One raw row's cells read into its values (RowValues), or what is wrong with them.

`quick` reads a row when nothing is wrong with it (most rows), with no bookkeeping
of problems; `careful` reads it cell by cell and notes every problem, located by
file, line, No and column, for the clerk. normalize.normalize_report takes each
row through one or the other, and columnar.vouch_columns does `quick`'s work for a
whole batch at once in Arrow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .dates import DatesCell, parse_date, parse_dates_cell, parse_occurrence
from .errors import Problem, ValueProblem
from .readers import RawReport, RawRow
from .text import clean_text, hidden_characters, unusual_characters
from .values import Figure, Leak, Office, parse_figures, parse_leak, parse_no, parse_office, parse_phone, split_measures, split_summary

MAX_CELL_CHARS = 10_000
T = TypeVar("T")
_FIELD_OF_COLUMN = {"no": "report_no", "dates": "discovered_on", "occurred": "occurred_on", "discovered": "discovered_on",
                    "category": "category", "office": "division", "summary": "summary", "leak": "personal_data_leaked",
                    "response": "response", "measures": "measure", "phone": "contact_phone"}


def plain_cells(cells: dict[str, str]) -> bool:
    """No cell too long and none with hidden characters: the common case, in one search
    over the cells joined by a tab (not a hidden character)."""
    return max(map(len, cells.values()), default=0) <= MAX_CELL_CHARS and not hidden_characters("\t".join(cells.values()))


@dataclass
class Memo:
    """Each distinct cell parsed once: the cell parsers are pure functions of the text, and
    the reports normalized together repeat their dates, offices, phones and leak cells
    (a national archive, thousands of times). A value or the ValueProblem raised is kept;
    make one per batch of reports, so that it never grows with the archive."""

    results: dict[tuple[Callable[[str], Any], str], Any] = field(default_factory=dict)

    def call(self, parser: Callable[[str], T], text: str) -> T | ValueProblem:
        key = (parser, text)
        try:
            return self.results[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        try:
            found: T | ValueProblem = parser(text)
        except ValueProblem as exc:
            # a fresh one, without traceback or context: their frames hold this Memo, and
            # the cycle would keep a whole batch alive while the collector is paused
            found = ValueProblem(exc.reason, exc.reason_ja)
        self.results[key] = found
        return found


class _Row:
    """Applies normalizers to one raw row, collecting every problem instead of stopping."""

    def __init__(self, report: RawReport, raw: RawRow, memo: Memo) -> None:
        self.report, self.raw, self.profile, self.memo = report, raw, report.profile, memo
        self.no = raw.cells.get("no", "").strip() or None
        self.problems: list[Problem] = []

    def cell(self, key: str) -> str:
        return self.raw.cells.get(key, "")

    def check_cells(self) -> None:
        """Refuse cells with invisible control or bidi-override characters, and oversized cells."""
        cells = self.raw.cells
        if plain_cells(cells):
            return
        for key, text in cells.items():
            fieldname = _FIELD_OF_COLUMN.get(key, key)
            hidden = hidden_characters(text)
            if hidden:
                codes = ", ".join(f"U+{ord(c):04X}" for c in hidden)
                self.problems.append(self.problem("bad-value", key, fieldname, None,
                    reason=f"contains invisible control characters ({codes}) that can hide or reorder text; delete them in the source",
                    reason_ja=f"見えない制御文字 ({codes}) が含まれています。表示を隠したり並べ替えたりできるため、元の表から削除してください"))
            if len(text) > MAX_CELL_CHARS:
                self.problems.append(self.problem("bad-value", key, fieldname, None,
                    reason=f"the cell holds {len(text):,} characters, more than the {MAX_CELL_CHARS:,} a report cell may have",
                    reason_ja=f"セルの文字数 ({len(text):,}) が上限 ({MAX_CELL_CHARS:,}) を超えています"))

    def problem(self, code: str, key: str, fieldname: str, value: str | None, **params: str) -> Problem:
        header = self.report.headers.get(key) or (self.profile.header_text(key) if key in self.profile.columns else None)
        return Problem(code, self.report.file, self.raw.line, self.no, fieldname, header, value, params=params)

    def parse(self, key: str, fieldname: str, parser: Callable[[str], T], required: bool = True,
              part: str | None = None) -> T | None:
        """The cell's value, or None with the problem noted; `part`: parse that part of the cell."""
        text = self.cell(key)
        if not text.strip():
            if required:
                self.problems.append(self.problem("missing-value", key, fieldname, None))
            return None
        found = self.memo.call(parser, text if part is None else part)
        if isinstance(found, ValueProblem):
            self.problems.append(self.problem("bad-value", key, fieldname, text.strip(), reason=found.reason, reason_ja=found.reason_ja))
            return None
        return found

    def text(self, key: str, fieldname: str, required: bool = True) -> str | None:
        value = self.parse(key, fieldname, clean_text, required)
        self.check_characters(key, fieldname, value)
        return value or None

    def check_characters(self, key: str, fieldname: str, value: str | None) -> None:
        """A warning, not an error: the text is published as the source wrote it."""
        odd = self.memo.call(unusual_characters, value or "")
        if odd:
            chars = "、".join(f"{c} (U+{ord(c):04X})" for c in odd)
            found = self.problem("unusual-character", key, fieldname, None, chars=chars)
            self.problems.append(replace(found, severity="warning"))


def _dates(row: _Row) -> tuple[DatesCell | None, str]:
    """The dates from one 発生日 (判明日) cell, or from separate 発生日 and 判明日 columns;
    with the cell(s) as written, kept for readers."""
    if "discovered" not in row.report.headers:
        return row.parse("dates", "discovered_on", parse_dates_cell), row.memo.call(clean_text, row.cell("dates"))  # type: ignore[return-value]
    discovered = row.parse("discovered", "discovered_on", parse_date)
    occurrence = row.parse("occurred", "occurred_on", parse_occurrence, required=False) or (None, None)
    occurred_text, discovered_text = clean_text(row.cell("occurred")), clean_text(row.cell("discovered"))
    written = f"{occurred_text} ({discovered_text})" if occurred_text else f"({discovered_text})"
    return (DatesCell(*occurrence, discovered) if discovered else None), written


@dataclass(frozen=True)
class RowValues:
    """One row's values, every cell read."""

    no: int
    dates: DatesCell
    dates_written: str
    office: Office
    summary: str | None
    leak: Leak
    phone: str | None
    category: str | None
    response: str | None
    measures: list[str]
    figures: list[Figure]


def quick(raw: RawRow, memo: Memo) -> RowValues | None:
    """The row's values when every cell reads and there is nothing to tell the clerk, or
    None: then `careful` reads the row again and says what is wrong. Most rows are fine,
    so most take this path, with no problem bookkeeping (for a 発生日 (判明日) column)."""
    cells = raw.cells
    if not plain_cells(cells):
        return None
    call, get = memo.call, cells.get
    texts = [get("no", ""), get("dates", ""), get("office", ""), get("summary", ""), get("leak", ""), get("category", "")]
    if not all(t.strip() for t in texts):
        return None
    no, dates, office, summary_block, leak = (call(parse, t) for parse, t in zip(_REQUIRED, texts))  # type: ignore[operator]
    phone_text, response_text, measures_text = get("phone", ""), get("response", ""), get("measures", "")
    phone = call(parse_phone, phone_text) if phone_text.strip() else None
    if any(isinstance(v, ValueProblem) for v in (no, dates, office, summary_block, leak, phone)):
        return None
    summary, block = summary_block  # type: ignore[misc]
    figures = call(parse_figures, block) if block is not None else []
    if isinstance(figures, ValueProblem):
        return None
    category = call(clean_text, texts[5]) or None
    response = (call(clean_text, response_text) or None) if response_text.strip() else None
    measures = call(split_measures, measures_text) if measures_text.strip() else []
    if any(call(unusual_characters, text or "") for text in (category, response, summary, *measures)):  # type: ignore[misc]
        return None
    return RowValues(no, dates, call(clean_text, texts[1]), office, summary, leak, phone, category, response, measures, figures)  # type: ignore[arg-type]


_REQUIRED: tuple[Callable[[str], Any], ...] = (parse_no, parse_dates_cell, parse_office, split_summary, parse_leak)


def careful(report: RawReport, raw: RawRow, memo: Memo, seen: dict[int, int]) -> tuple[RowValues | None, list[Problem]]:
    """The row read cell by cell, with every problem; its values unless one is an error.
    `seen`: the report's row numbers (No) so far, and the line of each."""
    row = _Row(report, raw, memo)
    return _careful(row, seen), row.problems


def _careful(row: _Row, seen: dict[int, int]) -> RowValues | None:
    row.check_cells()
    no = row.parse("no", "report_no", parse_no)
    dates, dates_written = _dates(row)
    office = row.parse("office", "division", parse_office)
    summary_text = row.parse("summary", "summary", split_summary)
    leak = row.parse("leak", "personal_data_leaked", parse_leak)
    phone = row.parse("phone", "contact_phone", parse_phone, required=False)
    category = row.text("category", "category")
    response = row.text("response", "response", required=False)
    measures = row.parse("measures", "measure", split_measures, required=False) or []
    summary, block = summary_text if summary_text else (None, None)
    figures = []
    if block is not None:
        figures = row.parse("summary", "figures", parse_figures, part=block) or []
    row.check_characters("summary", "summary", summary)
    for measure in measures:
        row.check_characters("measures", "measure", measure)
    if no is not None:
        if no in seen:
            row.problems.append(row.problem("duplicate-no", "no", "report_no", str(no), other_row=str(seen[no])))
        else:
            seen[no] = row.raw.line
    if any(p.severity == "error" for p in row.problems):
        return None
    assert no is not None and dates is not None and office is not None and leak is not None
    return RowValues(no, dates, dates_written, office, summary, leak, phone, category, response, measures, figures)
