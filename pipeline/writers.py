"""Write one Arrow table as CSV, Parquet and JSON, and describe each file written.

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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet", "json")
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}
BOM = b"\xef\xbb\xbf"
FORMULA_START = "^[=+\\-@\t\r]"  # OWASP: a cell beginning with one of these may run as a formula
FORMULA_PREFIX = "'"


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
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def write_csv(table: pa.Table, path: Path) -> int:
    """Write the CSV; return the number of text cells neutralised."""
    safe, count = neutralise_formulas(table)
    with path.open("wb") as handle:
        handle.write(BOM)
        pacsv.write_csv(safe, handle, pacsv.WriteOptions(quoting_style="needed", eol="\r\n"))
    return count


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", write_statistics=True)


_JSON_ESCAPES = [("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f")]
_JSON_ESCAPES += [(chr(c), f"\\u{c:04x}") for c in range(0x20) if chr(c) not in "\n\r\t\b\f"]
_NEEDS_ESCAPE = "[\\\\\"\x00-\x1f]"


def json_literals(column: pa.Array) -> pa.Array:
    """Each value as the literal json.dumps(ensure_ascii=False) writes, column at a time."""
    kind = column.type
    if pa.types.is_string(kind):
        text = column
        if pc.any(pc.match_substring_regex(text, _NEEDS_ESCAPE)).as_py():
            for char, escaped in _JSON_ESCAPES:
                if pc.any(pc.match_substring(text, char)).as_py():
                    text = pc.replace_substring(text, char, escaped)
        literal = pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_date(kind):
        literal = pc.binary_join_element_wise('"', pc.cast(column, pa.string()), '"', "")
    elif pa.types.is_boolean(kind):
        literal = pc.if_else(column, "true", "false")
    else:
        literal = pc.cast(column, pa.string())
    return pc.fill_null(literal, "null")


def write_json(table: pa.Table, path: Path, batch_rows: int = 100_000) -> None:
    """Rows joined from per-column literals by Arrow, written from its buffers: the bytes
    json.dumps would give, without a Python object per cell."""
    names = table.column_names
    with path.open("wb") as handle:
        handle.write(b"[")
        first = True
        for batch in table.to_batches(max_chunksize=batch_rows):
            if batch.num_rows == 0:
                continue
            parts: list[Any] = [",\n"]
            for i, name in enumerate(names):
                parts += [("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":", json_literals(batch.column(i))]
            parts.append("}")
            rows = pc.binary_join_element_wise(*parts, "")
            offsets = memoryview(rows.buffers()[1]).cast("i")
            start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
            handle.write(memoryview(rows.buffers()[2])[start + (1 if first else 0) : end])  # no comma before the first row
            first = False
        handle.write(b"\n]\n")


WRITERS: dict[str, Callable[[pa.Table, Path], int | None]] = {"csv": write_csv, "parquet": write_parquet, "json": write_json}


def _write_one(name: str, fmt: str, table: pa.Table, folder: Path, subdir: str) -> WrittenFile:
    relative = f"{subdir}/{name}.{fmt}"
    target = folder / relative
    neutralised = WRITERS[fmt](table, target) or 0
    return WrittenFile(name, fmt, relative, target.stat().st_size, sha256_of(target), table.num_rows, neutralised)


def write_tables(tables: Mapping[str, pa.Table], folder: Path, threads: int = 1, subdir: str = "data") -> list[WrittenFile]:
    """Every table in every format under ``folder/subdir``, in `threads` threads side by side
    (Arrow's writers and compute and hashlib let go of the GIL); the list is in table and
    format order whichever file is done first, and each file's bytes never depend on it."""
    (folder / subdir).mkdir(parents=True, exist_ok=True)
    jobs = [(name, fmt) for name in tables for fmt in FORMATS]
    if threads <= 1:
        return [_write_one(name, fmt, tables[name], folder, subdir) for name, fmt in jobs]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda job: _write_one(job[0], job[1], tables[job[0]], folder, subdir), jobs))


def write_table(name: str, table: pa.Table, folder: Path, subdir: str = "data") -> list[WrittenFile]:
    """Write `table` in every format under ``folder/subdir``; return what was written."""
    return write_tables({name: table}, folder, 1, subdir)
