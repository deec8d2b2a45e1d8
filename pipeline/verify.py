"""Check a published package as a downloader would: nothing taken on trust.

- every resource path stays inside the folder (no absolute paths, ``..``,
  URLs or links leading out) and the file is there;
- sizes and sha256 are as declared;
- ``frictionless`` validates the CSV tables against their schemas (types,
  constraints, keys, row counts);
- the Parquet and JSON files hold the same rows, values and types as the CSV
  (whose text cells beginning with =, +, -, @, tab or CR carry a leading ',
  see ``writers.neutralise_formulas``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from frictionless import Package, system

from .safety import inside, path_problem
from .schema import TableSchema
from .writers import neutralise_formulas, sha256_of


def _read_csv_typed(path: Path, schema: pa.Schema) -> pa.Table:
    import pyarrow.csv as pacsv

    options = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True, null_values=[""],
                                   true_values=["true"], false_values=["false"])
    table = pacsv.read_csv(path, convert_options=options)
    return table.select(schema.names)


def _json_table(path: Path, schema: pa.Schema) -> pa.Table:
    rows = json.loads(path.read_text(encoding="utf-8"))
    columns: dict[str, list[Any]] = {n: [r.get(n) for r in rows] for n in schema.names}
    arrays = []
    for f in schema:
        values = columns[f.name]
        if pa.types.is_date(f.type):
            arrays.append(pa.array(values, pa.string()).cast(pa.date32()))
        else:
            arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def verify_package(folder: Path) -> list[str]:
    problems: list[str] = []
    descriptor_path = folder / "datapackage.json"
    try:
        descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{descriptor_path}: cannot read the descriptor: {exc}"]
    csv_tables: dict[str, pa.Table] = {}
    for res in descriptor.get("resources", []):
        relative = res.get("path", "")
        path = inside(folder, relative)
        if path is None:
            reason = path_problem(folder, relative) or ("it leads outside the package", "")
            problems.append(f"{relative}: {reason[0]}; refusing to read it")
            continue
        if not path.is_file():
            problems.append(f"{relative}: declared but missing")
            continue
        if res.get("bytes") != path.stat().st_size:
            problems.append(f"{relative}: {path.stat().st_size} bytes, declared {res.get('bytes')}")
        if res.get("hash") != f"sha256:{sha256_of(path)}":
            problems.append(f"{relative}: sha256 differs from the declared hash")
    if problems:
        return problems

    with system.use_context(trusted=False):
        report = Package(str(descriptor_path)).validate()
    for task in report.tasks:
        for error in task.errors:
            problems.append(f"{task.name}: {error.message}")

    schemas = {r["name"]: r["schema"] for r in descriptor["resources"] if r.get("type") == "table"}
    for res in descriptor["resources"]:
        if res.get("format") == "csv" and res["name"] in schemas:
            arrow = TableSchema(res["name"], schemas[res["name"]]).arrow_schema()
            csv_tables[res["name"]] = _read_csv_typed(folder / res["path"], arrow)
    for res in descriptor["resources"]:
        table = res.get("x_table")
        if table not in csv_tables:
            continue
        expected = csv_tables[table]
        path = folder / res["path"]
        if res["format"] == "parquet":
            got = pq.read_table(path)
        elif res["format"] == "json":
            got = _json_table(path, expected.schema)
        else:
            continue
        if got.num_rows != res.get("x_rows"):
            problems.append(f"{res['path']}: {got.num_rows} rows, declared {res.get('x_rows')}")
        as_in_csv, _ = neutralise_formulas(got.select(expected.column_names).cast(expected.schema))
        if as_in_csv != expected:
            problems.append(f"{res['path']}: values differ from {table}.csv")
    return problems
