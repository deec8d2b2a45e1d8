"""A RawReport's rows become the published records: reports, incidents, measures, figures.

Every row is either turned into records or reported with its reasons, never
dropped silently. Each record remembers where it came from (`Source`), so that
checks run later on the tables can still name the file, row and No.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .coded import Coded
from .config import Municipality
from .errors import Problem
from .readers import RawReport, RawRow
from .row_values import Memo, RowValues, careful, quick
from .values import Figure, Leak, Office, Totals, totals

if TYPE_CHECKING:
    from .spool import Spilled

Record = dict[str, Any]

# published field -> the source column(s) it may come from (for messages)
FIELD_COLUMN: dict[str, tuple[str, ...]] = {
    "incident_id": ("no",), "report_no": ("no",), "occurred_on": ("dates", "occurred"),
    "occurred_until": ("dates", "occurred"), "discovered_on": ("dates", "discovered"),
    "dates_as_written": ("dates", "occurred", "discovered"), "category": ("category",), "department": ("office",),
    "division": ("office",), "summary": ("summary",), "personal_data_leaked": ("leak",), "leaked_persons": ("leak",),
    "persons_affected": ("summary",), "households_affected": ("summary",), "facilities_affected": ("summary",),
    "amount_jpy": ("summary",), "response": ("response",), "contact_phone": ("phone",), "measure": ("measures",),
    "measure_no": ("measures",), "figure_no": ("summary",), "label": ("summary",), "value": ("summary",),
    "unit": ("summary",), "qualifier": ("summary",),
}


@dataclass(frozen=True)
class Source:
    file: str
    row: int | None
    no: str | None


_TABLES = ("reports", "incidents", "measures", "figures")
ARROW = (pa.Array, pa.ChunkedArray)  # a column past to_tables (chunked when its text passes 2 GB)


@dataclass(frozen=True)
class Rows:
    """One report's records as rows of a batch's Arrow tables (with their sources), left
    unsliced: the spool takes a batch's consecutive reports in one piece."""

    tables: dict[str, pa.Table]
    spans: dict[str, tuple[int, int]]  # table -> (first row, rows)

    def table(self, name: str) -> pa.Table:
        return self.tables[name].slice(*self.spans[name])


@dataclass
class Normalized:
    """Records per table, held column-wise (a list per field: cheap to pickle and to hand to
    Arrow; validation.to_tables turns each into its Arrow array), each row with its Source at
    the same index. `add` and `extend` build it, so they take lists only: they come
    before to_tables; `value` and `keep` take either. A result of process.py carries its
    records and their sources in `arrow` instead (rows of a batch's tables in memory, or
    in a file: spool.Spilled), and empty lists."""

    columns: dict[str, dict[str, list[Any]]] = field(default_factory=lambda: {t: {} for t in _TABLES})
    sources: dict[str, list[Source]] = field(default_factory=lambda: {t: [] for t in _TABLES})
    problems: list[Problem] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> column key -> header text
    rows_read: int = 0
    rows_rejected: int = 0
    arrow: Rows | Spilled | None = None  # the records as Arrow instead: in memory, or in a pack or chunk (batch._placed)

    def add(self, table: str, record: Record, source: Source) -> None:
        columns = self.columns[table]
        for key, value in record.items():
            if key in columns:
                columns[key].append(value)
            else:  # a field first seen now: earlier rows had none
                columns[key] = [None] * len(self.sources[table]) + [value]
        self.sources[table].append(source)

    def extend(self, other: Normalized) -> None:
        assert other.arrow is None, "records sent as Arrow go to the spool (spool.Spool.add), not extended"
        for table in self.columns:
            mine = self.columns[table]
            for key, values in other.columns[table].items():
                if key in mine:
                    mine[key].extend(values)
                else:
                    mine[key] = [None] * len(self.sources[table]) + values
            self.sources[table].extend(other.sources[table])
        self.problems.extend(other.problems)
        self.headers.update(other.headers)
        self.rows_read += other.rows_read
        self.rows_rejected += other.rows_rejected

    def value(self, table: str, index: int, key: str) -> Any:
        column = self.columns[table].get(key)
        if column is None:
            return None
        return column[index].as_py() if isinstance(column, ARROW) else column[index]

    def keep(self, table: str, positions: list[int]) -> None:
        """Only the rows at `positions`, in that order (a sort or a filter)."""
        taken = pa.array(positions, pa.int64())
        self.columns[table] = {key: values.take(taken) if isinstance(values, ARROW) else [values[i] for i in positions]
                               for key, values in self.columns[table].items()}
        old = self.sources[table]  # a list, or a part's spool.SourceColumns
        self.sources[table] = [old[i] for i in positions] if isinstance(old, list) else old.take(positions)  # type: ignore[attr-defined]


def locate(normalized: Normalized, table: str, index: int, fieldname: str) -> tuple[Source, str | None]:
    """Where a table row came from, and the header of the source column its field comes from."""
    source = normalized.sources[table][index]
    headers = normalized.headers.get(source.file, {})
    keys = [k for k in FIELD_COLUMN.get(fieldname.split(",")[0], ()) if k in headers]
    return source, headers[keys[0]] if keys else None


def report_id(municipality: Municipality, report: RawReport) -> str:
    return f"{municipality.code}-{report.period.start:%Y%m}"


@dataclass
class ValueColumns:
    """Valid rows' values, column by column: what `records` turns into a report's records.
    columnar.vouch gives those of a whole batch as Arrow arrays (the dates and texts) and
    Coded columns (the values parsed once per distinct cell) instead of lists; columnar._rows
    makes any rows Python again."""

    line: list[int] = field(default_factory=list)
    no_written: list[str | None] | pa.Array = field(default_factory=list)  # the No as written, for messages
    no: list[int] | Coded = field(default_factory=list)
    occurred_on: list[date | None] | pa.Array = field(default_factory=list)
    occurred_until: list[date | None] | pa.Array = field(default_factory=list)
    discovered_on: list[date] | pa.Array = field(default_factory=list)
    dates_written: list[str] | pa.Array = field(default_factory=list)
    office: list[Office] | Coded = field(default_factory=list)
    summary: list[str | None] | pa.Array = field(default_factory=list)
    leak: list[Leak] | Coded = field(default_factory=list)
    phone: list[str | None] | Coded = field(default_factory=list)
    category: list[str | None] | Coded = field(default_factory=list)
    response: list[str | None] | pa.Array = field(default_factory=list)
    measures: list[list[str]] | pa.Array = field(default_factory=list)
    figures: list[list[Figure]] | Coded = field(default_factory=list)

    def append(self, raw: RawRow, v: RowValues) -> None:
        for name, value in ((("line", raw.line), ("no_written", raw.cells.get("no", "").strip() or None), ("no", v.no),
                             ("occurred_on", v.dates.occurred_on), ("occurred_until", v.dates.occurred_until),
                             ("discovered_on", v.dates.discovered_on), ("dates_written", v.dates_written), ("office", v.office),
                             ("summary", v.summary), ("leak", v.leak), ("phone", v.phone), ("category", v.category),
                             ("response", v.response), ("measures", v.measures), ("figures", v.figures))):
            getattr(self, name).append(value)


def records(report: RawReport, municipality: Municipality, v: ValueColumns, out: Normalized) -> Normalized:
    """The report's records from its valid rows' values, a column at a time, into `out`
    (which holds the report's problems); and the report's own record."""
    rid = report_id(municipality, report)
    n = len(v.no)
    ids = [f"{rid}-{no:03d}" for no in v.no]
    sources = [Source(report.file, line, no) for line, no in zip(v.line, v.no_written)]
    sums_of: dict[int, Totals] = {}  # a figures list is shared by the rows with the same block
    none = totals([])
    sums = [none if not f else sums_of[id(f)] if id(f) in sums_of else sums_of.setdefault(id(f), totals(f)) for f in v.figures]
    out.columns["incidents"] = {
        "incident_id": ids, "municipality_code": [municipality.code] * n, "municipality_name": [municipality.name] * n,
        "report_id": [rid] * n, "report_period_start": [report.period.start] * n, "report_period_end": [report.period.end] * n,
        "report_no": v.no, "occurred_on": v.occurred_on, "occurred_until": v.occurred_until, "discovered_on": v.discovered_on,
        "dates_as_written": v.dates_written, "category": v.category,
        "department": [o.department for o in v.office], "division": [o.division for o in v.office],
        "summary": v.summary, "personal_data_leaked": [k.leaked for k in v.leak], "leaked_persons": [k.persons for k in v.leak],
        "persons_affected": [t.persons for t in sums], "households_affected": [t.households for t in sums],
        "facilities_affected": [t.facilities for t in sums], "amount_jpy": [t.amount_jpy for t in sums],
        "response": v.response, "contact_phone": v.phone,
    }
    out.sources["incidents"] = sources
    measures: dict[str, list[Any]] = {"incident_id": [], "measure_no": [], "measure": []}
    figures: dict[str, list[Any]] = {k: [] for k in ("incident_id", "figure_no", "label", "value", "unit", "qualifier")}
    for incident_id, source, texts, figs in zip(ids, sources, v.measures, v.figures):
        for i, text in enumerate(texts, 1):
            measures["incident_id"].append(incident_id)
            measures["measure_no"].append(i)
            measures["measure"].append(text)
            out.sources["measures"].append(source)
        for i, fig in enumerate(figs, 1):
            for key, value in (("incident_id", incident_id), ("figure_no", i), ("label", fig.label or None), ("value", fig.value),
                               ("unit", fig.unit), ("qualifier", fig.qualifier)):
                figures[key].append(value)
            out.sources["figures"].append(source)
    out.columns["measures"], out.columns["figures"] = measures, figures
    out.add(
        "reports",
        {
            "report_id": rid,
            "municipality_code": municipality.code,
            "municipality_name": municipality.name,
            "report_period_start": report.period.start,
            "report_period_end": report.period.end,
            "title": report.title,
            "source_file": report.file,
            "source_sha256": report.sha256,
            "incident_count": report.rows_read,  # as the report lists them, valid or not
        },
        Source(report.file, None, None),
    )
    return out


def normalize_report(report: RawReport, municipality: Municipality, memo: Memo | None = None,
                     careful_only: bool = False, vouched: Sequence[RowValues | None] | None = None) -> Normalized:
    """The report's records and problems. `careful_only`: read every row cell by cell, as
    rows with a problem are (the tests prove both ways give the same result). `vouched`:
    each row's values found beforehand by columnar.quick_values, or None where it could
    not vouch for the row."""
    memo = Memo() if memo is None else memo
    out = Normalized(rows_read=len(report.rows), headers={report.file: dict(report.headers)})
    quick_first = "discovered" not in report.headers and not careful_only
    seen: dict[int, int] = {}
    valid = ValueColumns()
    for at, raw in enumerate(report.rows):
        values = vouched[at] if vouched is not None and not careful_only else None
        if values is None and quick_first:
            values = quick(raw, memo)
        if values is not None and values.no not in seen:
            seen[values.no] = raw.line
        else:
            values, problems = careful(report, raw, memo, seen)
            out.problems.extend(problems)
            if values is None:
                out.rows_rejected += 1
                continue
        valid.append(raw, values)
    return records(report, municipality, valid, out)
