"""Write one Arrow table as CSV, Parquet and JSON, and describe each file written.

- CSV: UTF-8 with a BOM (so that Excel on Windows opens Japanese text
  correctly), CRLF line ends (RFC 4180), a header row, empty cell for a
  missing value, ``true``/``false``, ISO 8601 dates.
- Parquet: written by pyarrow with the schema derived from the Table Schema,
  so dates stay dates, integers stay integers with nulls, booleans booleans.
- JSON: an array of objects, one per line, with the same types (dates as
  ``YYYY-MM-DD`` strings, missing values as ``null``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet", "json")
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class WrittenFile:
    table: str
    format: str
    path: str  # relative to the package folder, with forward slashes
    bytes: int
    sha256: str
    rows: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_csv(table: pa.Table, path: Path) -> None:
    with path.open("wb") as handle:
        handle.write(BOM)
        pacsv.write_csv(table, handle, pacsv.WriteOptions(quoting_style="needed", eol="\r\n"))


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def write_json(table: pa.Table, path: Path) -> None:
    names = table.column_names
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("[")
        first = True
        for batch in table.to_batches(max_chunksize=10_000):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for values in zip(*columns):
                record = {n: _json_value(v) for n, v in zip(names, values)}
                handle.write(("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                first = False
        handle.write("\n]\n")


WRITERS = {"csv": write_csv, "parquet": write_parquet, "json": write_json}


def write_table(name: str, table: pa.Table, folder: Path, subdir: str = "data") -> list[WrittenFile]:
    """Write `table` in every format under ``folder/subdir``; return what was written."""
    (folder / subdir).mkdir(parents=True, exist_ok=True)
    written: list[WrittenFile] = []
    for fmt in FORMATS:
        relative = f"{subdir}/{name}.{fmt}"
        target = folder / relative
        WRITERS[fmt](table, target)
        written.append(WrittenFile(name, fmt, relative, target.stat().st_size, sha256_of(target), table.num_rows))
    return written
