"""Write Arrow tables as CSV, Parquet and JSON, part by part, and describe each file written.

- CSV: UTF-8 with a BOM (so that Excel on Windows opens Japanese text
  correctly), CRLF line ends (RFC 4180), a header row, empty cell for a
  missing value, ``true``/``false``, ISO 8601 dates. A text cell beginning
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a ``'``
  in front (OWASP CSV injection guidance), so that a spreadsheet shows it as
  text instead of running it as a formula; only the CSV is changed.
- Parquet: written by pyarrow with the schema derived from the Table Schema,
  so dates stay dates, integers stay integers with nulls, booleans booleans.
- JSON: an array of objects, one per line, with the same types (dates as
  ``YYYY-MM-DD`` strings, missing values as ``null``).

A package can be larger than memory, so `PackageWriter` takes it in parts (some
whole reports' rows of each table, in final row order) and appends each part to
every file. The CSV and JSON files are byte for byte what one write of all the
rows gives (one BOM, one header, no comma before the first row); the Parquet
file gets a row group per part (more past 1Mi rows), the same bytes for the same parts. A package in
one part is written exactly as a single write of each table always was. Sizes and
sha256 are counted as the bytes go to disk, so no file is read back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .disk_file import DiskFile

FORMATS = ("csv", "parquet", "json")
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}
BOM = b"\xef\xbb\xbf"
FORMULA_START = "^[=+\\-@\t\r]"  # OWASP: a cell beginning with one of these may run as a formula
FORMULA_PREFIX = "'"
# A column's dictionary in a Parquet row group, at most: a column of few values (category,
# department, report_id, a phone) keeps its dictionary, one of texts that seldom repeat (the
# summaries, the ids) gives it up after 64 KB rather than Arrow's 1 MB. Six parts of each of
# a 1M archive's tables: written in 0.47-0.49 CPU-seconds and 13.8 MB, against 0.55-0.65 and
# 16.3 MB (measures 2.0 → 1.1 MB): plain values compress better under zstd than the indices
# into a large dictionary.
PARQUET_DICTIONARY_BYTES = 64 << 10
# rows joined into one buffer at a time: bounds the memory of a large part. About 22 MB of
# incidents: the allocator keeps buffers that size for the next batch, where 100,000 rows'
# (88 MB) went back to the system each time: 0.7 s of page faults for 1M incidents' JSON
JSON_BATCH_ROWS = 25_000


@dataclass(frozen=True)
class WrittenFile:
    table: str
    format: str
    path: str  # relative to the package folder, with forward slashes
    bytes: int
    sha256: str
    rows: int
    neutralised: int = 0  # CSV only: text cells given a ' so that they cannot run as formulas


def sha256_of(path: Path) -> str:
    """A finished file's sha256, read back: for checking a package (the writers hash as they write)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class HashingFile:
    """A binary file open for writing that hashes and counts every byte on its way to disk,
    so that the finished file need not be read again. Arrow's CSV and Parquet writers
    accept it as a Python file object (they call write, flush and look at closed). The
    bytes go past the page cache where the system allows it (disk_file.py)."""

    mode = "wb"

    def __init__(self, path: Path) -> None:
        self._handle = DiskFile(path)
        self._digest = hashlib.sha256()
        self._discarding = False
        self.size = 0

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if not self._discarding:
            self._digest.update(data)  # releases the GIL for all but tiny writes
            self._handle.write(data)
            self.size += size
        return size

    def flush(self) -> None:
        if not self._discarding:
            self._handle.flush()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self._handle.close()

    def discard(self) -> None:
        """Stop writing and close: after a failure, what a writer still sends on its way
        out (a Parquet footer) must not make the broken file look finished."""
        self._discarding = True
        self._handle.discard()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@dataclass
class Sink:
    """One file being written part by part, and what is kept between parts."""

    table: str
    format: str
    path: str  # relative to the package folder, with forward slashes
    schema: pa.Schema
    file: HashingFile
    writer: Any = None  # CSV, Parquet: the Arrow writer kept open across parts (the CSV one wrote the header)
    rows: int = 0  # written so far; JSON puts no comma before the first row
    neutralised: int = 0


def neutralise_formulas(table: pa.Table) -> tuple[pa.Table, int]:
    """Text cells beginning with =, +, -, @, tab or CR prefixed with ' ; how many were."""
    count = 0
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
            hits = pc.sum(risky).as_py() or 0
            if hits:
                column = pc.if_else(risky, pc.binary_join_element_wise(FORMULA_PREFIX, column, ""), column)
                count += hits
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema), count


_JSON_ESCAPES = [("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f")]
_JSON_ESCAPES += [(chr(c), f"\\u{c:04x}") for c in range(0x20) if chr(c) not in "\n\r\t\b\f"]


def _may_need_escapes(column: pa.Array | pa.ChunkedArray) -> bool:
    """Whether a text holds a character JSON escapes (a control character, a quote or a
    backslash): its bytes read by numpy, which is several times quicker than a regex. In
    UTF-8 these characters are single bytes that no other character's bytes contain."""
    if isinstance(column, pa.ChunkedArray):
        return any(_may_need_escapes(chunk) for chunk in column.chunks)
    offsets, data = column.buffers()[1], column.buffers()[2]
    if offsets is None or data is None or len(column) == 0:
        return False
    ends = np.frombuffer(offsets, np.int32)[column.offset : column.offset + len(column) + 1]
    view = np.frombuffer(data, np.uint8)[ends[0] : ends[-1]]
    return bool((view < 0x20).any() or (view == 0x22).any() or (view == 0x5C).any())


def json_literals(column: pa.Array) -> tuple[pa.Array, str]:
    """Each value as the literal json.dumps(ensure_ascii=False) writes, column at a time,
    and the quote that goes around each. A text or date column with no missing value
    gives its texts escaped and '"': the quotes go into the separators between the
    columns, which saves copying the column once more; a missing value needs its null
    unquoted, so a column with one gives whole literals and ''."""
    kind = column.type
    if pa.types.is_string(kind):
        text = column
        if _may_need_escapes(text):
            for char, escaped in _JSON_ESCAPES:
                if pc.any(pc.match_substring(text, char)).as_py():
                    text = pc.replace_substring(text, char, escaped)
    elif pa.types.is_date(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, "true", "false"), "null"), ""
    else:
        return pc.fill_null(pc.cast(column, pa.string()), "null"), ""
    if column.null_count == 0:
        return text, '"'
    return pc.fill_null(pc.binary_join_element_wise('"', text, '"', ""), "null"), ""


def append_csv(table: pa.Table, sink: Sink) -> int:
    """Add the part's rows below the header written when the file was opened; return the
    number of text cells neutralised. Each cell is rendered on its own, so the rows are
    the same bytes whichever part they come in."""
    safe, count = neutralise_formulas(table)
    sink.writer.write_table(safe)
    return count


def append_parquet(table: pa.Table, sink: Sink) -> None:
    """Add the part as a row group (several beyond 1Mi rows), as pq.write_table would;
    the footer is written when the file is finished."""
    sink.writer.write_table(table)


def append_json(table: pa.Table, sink: Sink, batch_rows: int = JSON_BATCH_ROWS) -> None:
    """Rows joined from per-column literals by Arrow, written from its buffers: the bytes
    json.dumps would give, without a Python object per cell. Every row but the file's
    first starts with ",\\n"; the first only with "\\n" (the "[" went before it). The rows
    go `batch_rows` at a time whatever the part's chunks: a part put together from many
    small tables would otherwise pay the per-column work once for each."""
    names = table.column_names
    first = sink.rows == 0
    for at in range(0, table.num_rows, batch_rows):
        batch = table.slice(at, batch_rows).combine_chunks().to_batches()[0]  # one chunk: copies only a chunked slice
        parts: list[Any] = []
        separator = ",\n"  # what goes before the next column's values: constant text
        for i, name in enumerate(names):
            values, quote = json_literals(batch.column(i))
            parts += [separator + ("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":" + quote, values]
            separator = quote
        parts.append(separator + "}")
        rows = pc.binary_join_element_wise(*parts, "")
        offsets = memoryview(rows.buffers()[1]).cast("i")
        start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
        sink.file.write(memoryview(rows.buffers()[2])[start + (1 if first else 0) : end])  # no comma before the first row
        first = False


# Appends one part to one open file. Looked up at each call, never bound at import, so that
# benchmarks/run.py can wrap an entry to time its format and tests can make one fail.
WRITERS: dict[str, Callable[[pa.Table, Sink], int | None]] = {"csv": append_csv, "parquet": append_parquet, "json": append_json}


def open_sink(folder: Path, relative: str, name: str, fmt: str, schema: pa.Schema) -> Sink:
    """Create ``folder/relative`` and write what comes before the rows: the CSV's BOM and
    header, the JSON's "["; the Parquet writer is made with the schema every part is cast to."""
    file = HashingFile(folder / relative)
    try:
        writer: Any = None
        if fmt == "csv":
            file.write(BOM)
            writer = pacsv.CSVWriter(file, schema, write_options=pacsv.WriteOptions(quoting_style="needed", eol="\r\n"))
        elif fmt == "parquet":
            writer = pq.ParquetWriter(file, schema, compression="zstd", write_statistics=True,
                                      dictionary_pagesize_limit=PARQUET_DICTIONARY_BYTES)
        elif fmt == "json":
            file.write(b"[")
        else:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    except BaseException:
        file.discard()
        raise
    return Sink(name, fmt, relative, schema, file, writer)


def append(sink: Sink, table: pa.Table) -> None:
    """Append through WRITERS (see there) and count what was written."""
    sink.neutralised += WRITERS[sink.format](table, sink) or 0
    sink.rows += table.num_rows


def finish(sink: Sink) -> WrittenFile:
    """Write what comes after the rows and close. A file that got no rows is given the
    empty table first, as a single write of an empty table did (Parquet then holds one
    row group of no rows), so that an empty table's files do not depend on how it came."""
    if sink.rows == 0:
        append(sink, sink.schema.empty_table())
    if sink.writer is not None:
        sink.writer.close()  # the Parquet footer; the CSV writer leaves the file open
    if sink.format == "json":
        sink.file.write(b"\n]\n")
    sink.file.close()
    return WrittenFile(sink.table, sink.format, sink.path, sink.file.size, sink.file.hexdigest(), sink.rows, sink.neutralised)


def discard(sink: Sink) -> None:
    """Close after a failure, leaving the file unfinished; an error on the way out is
    dropped, since the one that caused it is the one to report."""
    sink.file.discard()
    if sink.writer is not None:
        try:
            sink.writer.close()
        except Exception:  # noqa: BLE001 - the writer may be broken by the first error
            pass


class PackageWriter:
    """Every table's CSV, Parquet and JSON files under ``folder/subdir`` (or the (table,
    format) files of `files` only), written part by part.

    Files are opened at once and finished only by `close`, which returns what was written.
    Leaving a ``with`` block without `close` (an exception, or a caller that decided not to
    publish) closes the handles and leaves the files unfinished, without pretending success.
    """

    def __init__(self, folder: Path, schemas: Mapping[str, pa.Schema], threads: int = 1, subdir: str = "data",
                 files: Collection[tuple[str, str]] | None = None) -> None:
        self._schemas = dict(schemas)
        self._sinks: list[Sink] = []
        self._closed = False
        (folder / subdir).mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        try:
            for name, schema in self._schemas.items():
                self._sinks += [open_sink(folder, f"{subdir}/{name}.{fmt}", name, fmt, schema) for fmt in FORMATS
                                if files is None or (name, fmt) in files]
        except BaseException:
            self._abort()
            raise

    def write(self, tables: Mapping[str, pa.Table]) -> None:
        """Append one part: a table per name in the schemas (a missing name, or no rows,
        adds nothing). Each table is cast to its schema so that every part's Parquet schema
        is the same. With threads, the part's files are written side by side, each by one
        thread (Arrow and hashlib let go of the GIL); no file's bytes depend on the timing.
        No thread is still writing when this returns; after a failure the writer is closed."""
        if self._closed:
            raise ValueError("PackageWriter is closed")
        unknown = sorted(set(tables) - set(self._schemas))
        if unknown:
            raise ValueError(f"no schema for {', '.join(unknown)}; known: {', '.join(self._schemas)}")
        parts = {name: table.cast(self._schemas[name]) for name, table in tables.items() if table.num_rows}
        jobs = [(sink, parts[sink.table]) for sink in self._sinks if sink.table in parts]
        try:
            if self._pool is None:
                for sink, part in jobs:
                    append(sink, part)
                return
            # the longest first (JSON takes about twice the time of CSV per byte of the table),
            # so that the threads end the part together rather than one doing the largest last
            order = sorted(range(len(jobs)), key=lambda i: -jobs[i][1].nbytes * (2 if jobs[i][0].format == "json" else 1))
            futures = {i: self._pool.submit(append, *jobs[i]) for i in order}
            for i in range(len(jobs)):
                futures[i].result()  # the first failure in file order, whichever thread was first
        except BaseException:
            self._abort()  # waits for the threads; a file may hold half a part: it cannot go on
            raise

    def close(self) -> list[WrittenFile]:
        """Finish every file; what was written, in schema order and FORMATS order."""
        if self._closed:
            raise ValueError("PackageWriter is closed")
        try:
            files = [finish(sink) for sink in self._sinks]
        except BaseException:
            self._abort()
            raise
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown()
        return files

    def _abort(self) -> None:
        """Close every handle, files unfinished, once no thread is inside a writer any more."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for sink in self._sinks:
            discard(sink)

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if not self._closed:
            self._abort()


def write_json(table: pa.Table, path: Path, batch_rows: int = JSON_BATCH_ROWS) -> None:
    """Write the JSON, joining `batch_rows` rows at a time (see append_json)."""
    sink = open_sink(path.parent, path.name, path.stem, "json", table.schema)
    try:
        append_json(table, sink, batch_rows)
        sink.rows = table.num_rows
        finish(sink)
    except BaseException:
        discard(sink)
        raise


def write_tables(tables: Mapping[str, pa.Table], folder: Path, threads: int = 1, subdir: str = "data") -> list[WrittenFile]:
    """Every table in every format under ``folder/subdir``, as one part (see PackageWriter);
    the list is in table and format order, and each file's bytes never depend on threads."""
    with PackageWriter(folder, {name: table.schema for name, table in tables.items()}, threads, subdir) as writer:
        writer.write(tables)
        return writer.close()


def write_table(name: str, table: pa.Table, folder: Path, subdir: str = "data") -> list[WrittenFile]:
    """Write `table` in every format under ``folder/subdir``; return what was written."""
    return write_tables({name: table}, folder, 1, subdir)
