"""Sketch for the lead: writers.write_json's bytes, built column-wise with Arrow compute.

writers.write_json turns every row into a Python dict and calls json.dumps on
it (57 s of a 316 s build at 1M incidents). Here each column becomes its JSON
literals in one vectorized pass (strings escaped as json.dumps does with
ensure_ascii=False, dates cast to ISO text, null as ``null``), the literals are
joined row-wise with the field names, and each batch's bytes go to the file
straight from the Arrow buffer. The script checks the output is byte-identical
to writers.write_json and prints both times.

Not used by the pipeline. Control characters other than \\n \\r \\t \\b \\f would need
``\\u00XX`` escapes; the sketch refuses a column holding one (the pipeline's
hidden-character check already rejects them in published text).

Example:
    .venv/bin/python benchmarks/json_sketch.py /tmp/jimu-bench/100k/package
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f"))
OTHER_CONTROLS = "[\x00-\x07\x0b\x0e-\x1f]"


def json_literals(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Each value as the JSON literal json.dumps(ensure_ascii=False) writes."""
    kind = column.type
    if pa.types.is_string(kind):
        if pc.any(pc.match_substring_regex(column, OTHER_CONTROLS)).as_py():
            raise ValueError("a control character that needs a \\u escape")
        text = column
        for char, escaped in ESCAPES:
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
    names = table.column_names
    with path.open("wb") as out:
        out.write(b"[")
        first = True
        for batch in table.to_batches(max_chunksize=batch_rows):
            parts: list[object] = [",\n"]
            for i, name in enumerate(names):
                parts += [("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":", json_literals(batch.column(i))]
            parts.append("}")
            rows = pc.binary_join_element_wise(*parts, "")
            offsets = memoryview(rows.buffers()[1]).cast("i")
            start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
            out.write(memoryview(rows.buffers()[2])[start + (1 if first else 0) : end])  # no comma before the first row
            first = False
        out.write(b"\n]\n")


def main(package: Path) -> None:
    from pipeline import writers

    with tempfile.TemporaryDirectory() as scratch:
        for parquet in sorted((package / "data").glob("*.parquet")):
            table = pq.read_table(parquet)
            now, sketch = Path(scratch) / "now.json", Path(scratch) / "sketch.json"
            started = time.perf_counter()
            writers.write_json(table, now)
            middle = time.perf_counter()
            write_json(table, sketch)
            done = time.perf_counter()
            same = now.read_bytes() == sketch.read_bytes()
            print(f"{parquet.stem:<10} {table.num_rows:>9,} rows  writers.write_json {middle - started:6.2f} s  "
                  f"sketch {done - middle:6.2f} s  identical bytes: {same}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
