"""A batch of text reports read into Arrow columns at once.

`readers.read_report` turns a file into Python rows: every line split, every
row a dict of its cells, and columnar.vouch then gathered the cells column by
column again. Here each file's head (title, period, header) is read by the
very functions read_report uses, on its first lines only, and the rest of
every file of the batch is split into lines and cells by Arrow, each column
taken out of the cells by its position in its file's header.

Only files that read_report would read the same way are taken: text without a
quote (so no cell spans lines), a header among the first lines, nothing wrong
with the head, at least one row, every row as wide as its header allows (none
ragged) and no 判明日 column of its own. Any other file is read by read_report
itself, so its messages never change; the tests compare both readers on every
fixture and on generated files.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import Profile
from .readers import (LINE_END, TEXT_SUFFIXES, Grid, Head, RawReport, RawRow, ReadFailed, check_size, is_correction, is_header,
                      parse_head, read_report, text_and_codec)
from .text import char_class, whitespace

HEAD_LINES = 40  # the lines a header is looked for in; one further down is left to read_report
_TWO_TABS = re.compile("\t[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]*\t")  # a line (as str.splitlines ends them) with two tabs


@dataclass(frozen=True)
class Item:
    """A file to read, as read_report takes it."""

    path: Path
    profile: Profile
    encoding: str | None
    name: str


@dataclass(frozen=True)
class ReadCells:
    """The cells of the rows read here: a column per profile key (an empty text where a
    report has no such column), and for each report of the batch where its rows are in
    the columns, or None when its rows are its own (read by read_report)."""

    columns: dict[str, pa.Array]
    spans: list[tuple[int, int] | None]

    def rows_of(self, report: RawReport, span: tuple[int, int]) -> tuple[RawRow, ...]:
        """The report's rows as read_report gives them: each its cells in header order."""
        start, stop = span
        values = [self.columns[key].slice(start, stop - start).to_pylist() for key in report.headers]
        return tuple(RawRow(line, dict(zip(report.headers, cells))) for line, cells in zip(report.lines, zip(*values)))


@dataclass(frozen=True)
class _Text:
    """A file whose head is read: the rest, its rows, is for Arrow."""

    item: Item
    data: bytes
    head: Head
    delimiter: str
    first_line: int  # the line number of the rest's first line
    rest: bytes  # in UTF-8

    def report(self, lines: list[int]) -> RawReport:
        """The report read, its rows at these lines (their cells are in the batch's columns)."""
        item, head = self.item, self.head
        return RawReport(item.name, hashlib.sha256(self.data).hexdigest(), len(self.data), head.title, head.period, head.headers, (), item.profile,  # type: ignore[arg-type]
                         is_correction(head.title, item.path), path=str(item.path), encoding=item.encoding, lines=tuple(lines))


def read_reports(items: Sequence[Item]) -> tuple[list[RawReport | ReadFailed], ReadCells]:
    """Every file read (or why it could not be), in order, and the cells of the reports
    read here. A report read here has `lines` and no `rows` (ReadCells.rows_of gives them)."""
    heads = [_head(item) for item in items]
    read: list[RawReport | ReadFailed | None] = [None] * len(items)
    columns: list[tuple[dict[str, pa.Array], int]] = []  # each delimiter's cells, and how many rows they are
    spans: list[tuple[int, int] | None] = [None] * len(items)
    at = 0
    for delimiter in ("\t", ","):
        chosen = [i for i, h in enumerate(heads) if isinstance(h, _Text) and h.delimiter == delimiter]
        if not chosen:
            continue
        cells, lines, refused = _split([heads[i] for i in chosen], delimiter)  # type: ignore[misc]
        first = at
        for i, own_lines, refuse in zip(chosen, lines, refused):
            if not refuse:  # else read_report says what is wrong with it
                read[i] = heads[i].report(own_lines)  # type: ignore[union-attr]
                spans[i], at = (at, at + len(own_lines)), at + len(own_lines)
        columns.append((cells, at - first))
    keys = sorted({key for cells, _ in columns for key in cells})
    joined = {key: pa.concat_arrays([cells[key] if key in cells else blank_texts(rows) for cells, rows in columns]) for key in keys}
    return [r if r is not None else _read(item, h) for r, item, h in zip(read, items, heads)], ReadCells(joined, spans)


def _read(item: Item, head: _Text | bytes | None) -> RawReport | ReadFailed:
    """read_report of the file, with the bytes read for its head (none: it reads them)."""
    data = head if isinstance(head, bytes) else head.data if isinstance(head, _Text) else None
    try:
        return read_report(item.path, item.profile, item.encoding, item.name, data)
    except ReadFailed as failed:
        return failed


def blank_texts(rows: int) -> pa.Array:
    """An empty text for each row: the cells of a column a report does not have."""
    return pa.array([""] * rows, pa.string())


def _head(item: Item) -> _Text | bytes | None:
    """The file's head read as read_report reads it, when the file is one Arrow can read
    the rest of; else what read_report is to read: the file's bytes, or None when they
    were not read."""
    path = item.path
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return None
    try:
        with open(path, "rb", buffering=0) as handle:  # unbuffered: no buffer object, no terminal check (2-3 µs a file)
            data = handle.readall()
    except OSError:
        return None
    try:
        check_size(data, item.name)
        text, codec = text_and_codec(data, item.name, item.encoding)
    except ReadFailed:
        return data
    if '"' in text:
        return data  # quoted cells are the csv module's
    if len(text) > csv.field_size_limit() and max(map(len, text.splitlines())) > csv.field_size_limit():
        return data  # a line that long: text_grid leaves it to the csv module, which refuses it
    delimiter = "\t" if _TWO_TABS.search(text) else ","
    grid, rest = _to_header(text, delimiter, item.profile)
    if rest is None:
        return data
    head = parse_head(grid, len(grid) - 1, item.name, item.profile)
    if head.problems or "discovered" in head.headers:
        return data
    return _Text(item, data, head, delimiter, grid[-1][0] + 1, _rest(data, text, codec, rest))


def _to_header(text: str, delimiter: str, profile: Profile) -> tuple[Grid, int | None]:
    """The rows of the text's first HEAD_LINES lines as text_grid splits them, up to the
    first that find_header takes for the header, and where the line after it begins (None
    when no line is the header). Split off a line at a time: the rows below the header, and
    the rest of the text, are left as they are."""
    grid: Grid = []
    at = 0
    for number in range(1, HEAD_LINES + 1):
        end = LINE_END.search(text, at)
        line = text[at:end.start()] if end else text[at:]
        if line.replace(delimiter, " ").strip():
            grid.append((number, line.split(delimiter)))
            if is_header(grid[-1][1], profile):
                return grid, end.end() if end else len(text)
        if end is None:
            break
        at = end.end()
    return grid, None


def _rest(data: bytes, text: str, codec: str, start: int) -> bytes:
    """The text from character `start` on, in UTF-8: a file's own bytes from there when it
    is in UTF-8 (decoding it whole proved them so; Arrow takes them as they are), else that
    part of the text encoded."""
    name = codecs.lookup(codec).name
    if name not in ("utf-8", "utf-8-sig"):
        return text[start:].encode("utf-8")
    bom = len(codecs.BOM_UTF8) if name == "utf-8-sig" and data.startswith(codecs.BOM_UTF8) else 0
    return data[bom + len(text[:start].encode("utf-8")):]


def _utf8_texts(texts: list[bytes]) -> pa.Array:
    """Texts in UTF-8 (checked already) as an Arrow text column, their bytes copied once: a
    batch's texts come to a few MB (process.BATCH_BYTES, plus at most one large file),
    well within the 2 GB that 32-bit offsets reach."""
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(texts), [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(texts))])


@lru_cache(maxsize=2)
def _blank_line(delimiter: str) -> str:
    """A line that `line.replace(delimiter, " ").strip()` leaves empty."""
    return f"^{char_class((*whitespace(), delimiter))}*$"


def _split(texts: list[_Text], delimiter: str) -> tuple[dict[str, pa.Array], list[list[int]], list[bool]]:
    """The rows of the files (all with this delimiter): a column per key, each file's row
    line numbers, and which files Arrow cannot read as read_report does (no row, or a
    ragged one); their rows are left out of the columns."""
    # a CRLF (as Windows ends lines) made LF: the same lines split by "\n" alone, five times
    # quicker than by LINE_END, which splits the texts as they are when a CR is left (a lone
    # CR, or the one of "\r\r\n", whose CRLF made LF would no longer end a line of its own)
    rests = [t.rest.replace(b"\r\n", b"\n") if b"\r" in t.rest else t.rest for t in texts]
    breaks = any(b"\r" in rest for rest in rests)
    if breaks:
        rests = [t.rest for t in texts]
    lines = pc.split_pattern_regex(_utf8_texts(rests), LINE_END.pattern) if breaks else pc.split_pattern(_utf8_texts(rests), "\n")
    counts = pc.list_value_length(lines).to_numpy()
    file_of = np.repeat(np.arange(len(texts)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    number = np.asarray([t.first_line for t in texts], np.int64)[file_of] + np.arange(len(file_of)) - starts[file_of]
    flat = pc.list_flatten(lines)
    kept = ~np.asarray(pc.match_substring_regex(flat, _blank_line(delimiter)).to_numpy(zero_copy_only=False), bool)
    cells = pc.split_pattern(flat.filter(pa.array(kept)), delimiter)
    file_of, number = file_of[kept], number[kept]
    width = pc.list_value_length(cells).to_numpy()
    needed = np.asarray([max(t.head.positions.values()) + 1 for t in texts], np.int64)
    widest = np.asarray([t.head.width for t in texts], np.int64)
    ragged = np.bincount(file_of[(width < needed[file_of]) | (width > widest[file_of])], minlength=len(texts)) > 0
    rows = np.bincount(file_of, minlength=len(texts))
    refused = ragged | (rows == 0)
    taken = ~refused[file_of]
    if not taken.all():
        cells, file_of, number, width = cells.filter(pa.array(taken)), file_of[taken], number[taken], width[taken]
    first_cell = np.concatenate([[0], np.cumsum(width)[:-1]]).astype(np.int64)
    values = pc.list_flatten(cells)
    keys = sorted({key for t in texts for key in t.head.positions})
    where = np.asarray([[t.head.positions.get(key, -1) for key in keys] for t in texts], np.int64).reshape(len(texts), len(keys))
    columns = {}
    for k, key in enumerate(keys):
        position = where[file_of, k]
        missing = position < 0
        taken_cells = values.take(pa.array(first_cell + position, mask=missing if missing.any() else None))
        columns[key] = pc.fill_null(taken_cells, "") if missing.any() else taken_cells
    bounds = np.concatenate([[0], np.cumsum(np.bincount(file_of, minlength=len(texts)))])
    numbers = number.tolist()
    return columns, [numbers[bounds[i]:bounds[i + 1]] for i in range(len(texts))], refused.tolist()
