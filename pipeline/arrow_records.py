"""A batch's records as Arrow tables, made column by column for the whole batch at once.

`normalize.records` makes one report's records as Python lists, a value at a
time (an id string, a Source, a measure row ...), and they were then turned
into Arrow. For the reports whose every row `columnar.vouch` vouched for,
`arrow_records` makes the same tables straight from the batch's value columns:
constants repeated per report by `take`, ids joined by Arrow, measures and
figures flattened by their list offsets. The other reports (a row with a
problem, a 判明日 column of its own) keep the Python path. `batch_tables`
puts both together; the tables are the same values, types and row order as
`spool.with_sources(schema.typed_table(records ...))` gives report by report
(the tests compare them on every fixture and a synthetic archive).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_reader import ReadCells
from .coded import Coded
from .columnar import BatchValues, flags, read_batch
from .config import Municipality
from .normalize import Normalized, ValueColumns, report_id
from .row_values import Memo
from .readers import RawReport
from .schema import TABLES, TableSchema, typed_table
from .spool import spool_schema, with_sources
from .values import Figure

Spans = dict[str, tuple[int, int]]  # table -> (first row, rows) of one report in the batch's tables


def _table(columns: dict[str, pa.Array], sources: tuple[pa.Array, pa.Array, pa.Array], schema: TableSchema) -> pa.Table:
    """The columns typed as typed_table types them (every field nullable), with the sources."""
    fields = [f.with_nullable(True) for f in schema.arrow_schema()]
    arrays = [*(columns[f.name].cast(f.type) if f.name in columns else pa.nulls(len(sources[0]), f.type) for f in fields), *sources]
    return pa.Table.from_arrays(arrays, schema=spool_schema(schema))


def _children(lengths: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """For lists of these lengths, flattened: each item's list (its parent) and its 1-based place in it."""
    parents = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    return pa.array(parents), np.arange(len(parents), dtype=np.int64) - starts[parents] + 1


def _one(values: Any) -> Any:
    """A ChunkedArray (text past 2 GB comes so) as one Array; anything else as it is."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _lengths(lists: list[list[Any]] | pa.ListArray | Coded) -> np.ndarray:
    lists = _one(lists)
    if isinstance(lists, Coded):
        return _lengths(lists.values)[lists.indices]
    if isinstance(lists, pa.Array):
        return np.asarray(pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.fromiter((len(x) if isinstance(x, list) else 0 for x in lists), np.int64, len(lists))  # a row not vouched for: anything


def _arrow(values: list[Any] | pa.Array | Coded, kind: pa.DataType, of: Callable[[Any], Any] | None = None) -> pa.Array:
    """Values (of(value) for each, when given) as Arrow: columnar.vouch gives the dates and
    long texts as Arrow already, and the parsed values Coded."""
    values = _one(values)
    if isinstance(values, Coded):  # the rows of vouched reports: Coded.rows kept only their values
        return values.arrow(kind, of) if of is not None else values.arrow(kind)
    if of is not None:
        return pa.array([of(v) for v in values], kind)
    return values if isinstance(values, pa.Array) else pa.array(values, kind)


TOTALS = ("persons", "households", "facilities", "amount_jpy")  # values.Totals, each an incident's column


@dataclass(frozen=True)
class _FigureRows:
    """Every row's figures, one after the other: the row each belongs to, its place in its
    row (1-based) and its fields as Arrow (label None where empty); and each row's totals
    (values.totals), as Arrow."""

    parent: pa.Array
    figure_no: np.ndarray
    fields: dict[str, pa.Array]
    totals: dict[str, pa.Array]


def _figure_rows(figures: list[list[Figure]] | Coded) -> _FigureRows:
    """The figures of every row, their totals summed by numpy (_block_totals). Coded
    figures are converted a distinct block at a time and taken; the rows of a list (those
    not vouched for) each as its own block."""
    parent, figure_no = _children(_lengths(figures))
    if not isinstance(figures, Coded):
        fields = _fields(list(chain.from_iterable(figures)))
        return _FigureRows(parent, figure_no, fields, _block_totals(fields, parent.to_numpy(), len(figures)))
    lengths = _lengths(figures.values)
    fields = _fields(list(chain.from_iterable(figures.values)))
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pick = pa.array(first[figures.indices[parent.to_numpy()]] + figure_no - 1 if len(figure_no) else np.zeros(0, np.int64))
    rows = pa.array(figures.indices, pa.int64())
    sums = _block_totals(fields, np.repeat(np.arange(len(lengths), dtype=np.int64), lengths), len(lengths))
    return _FigureRows(parent, figure_no, {name: column.take(pick) for name, column in fields.items()},
                       {name: column.take(rows) for name, column in sums.items()})


def _fields(flat: list[Figure]) -> dict[str, pa.Array]:
    return {"label": pa.array([f.label or None for f in flat], pa.string()), "value": pa.array([f.value for f in flat], pa.int64()),
            "unit": pa.array([f.unit for f in flat], pa.string()), "qualifier": pa.array([f.qualifier for f in flat], pa.string())}


def _block_totals(fields: dict[str, pa.Array], block: np.ndarray, blocks: int) -> dict[str, pa.Array]:
    """values.totals of each of `blocks` blocks, from their figures' `fields` (`block`: each
    figure's block), a column of each total: summed in int64 (a figure has at most 15
    digits), None where no figure counts."""
    label, unit, value = fields["label"], fields["unit"], fields["value"].to_numpy()
    counted = ~flags(pc.match_substring(fields["qualifier"], "うち"))  # うち: a part of another figure
    named = flags(pc.equal(label, "人数"))  # a block with 人数 counts it, else its figures in 人 or 名
    persons = np.where(np.bincount(block[named], minlength=blocks)[block] > 0, named, flags(pc.is_in(unit, pa.array(["人", "名"]))))
    chosen = {"persons": persons, "households": flags(pc.equal(label, "世帯数")), "facilities": flags(pc.equal(label, "施設数")),
              "amount_jpy": flags(pc.is_in(label, pa.array(["金額", "総額"]))) & flags(pc.equal(unit, "円"))}
    out = {}
    for name, picked in chosen.items():
        picked &= counted
        sums = np.zeros(blocks, np.int64)
        np.add.at(sums, block[picked], value[picked])
        out[name] = pa.array(sums, pa.int64(), mask=np.bincount(block[picked], minlength=blocks) == 0)
    return out


def _flat(lists: list[list[str]] | pa.ListArray) -> pa.Array:
    lists = _one(lists)
    return pc.list_flatten(lists) if isinstance(lists, pa.Array) else pa.array(list(chain.from_iterable(lists)), pa.string())


def arrow_records(reports: Sequence[RawReport], municipalities: Sequence[Municipality], counts: Sequence[int],
                  v: ValueColumns, schemas: dict[str, TableSchema]) -> dict[str, pa.Table]:
    """The records of `reports`, whose rows' values are `v` (`counts[i]` rows for the i-th
    report, in order): what normalize.records gives each, as one table per table."""
    ids_of = [report_id(m, r) for r, m in zip(reports, municipalities)]
    owner = pa.array(np.repeat(np.arange(len(reports), dtype=np.int64), counts))

    def each(values: list[Any], kind: pa.DataType) -> pa.Array:  # a value per report, repeated for its rows
        return pa.array(values, kind).take(owner)

    rid = each(ids_of, pa.string())
    no = _arrow(v.no, pa.int64())
    incident_id = pc.binary_join_element_wise(rid, pc.utf8_lpad(pc.cast(no, pa.string()), 3, "0"), "-")  # f"{no:03d}"
    sources = (each([r.file for r in reports], pa.string()), pa.array(v.line, pa.int64()), _arrow(v.no_written, pa.string()))
    figures = _figure_rows(v.figures)
    incidents = {
        "incident_id": incident_id, "report_id": rid,
        "municipality_code": each([m.code for m in municipalities], pa.string()),
        "municipality_name": each([m.name for m in municipalities], pa.string()),
        "report_period_start": each([r.period.start for r in reports], pa.date32()),
        "report_period_end": each([r.period.end for r in reports], pa.date32()),
        "report_no": no, "occurred_on": _arrow(v.occurred_on, pa.date32()),
        "occurred_until": _arrow(v.occurred_until, pa.date32()), "discovered_on": _arrow(v.discovered_on, pa.date32()),
        "dates_as_written": _arrow(v.dates_written, pa.string()), "category": _arrow(v.category, pa.string()),
        "department": _arrow(v.office, pa.string(), attrgetter("department")),
        "division": _arrow(v.office, pa.string(), attrgetter("division")),
        "summary": _arrow(v.summary, pa.string()),
        "personal_data_leaked": _arrow(v.leak, pa.bool_(), attrgetter("leaked")),
        "leaked_persons": _arrow(v.leak, pa.int64(), attrgetter("persons")),
        **{f"{name}_affected": figures.totals[name] for name in ("persons", "households", "facilities")},
        "amount_jpy": figures.totals["amount_jpy"],
        "response": _arrow(v.response, pa.string()), "contact_phone": _arrow(v.phone, pa.string()),
    }
    out = {"incidents": _table(incidents, sources, schemas["incidents"])}

    parent, measure_no = _children(_lengths(v.measures))
    out["measures"] = _table({"incident_id": incident_id.take(parent), "measure_no": pa.array(measure_no),
                              "measure": _flat(v.measures)},
                             tuple(s.take(parent) for s in sources), schemas["measures"])  # type: ignore[arg-type]

    parent = figures.parent
    out["figures"] = _table({"incident_id": incident_id.take(parent), "figure_no": pa.array(figures.figure_no), **figures.fields},
                            tuple(s.take(parent) for s in sources), schemas["figures"])  # type: ignore[arg-type]

    reports_table = {
        "report_id": pa.array(ids_of, pa.string()),
        "municipality_code": pa.array([m.code for m in municipalities], pa.string()),
        "municipality_name": pa.array([m.name for m in municipalities], pa.string()),
        "report_period_start": pa.array([r.period.start for r in reports], pa.date32()),
        "report_period_end": pa.array([r.period.end for r in reports], pa.date32()),
        "title": pa.array([r.title for r in reports], pa.string()),
        "source_file": pa.array([r.file for r in reports], pa.string()),
        "source_sha256": pa.array([r.sha256 for r in reports], pa.string()),
        "incident_count": pa.array([r.rows_read for r in reports], pa.int64()),
    }
    files = pa.array([r.file for r in reports], pa.string())
    out["reports"] = _table(reports_table, (files, pa.nulls(len(reports), pa.int64()), pa.nulls(len(reports), pa.string())),
                            schemas["reports"])
    return out


def _selected(v: ValueColumns, ranges: list[tuple[int, int]]) -> ValueColumns:
    """The values of the rows in `ranges` (start, stop), in order."""
    joined: list[tuple[int, int]] = []
    for start, stop in ranges:  # reports one after the other are one range
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], stop)
        else:
            joined.append((start, stop))
    ranges = joined
    if len(ranges) == 1 and ranges[0] == (0, len(v.no)):
        return v
    return ValueColumns(**{name: _pieces(getattr(v, name), ranges) for name in ValueColumns.__dataclass_fields__})


def _pieces(values: list[Any] | pa.Array | Coded, ranges: list[tuple[int, int]]) -> list[Any] | pa.Array | Coded:
    values = _one(values)
    if isinstance(values, Coded):
        return values.rows(ranges)
    if isinstance(values, pa.Array):
        return pa.concat_arrays([values.slice(a, b - a) for a, b in ranges]) if ranges else values.slice(0, 0)
    return list(chain.from_iterable(values[a:b] for a, b in ranges))


def batch_tables(reports: Sequence[RawReport], municipalities: Sequence[Municipality], memo: Memo,
                 schemas: dict[str, TableSchema], read: ReadCells | None = None) -> tuple[list[Normalized], dict[str, pa.Table], list[Spans]]:
    """Each report's result without its records (problems, headers, counts), the batch's
    records as one table per table with their sources (spool.with_sources), and where each
    report's rows are in them. The records are those of columnar.normalize_batch; `read`:
    the cells of the reports arrow_reader read (see columnar.read_batch)."""
    batch: BatchValues = read_batch(reports, municipalities, memo, read)
    fast = [i for i, span in enumerate(batch.vouched) if span is not None]
    ranges = [batch.vouched[i] for i in fast]
    fast_tables = arrow_records([reports[i] for i in fast], [municipalities[i] for i in fast],
                                [b - a for a, b in ranges], _selected(batch.values, ranges), schemas)  # type: ignore[arg-type, misc]
    slow = Normalized()  # the reports read row by row, their records made by normalize.records
    for i, result in enumerate(batch.results):
        if batch.vouched[i] is None:
            slow.extend(result)
    slow_tables = {t: with_sources(typed_table(slow.columns[t], len(slow.sources[t]), schemas[t]), slow.sources[t]) for t in TABLES}
    # one chunk when no report was read row by row: an empty chunk beside it would make the
    # pack's writer (and anything else combining chunks) copy the whole batch
    tables = {t: pa.concat_tables([fast_tables[t], slow_tables[t]]) if slow_tables[t].num_rows else fast_tables[t] for t in TABLES}

    fast_at = {t: 0 for t in TABLES}
    slow_at = {t: fast_tables[t].num_rows for t in TABLES}
    items = {t: np.concatenate([[0], np.cumsum(_lengths(getattr(batch.values, t)))]) for t in ("measures", "figures")}
    spans: list[Spans] = []
    for result, span in zip(batch.results, batch.vouched):
        if span is None:
            counts, at = {t: len(result.sources[t]) for t in TABLES}, slow_at
        else:
            start, stop = span
            counts, at = {"reports": 1, "incidents": stop - start, **{t: int(c[stop] - c[start]) for t, c in items.items()}}, fast_at
        spans.append({t: (at[t], counts[t]) for t in TABLES})
        for t in TABLES:
            at[t] += counts[t]
    bare = [Normalized(problems=r.problems, headers=r.headers, rows_read=r.rows_read, rows_rejected=r.rows_rejected)
            for r in batch.results]
    return bare, tables, spans
