"""The quick reading of rows (row_values.quick) for a whole batch of reports at once, column by column.

`row_values.quick` vouches for one row at a time in Python (~50 µs a row). Here the
rows of many reports become Arrow columns: screens (blank, hidden or unusual
characters, odd whitespace, line breaks) and the splitting of the dates,
summary and measures cells run over a whole column in C++, and each distinct
No, date, office, leak cell, phone, category and figures block is parsed once,
by the very functions row_values.py uses. A row is vouched for only when every
screen proves that the Python reading would give the same values; any other row
is left to normalize (row_values.quick, then row_values.careful), so messages
never change. The screens may refuse more rows than `quick` does, never fewer:
the tests compare both on every row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_dates import DatesColumns, dates_columns
from .arrow_reader import ReadCells, blank_texts
from .coded import Coded
from .arrow_figures import parse_blocks
from .dates import DatesCell, parse_date, parse_occurrence
from .errors import ValueProblem
from .config import Municipality
from .normalize import ARROW, Normalized, ValueColumns, normalize_report, records
from .readers import RawReport, RawRow
from .row_values import MAX_CELL_CHARS, Memo, RowValues
from .text import HIDDEN_CHARS, char_class, clean_text, cp932_characters, whitespace
from .values import parse_figures, parse_leak, parse_no, parse_office, parse_phone

REQUIRED = ("no", "dates", "office", "summary", "leak", "category")
FREE_TEXT = ("category", "summary", "response", "measures")  # checked for characters CP932 lacks
SPACED = ("dates", "summary", "response", "measures")  # checked for whitespace other than spaces and tabs


@lru_cache(maxsize=1)
def patterns() -> dict[str, str]:
    """RE2 character classes derived from Python's own definitions, so that they cannot
    drift apart: str.isspace (what strip() and \\s take away), text.HIDDEN_CHARS and
    the CP932 codec (text.cp932_characters). `refused` puts the last three together."""
    return {
        "blank": f"^{char_class(whitespace())}*$",  # what str.strip() leaves empty
        "odd_space": char_class(_odd_spaces()),  # line breaks, U+3000, NBSP ...
        "hidden": char_class(HIDDEN_CHARS),
        "not_cp932": char_class(cp932_characters(), negate=True),  # what text.unusual_characters finds
    }


def _odd_spaces() -> set[str]:
    """Whitespace other than spaces and tabs."""
    return {c for c in whitespace() if c not in " \t"}


@lru_cache(maxsize=4)
def refused(free_text: bool, spaced: bool) -> str:
    """One RE2 class of every character that keeps a column's cell from being vouched for:
    hidden ones in any column, whitespace other than spaces and tabs in the SPACED ones,
    and characters CP932 lacks in FREE_TEXT; so that each column is read once."""
    chars = HIDDEN_CHARS | (_odd_spaces() if spaced else set())
    return char_class(set(cp932_characters()) - chars, negate=True) if free_text else char_class(chars)


_SEPARATOR = "\x1f"  # a control character: a cell holding one is refused by the hidden screen anyway


def _as_arrow(texts: list[str]) -> pa.Array:
    """pa.array(texts), three times faster for long Japanese texts: converting them one by
    one encodes each to UTF-8 on its own; joined, they are encoded once and split by Arrow.
    Converted one by one when a text holds the separator."""
    joined = _SEPARATOR.join(texts)
    if not texts or joined.count(_SEPARATOR) != len(texts) - 1:
        return pa.array(texts, pa.string())
    return pc.list_flatten(pc.split_pattern(pa.array([joined], pa.string()), _SEPARATOR))


def _any_matches(columns: list[pa.Array], pattern: str) -> np.ndarray:
    """Rows where any of the columns matches: one regex pass over them all."""
    return _matches(pa.concat_arrays(columns), pattern).reshape(len(columns), -1).any(axis=0)


def flags(array: pa.Array) -> np.ndarray:
    """A boolean Arrow column as numpy, null as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _filled(column: pa.Array) -> np.ndarray:
    """The cells that are not empty: of at least one byte (counting characters would walk the text)."""
    return flags(pc.greater(pc.binary_length(column), 0))


def _longer_than(column: pa.Array, limit: int) -> np.ndarray:
    """The cells of more than `limit` characters. A character is at least one byte, so only
    the cells of more bytes are counted (Arrow reads a text's byte length off its offsets)."""
    over = pc.binary_length(column).to_numpy() > limit
    if over.any():
        over[over] = pc.utf8_length(column.filter(pa.array(over))).to_numpy() > limit
    return over


def _matches(column: pa.Array, pattern: str) -> np.ndarray:
    return flags(pc.match_substring_regex(column, pattern))


def _distinct(column: pa.Array, parser: Callable[[str], Any], memo: Memo, blank: Any = ...) -> Coded:
    """parser(text) for each row, each distinct text parsed once (a ValueProblem when it
    fails); a text that is all whitespace gives `blank` instead, when one is given."""
    encoded = pc.dictionary_encode(column)
    texts = encoded.dictionary.to_pylist()
    parsed = [blank if blank is not ... and not text.strip() else memo.call(parser, text) for text in texts]
    return Coded.of_codes(parsed, encoded.indices)


_FIGURES_MARK = re.compile("[0-9:０-９：]")  # a bracketed block holds figures only with one of these


def _figures(blocks: pa.Array, memo: Memo) -> Coded:
    """parse_figures of each block that may hold figures, each distinct one once: read in
    Arrow where arrow_figures proves the result, else by parse_figures (a ValueProblem
    where it fails); no figures for any other block (an empty one: no block)."""
    encoded = pc.dictionary_encode(blocks)
    texts = encoded.dictionary.to_pylist()
    parsed = [found if found is not None else memo.call(parse_figures, text) for found, text in zip(parse_blocks(texts), texts)]
    return Coded.of_codes([p if _FIGURES_MARK.search(t) else [] for p, t in zip(parsed, texts)], encoded.indices)


def _failed(values: Coded) -> np.ndarray:
    """The rows whose value is a ValueProblem."""
    return np.fromiter((isinstance(v, ValueProblem) for v in values.values), bool, len(values.values))[values.indices]


_LEADING_BULLET = "^[・･][ \t]*"
_BULLET = "[ \t]+[・･][ \t]*"  # values._BULLET where the only spaces are spaces and tabs


def _split_measures(column: pa.Array) -> pa.ListArray:
    """values.split_measures of each cell, in Arrow, for cells whose only whitespace is
    spaces and tabs (the odd_space screen refuses any other): trimmed, a leading bullet
    dropped, split at each bullet after a space, pieces trimmed, empty ones dropped.
    The leading bullet goes first because a pattern anchored with ^ would match again
    at each split."""
    text = pc.replace_substring_regex(pc.utf8_trim(column, " \t"), _LEADING_BULLET, "", max_replacements=1)
    parts = pc.split_pattern_regex(text, _BULLET)
    pieces = pc.utf8_trim(pc.list_flatten(parts), " \t")
    kept = _filled(pieces)
    owners = pc.list_parent_indices(parts).to_numpy()[kept]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(owners, minlength=len(column)))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pieces.filter(pa.array(kept)))


_DATES = r"(?s)^(?P<occ>.*?)[ \t]*\([ \t]*(?P<disc>[^()]*?)[ \t]*\)$"
# a summary's figures block at its end, with the spaces before it: the earliest place this
# matches is where values.split_summary's body ends. Only the end is matched, so RE2 finds
# it with its DFA and reads the groups of the few characters matched, not of the whole text
_BLOCK = r"[ \t]*[【\[](?P<block>[^【】\[\]]*)[】\]][ \t]*$"
_TRIM = " \t\u3000\r\n"


def _dates(cells: pa.Array, bad: np.ndarray, memo: Memo) -> DatesColumns:
    """The 発生日 (判明日) cells read by arrow_dates.dates_columns; the rows it cannot prove
    are split where normalize would after folding width (only （ ） matter here) and each
    distinct part parsed once. Rows neither way reads are marked in `bad`."""
    dates = dates_columns(cells)
    rest = np.flatnonzero(~dates.ok)
    if not len(rest):
        return dates
    texts = cells.take(pa.array(rest))
    split = pc.extract_regex(pc.utf8_trim(pc.replace_substring(pc.replace_substring(texts, "（", "("), "）", ")"), " \t"), _DATES)
    occurred = _distinct(pc.fill_null(split.field("occ"), ""), parse_occurrence, memo)
    discovered = _distinct(pc.fill_null(split.field("disc"), ""), parse_date, memo)
    failed = ~flags(split.is_valid()) | _failed(occurred) | _failed(discovered)
    bad[rest] |= failed
    good = (~failed).tolist()
    mask = np.zeros(len(cells), bool)
    mask[rest] = True

    def merged(column: pa.Array, values: list[Any]) -> pa.Array:
        return pc.replace_with_mask(column, pa.array(mask), pa.array(values, pa.date32()))

    first, last = ([o[i] if ok else None for o, ok in zip(occurred[:], good)] for i in (0, 1))
    return DatesColumns(merged(dates.occurred_on, first), merged(dates.occurred_until, last),
                        merged(dates.discovered_on, [d if ok else None for d, ok in zip(discovered[:], good)]), dates.ok | mask)


def vouch(rows: Sequence[RawRow], memo: Memo) -> tuple[np.ndarray, ValueColumns]:
    """vouch_columns of rows read by readers.read_report, their cells gathered column by column."""
    keys = sorted({key for row in rows for key in row.cells})
    return vouch_columns({key: _as_arrow([row.cells.get(key, "") for row in rows]) for key in keys}, [row.line for row in rows], memo)


def vouch_columns(cells: dict[str, pa.Array], lines: list[int], memo: Memo) -> tuple[np.ndarray, ValueColumns]:
    """Which rows the screens cannot vouch for, and every row's values column by column
    (what `row_values.quick` gives, wherever the row is vouched for; anything elsewhere).
    `cells`: each profile key's cell in every row (an empty text where a report has no such
    column), of reports with one 発生日 (判明日) column only; `lines`: where each row starts."""
    n = len(lines)
    if n == 0:
        return np.zeros(0, bool), ValueColumns()
    p = patterns()
    empty = blank_texts(n)
    col = {key: cells.get(key, empty) for key in (*REQUIRED, "phone", "response", "measures")}

    screened: dict[tuple[bool, bool], list[pa.Array]] = {}  # the columns by the characters refused in them
    for key, column in cells.items():
        screened.setdefault((key in FREE_TEXT, key in SPACED), []).append(column)
    bad = np.zeros(n, bool)
    for (free_text, spaced), columns in screened.items():
        bad |= _any_matches(columns, refused(free_text, spaced))
    bad |= np.stack([_longer_than(c, MAX_CELL_CHARS) for c in cells.values()]).any(axis=0)
    bad |= _any_matches([col[key] for key in REQUIRED], p["blank"])

    no = _distinct(col["no"], parse_no, memo)
    office = _distinct(col["office"], parse_office, memo)
    leak = _distinct(col["leak"], parse_leak, memo)
    category = _distinct(col["category"], clean_text, memo).map(lambda c: c or None)
    phone = _distinct(col["phone"], parse_phone, memo, blank=None)
    bad |= _failed(no) | _failed(office) | _failed(leak) | _failed(phone)

    dates = _dates(col["dates"], bad, memo)
    no_written = pc.utf8_trim(col["no"], "".join(whitespace()))  # str.strip()

    summary_text = pc.utf8_trim(col["summary"], _TRIM)
    block_split = pc.extract_regex(summary_text, _BLOCK)
    block = pc.fill_null(block_split.field("block"), "")
    has_block = flags(block_split.is_valid()) & _matches(block, _FIGURES_MARK.pattern)
    summary = pc.if_else(pa.array(has_block), pc.replace_substring_regex(summary_text, _BLOCK, ""), summary_text)
    figures = _figures(block, memo)  # a row without a block has the empty one: no figures
    bad |= _failed(figures)

    # blank (all whitespace) where it trims to nothing: the only whitespace left is spaces and tabs
    response = pc.utf8_trim(col["response"], _TRIM)
    response = pc.if_else(pa.array(_filled(response)), response, pa.nulls(n, pa.string()))
    measures = _split_measures(col["measures"])

    return bad, ValueColumns(
        line=list(lines),
        no_written=pc.if_else(pa.array(_filled(no_written)), no_written, pa.nulls(n, pa.string())),
        no=no,
        occurred_on=dates.occurred_on,
        occurred_until=dates.occurred_until,
        discovered_on=dates.discovered_on,
        dates_written=pc.utf8_trim(col["dates"], _TRIM),
        office=office,
        summary=summary,  # the dates and long texts as Arrow, the parsed values Coded
        leak=leak,
        phone=phone,
        category=category,
        response=response,
        measures=measures,
        figures=figures,
    )


def quick_values(rows: Sequence[RawRow], memo: Memo) -> list[RowValues | None]:
    """vouch's verdict row by row: what `row_values.quick` gives, or None."""
    bad, values = vouch(rows, memo)
    return _as_rows(bad, values, 0, len(rows))


def _as_rows(bad: np.ndarray, values: ValueColumns, start: int, stop: int) -> list[RowValues | None]:
    v = _rows(values, start, stop)
    return [None if bad[start + i] else RowValues(
        v.no[i], DatesCell(v.occurred_on[i], v.occurred_until[i], v.discovered_on[i]), v.dates_written[i], v.office[i],
        v.summary[i], v.leak[i], v.phone[i], v.category[i], v.response[i], v.measures[i], v.figures[i],
    ) for i in range(stop - start)]


def _rows(v: ValueColumns, start: int, stop: int) -> ValueColumns:
    """The values of rows start to stop, as Python values: vouch gives the dates and long
    texts of the whole batch as Arrow arrays, which arrow_records takes as they are, and
    only the rows that normalize.py reads are made Python."""
    return ValueColumns(**{name: (values.slice(start, stop - start).to_pylist() if isinstance(values, ARROW) else values[start:stop])
                           for name, values in ((name, getattr(v, name)) for name in ValueColumns.__dataclass_fields__)})


@dataclass(frozen=True)
class BatchValues:
    """A batch read by `read_batch`: for each report, its result and, when every row was
    vouched for, where its rows' values are in `values` (its records are then still to
    be made: normalize.records, or arrow_records for the whole batch at once)."""

    values: ValueColumns
    results: list[Normalized]  # per report: its problems, headers and counts; records only where `vouched` is None
    vouched: list[tuple[int, int] | None]  # per report: (start, stop) of its rows in `values`


def read_batch(reports: Sequence[RawReport], municipalities: Sequence[Municipality], memo: Memo,
               read: ReadCells | None = None) -> BatchValues:
    """Every row of the batch vouched for at once: the cells of the reports arrow_reader read
    (`read`), then the rows of the others. A report whose rows are all vouched for, with no No
    twice, is left for its records to be made column by column; any other is normalized row
    by row (normalize_report), with what was vouched for."""
    spans = read.spans if read is not None else [None] * len(reports)
    columns = dict(read.columns) if read is not None else {}
    lines = [line for report, span in sorted((p for p in zip(reports, spans) if p[1] is not None), key=lambda p: p[1])
             for line in report.lines]
    rows_read = len(lines)  # the rows in `read`'s columns
    own = [r for r, span in zip(reports, spans) if span is None and "discovered" not in r.headers]  # rows of their own
    rows = [row for r in own for row in r.rows]
    if rows:
        keys = sorted({key for row in rows for key in row.cells} | set(columns))
        blank = blank_texts(rows_read)
        columns = {key: pa.concat_arrays([columns.get(key, blank), _as_arrow([row.cells.get(key, "") for row in rows])]) for key in keys}
        lines += [row.line for row in rows]
    bad, values = vouch_columns(columns, lines, memo)
    results: list[Normalized] = []
    vouched: list[tuple[int, int] | None] = []
    at = rows_read
    for report, municipality, span in zip(reports, municipalities, spans):
        if span is None and "discovered" in report.headers:  # arrow_reader leaves such reports to read_report
            results.append(normalize_report(report, municipality, memo))
            vouched.append(None)
            continue
        if span is None:
            span, at = (at, at + len(report.rows)), at + len(report.rows)
        start, stop = span
        if not bad[start:stop].any() and len(set(values.no[start:stop])) == stop - start:
            results.append(Normalized(rows_read=stop - start, headers={report.file: report.headers}))  # shared: pickled once
            vouched.append(span)
        else:
            if not report.rows:  # read by arrow_reader: its rows are wanted after all
                report = replace(report, rows=read.rows_of(report, span))  # type: ignore[union-attr]
            results.append(normalize_report(report, municipality, memo, vouched=_as_rows(bad, values, start, stop)))
            vouched.append(None)
    return BatchValues(values, results, vouched)


def normalize_batch(reports: Sequence[RawReport], municipalities: Sequence[Municipality], memo: Memo) -> list[Normalized]:
    """normalize_report for each report, with every row of the batch vouched for at once
    (read_batch); the records of a report whose rows were all vouched for are made
    column by column."""
    batch = read_batch(reports, municipalities, memo)
    return [result if span is None else records(report, municipality, _rows(batch.values, *span), result)
            for report, municipality, result, span in zip(reports, municipalities, batch.results, batch.vouched)]
