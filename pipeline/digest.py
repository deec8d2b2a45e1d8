"""What the landing page needs of the tables, in a size that does not grow with them.

A build streams the package in parts (whole reports' rows, in the tables'
final order) and never holds every row at once, yet the landing page
(:mod:`pipeline.landing`) counts every incident, lists the newest and
documents each field with a value from the data. A :class:`Digest` is made
from each part (:meth:`Digest.of`) and folded into the previous ones
(:meth:`Digest.merge`); the page made from the fold is the page the whole
tables would give, byte for byte, wherever the parts end. It keeps:

- each table's row count, and the distinct report periods
  (:func:`pipeline.portal.periods_of`), which the portal files need too;
- incidents per report period and category, and personal-data leaks per
  month discovered (incidents, persons, how many did not say): every
  chart's numbers derive from these, and they grow with the archive's span
  and categories, never with its rows;
- the TABLE_LIMIT newest incidents and the REPORT_LIMIT newest reports, only
  the columns shown and the sort keys, kept in table order: a package within
  a limit shows every row in its own order, a bigger one the newest, and the
  newest of the whole are among the newest of its parts;
- each column's first non-null value in table order (the data dictionary's
  example when the schema gives none).

Every step is Arrow compute (group-bys, a partial sort, a search for the first
valid value); Python only touches aggregates and the kept rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .portal import periods_of

TABLE_LIMIT = 1000  # incidents in the searchable table: the newest (all of a small package)
REPORT_LIMIT = 100  # source reports listed: the newest
TABLE_COLUMNS = ("incident_id", "discovered_on", "occurred_on", "category", "department", "division", "summary",
                 "personal_data_leaked", "leaked_persons", "persons_affected", "amount_jpy")
REPORT_COLUMNS = ("title", "report_period_start", "report_period_end", "incident_count", "source_file", "source_sha256")
# Newest first; the primary key breaks ties, so the order is total and the newest of the whole
# are the newest among the newest of its parts.
INCIDENT_ORDER = (("discovered_on", "descending"), ("incident_id", "ascending"))
REPORT_ORDER = (("report_period_end", "descending"), ("report_id", "ascending"))
CATEGORY_KEYS = ("report_period_start", "category")
MONTH_KEYS = ("year", "month")
NOTHING = pa.table({})  # Digest.empty's tables: no columns, the identity of _concat


def leaked(incidents: pa.Table) -> pa.Table:
    """The incidents where personal data leaked: only the columns the page counts."""
    columns = incidents.select(["discovered_on", "leaked_persons", "personal_data_leaked"])
    return columns.filter(columns.column("personal_data_leaked"))  # null counts as no


def _keep(table: pa.Table, limit: int, order: tuple[tuple[str, str], ...]) -> pa.Table:
    """The first `limit` rows by `order` (every row when there are no more), in table order.
    Taken, so copied: a part's buffers are not kept alive by the few rows kept of it."""
    if table.num_rows <= limit:
        return table.take(pa.array(np.arange(table.num_rows, dtype=np.int64)))
    picked = pc.select_k_unstable(table, k=limit, sort_keys=list(order))
    return table.take(pc.take(picked, pc.array_sort_indices(picked)))


def _concat(first: pa.Table, second: pa.Table) -> pa.Table:
    """`first`'s rows then `second`'s; a table with no columns (as in Digest.empty) adds nothing."""
    if not first.num_columns:
        return second
    if not second.num_columns:
        return first
    return pa.concat_tables([first, second], promote_options="default")  # a null-typed column takes the type


def _summed(table: pa.Table, keys: tuple[str, ...], values: tuple[str, ...]) -> pa.Table:
    """`values` summed per `keys`, sorted by them: the same table whatever the parts were."""
    if not table.num_columns:
        return table
    grouped = table.group_by(list(keys)).aggregate([(v, "sum") for v in values])
    grouped = grouped.select([*keys, *(f"{v}_sum" for v in values)]).rename_columns([*keys, *values])
    return grouped.sort_by([(k, "ascending") for k in keys])


def _by_category(incidents: pa.Table) -> pa.Table:
    """Incidents per report period and category (report_period_start, category, count)."""
    grouped = incidents.select(list(CATEGORY_KEYS)).group_by(list(CATEGORY_KEYS)).aggregate([([], "count_all")])
    return grouped.select([*CATEGORY_KEYS, "count_all"]).rename_columns([*CATEGORY_KEYS, "count"]).sort_by(
        [(k, "ascending") for k in CATEGORY_KEYS])


def _by_month(incidents: pa.Table) -> pa.Table:
    """Leaks per year and month discovered (both null when unknown): how many incidents
    (count), the persons they name (persons) and how many name none (unknown)."""
    rows = leaked(incidents)
    days = rows.column("discovered_on")
    months = pa.table({"year": pc.year(days), "month": pc.month(days), "persons": rows.column("leaked_persons")})
    grouped = months.group_by(list(MONTH_KEYS)).aggregate([
        ([], "count_all"), ("persons", "sum", pc.ScalarAggregateOptions(min_count=0)),
        ("persons", "count", pc.CountOptions(mode="only_null")),
    ])
    grouped = grouped.select([*MONTH_KEYS, "count_all", "persons_sum", "persons_count"])
    return grouped.rename_columns([*MONTH_KEYS, "count", "persons", "unknown"]).sort_by(
        [(k, "ascending") for k in MONTH_KEYS])


def _first_values(tables: Mapping[str, pa.Table]) -> tuple[tuple[str, str, Any], ...]:
    """(table, column, first non-null value) for each column that has one, found without a
    Python loop over the rows."""
    found = ((name, column, pc.index(table.column(column).is_valid(), True).as_py())
             for name, table in tables.items() for column in table.column_names)
    return tuple(sorted((name, column, tables[name].column(column)[i].as_py()) for name, column, i in found if i >= 0))


@dataclass(frozen=True)
class Digest:
    """A bounded summary of some whole reports' rows: see the module docstring. The tables
    hold no more than TABLE_LIMIT and REPORT_LIMIT rows, and aggregates."""

    rows: tuple[tuple[str, int], ...]  # (table, row count), by table name
    periods: tuple[tuple[date, date], ...]  # distinct (report_period_start, report_period_end), sorted
    categories: pa.Table  # report_period_start, category, count: incidents, sorted by the keys
    leaks: pa.Table  # year, month, count, persons, unknown: leaks by month discovered, sorted by the keys
    incidents: pa.Table  # the TABLE_LIMIT newest incidents by INCIDENT_ORDER, in table order
    reports: pa.Table  # the REPORT_LIMIT newest reports by REPORT_ORDER, in table order
    examples: tuple[tuple[str, str, Any], ...]  # (table, column, first non-null value), by table and column

    @classmethod
    def empty(cls) -> Digest:
        """No rows: the start of a fold (merging it changes nothing)."""
        return cls(rows=(), periods=(), categories=NOTHING, leaks=NOTHING, incidents=NOTHING, reports=NOTHING,
                   examples=())

    @classmethod
    def of(cls, tables: Mapping[str, pa.Table]) -> Digest:
        """The digest of one part: some whole reports' rows of every table (``reports`` and
        ``incidents`` at least), with the schema's field names."""
        incidents, reports = tables["incidents"], tables["reports"]
        return cls(
            rows=tuple(sorted((name, table.num_rows) for name, table in tables.items())),
            periods=periods_of(reports),
            categories=_by_category(incidents),
            leaks=_by_month(incidents),
            incidents=_keep(incidents.select(list(dict.fromkeys([*TABLE_COLUMNS, *(k for k, _ in INCIDENT_ORDER)]))),
                            TABLE_LIMIT, INCIDENT_ORDER),
            reports=_keep(reports.select(list(dict.fromkeys([*REPORT_COLUMNS, *(k for k, _ in REPORT_ORDER)]))),
                          REPORT_LIMIT, REPORT_ORDER),
            examples=_first_values(tables),
        )

    def merge(self, later: Digest) -> Digest:
        """The digest of this one's rows followed by `later`'s (associative, so a fold over
        the parts in order gives the digest of the whole tables)."""
        rows = dict(self.rows)
        for name, n in later.rows:
            rows[name] = rows.get(name, 0) + n
        seen = {(table, column) for table, column, _ in self.examples}
        return Digest(
            rows=tuple(sorted(rows.items())),
            periods=tuple(sorted(set(self.periods) | set(later.periods))),
            categories=_summed(_concat(self.categories, later.categories), CATEGORY_KEYS, ("count",)),
            leaks=_summed(_concat(self.leaks, later.leaks), MONTH_KEYS, ("count", "persons", "unknown")),
            incidents=_keep(_concat(self.incidents, later.incidents), TABLE_LIMIT, INCIDENT_ORDER),
            reports=_keep(_concat(self.reports, later.reports), REPORT_LIMIT, REPORT_ORDER),
            examples=tuple(sorted([*self.examples, *(e for e in later.examples if e[:2] not in seen)])),
        )

    def count(self, table: str) -> int:
        """The table's rows (0 when no part had it)."""
        return dict(self.rows).get(table, 0)

    def example(self, table: str, column: str) -> Any:
        """The column's first non-null value in table order ("" when there is none)."""
        return next((value for t, c, value in self.examples if (t, c) == (table, column)), "")

    def shown(self) -> pa.Table:
        """The incidents the page's table holds: all, in table order, when there are no more than
        TABLE_LIMIT; else the newest, newest first."""
        if self.count("incidents") <= TABLE_LIMIT:
            return self.incidents
        return self.incidents.sort_by(list(INCIDENT_ORDER))

    def listed(self) -> pa.Table:
        """The reports the page lists: as `shown`, with REPORT_LIMIT and REPORT_ORDER."""
        if self.count("reports") <= REPORT_LIMIT:
            return self.reports
        return self.reports.sort_by(list(REPORT_ORDER))


def fold(parts: Iterable[Mapping[str, pa.Table]]) -> Digest:
    """The digest of parts given in table order: one part's digest in memory at a time."""
    digest = Digest.empty()
    for part in parts:
        digest = digest.merge(Digest.of(part))
    return digest
