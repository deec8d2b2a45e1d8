"""The validate stage: a part's records as typed Arrow tables, and everything wrong with
them that the Table Schema, the rules and the privacy scan find, each problem located
in its source (file, row, column as written). Pure functions over plain data: the
process writing the CSV and JSON files beside the checks (side_writer.py) types each
part with the same to_tables as the build's own process.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import checks, privacy, privacy_tables, rules
from .config import Config
from .errors import Problem
from .normalize import ARROW, FIELD_COLUMN, Normalized, Source, locate
from .schema import TABLES, TableSchema, load_schemas


def as_arrow(values: list[Any] | pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    return values.cast(kind) if isinstance(values, ARROW) else pa.array(values, kind)


def to_tables(normalized: Normalized, schemas: dict[str, TableSchema]) -> dict[str, pa.Table]:
    """Typed Arrow tables, rows in primary-key order (the normalized rows and their sources
    reordered alike, so an index still finds its source). The normalized columns become
    those Arrow arrays; a build's parts come from the spool as Arrow already, lists are
    converted here."""
    tables: dict[str, pa.Table] = {}
    for name in TABLES:
        schema = schemas[name].arrow_schema()
        values = normalized.columns[name]
        for f in schema:  # each column in turn, its Python values let go as soon as Arrow has them
            values[f.name] = as_arrow(values.get(f.name, []), f.type)
        columns = [values[f.name] for f in schema]
        table = pa.Table.from_arrays(columns, schema=pa.schema([f.with_nullable(True) for f in schema]))
        key = schemas[name].primary_key
        if not checks.in_key_order(table, key):
            order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in key])
            if not _identity(order):  # with a null in the key: maybe in order still
                table = table.take(order)
                normalized.keep(name, order.to_pylist())
        tables[name] = table
    return tables


def _identity(order: pa.Array) -> bool:
    return len(order) == 0 or bool(pc.all(pc.equal(order, pa.array(range(len(order)), order.type))).as_py())


def _locate(normalized: Normalized, table: str, index: int, fieldname: str, value: str | None) -> tuple[Source, str | None, str | None]:
    """normalize.locate, plus the value as the source wrote it when the record keeps it."""
    source, header = locate(normalized, table, index, fieldname)
    dates = FIELD_COLUMN.get(fieldname.split(",")[0], ())[:1] in (("dates",), ("occurred",), ("discovered",))
    written = normalized.value(table, index, "dates_as_written") if dates and header else None
    return source, header, written or value


def _first_rows(ids: list[object]) -> dict[object, int]:
    first: dict[object, int] = {}
    for i, value in enumerate(ids):
        first.setdefault(value, i)
    return first


def validate_tables(tables: dict[str, pa.Table], normalized: Normalized, schemas: dict[str, TableSchema]) -> list[Problem]:
    problems: list[Problem] = []
    first_index: dict[str, dict[object, int]] = {}
    for name in TABLES:
        for v in checks.check_table(tables[name], schemas[name], tables):
            source, header, value = _locate(normalized, name, v.index, v.field, v.value)
            if name == "incidents" and v.check == "primary-key":
                ids = normalized.columns[name]["incident_id"]
                firsts = first_index.setdefault(name, _first_rows(ids.to_pylist() if isinstance(ids, ARROW) else ids))
                other = normalized.sources[name][firsts[v.value]]
                problems.append(
                    Problem("duplicate-incident", source.file, source.row, source.no, "incident_id", header, value,
                            params={"other_file": f"{other.file}, row {other.row}"})
                )
                continue
            problems.append(
                Problem("schema-violation", source.file, source.row, source.no, v.field, header, value,
                        params={"reason": f"{name}.{v.field} {v.reason}", "reason_ja": f"{name}.{v.field}: {v.reason_ja}"})
            )
    for table, breaks in (("reports", rules.check_reports(tables["reports"])), ("incidents", rules.check_incidents(tables["incidents"]))):
        for r in breaks:
            source, header, value = _locate(normalized, table, r.index, r.field, r.value)
            problems.append(Problem(r.code, source.file, source.row, source.no, r.field, header, value, params={"date": r.value, **r.params}))
    return problems


def validate_all(normalized: Normalized, config: Config, office: frozenset[str] | None = None,
                 seen: privacy_tables.Seen | None = None) -> tuple[dict[str, pa.Table], list[Problem]]:
    """The typed tables, and what the schema checks, the rules and the privacy scan find in
    them; `office`: the whole archive's office numbers, when `normalized` is one part, and
    `seen` what the scan found in the texts of the parts before (privacy_tables.scan_tables)."""
    schemas = load_schemas()
    exceptions = privacy.load_exceptions(config.options)
    tables = to_tables(normalized, schemas)
    with ThreadPoolExecutor(max_workers=2) as pool:  # both read the tables only, mostly in Arrow (no GIL)
        scanned = pool.submit(privacy_tables.scan_tables, tables, normalized, exceptions, office, seen)
        problems = validate_tables(tables, normalized, schemas)
        problems += scanned.result()
    return tables, problems
