"""The stages chained: read → normalize → validate → publish.

Each stage is a function over plain data; `build` runs them and publishes only
when nothing is invalid (strict), so the target folder either gets a whole new
package or stays exactly as it was.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from . import checks, ckan, dcat, landing, package, portal, privacy, publish, rejects, rules
from .config import Config
from .errors import Problem, errors_in
from .normalize import ARROW, FIELD_COLUMN, Normalized, Source, locate
from .readers import RawReport
from .schema import TABLES, TableSchema, load_schemas, typed_table
from .process import Progress, iter_processed
from .sources import find_inputs, select_reports
from .writers import WrittenFile, write_tables


@dataclass(frozen=True)
class FileSummary:
    """Row accounting of one input file: rows_read == rows_valid + rows_rejected + rows_superseded."""

    file: str
    rows_read: int
    rows_valid: int
    rows_rejected: int
    rows_published: int
    rows_superseded: int = 0  # rows of a report replaced by its 訂正版


@dataclass
class Outcome:
    """What a run found and did; the CLI renders it."""

    problems: list[Problem] = field(default_factory=list)
    reports: list[RawReport] = field(default_factory=list)
    superseded: list[RawReport] = field(default_factory=list)
    unreadable: dict[str, int] = field(default_factory=dict)  # file -> its data rows, when known
    normalized: Normalized = field(default_factory=Normalized)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    files: list[WrittenFile] = field(default_factory=list)
    published: Path | None = None
    kept_clean: bool = False  # keep-going: the rows left after dropping rejected ones are valid
    read_reports: list[RawReport] = field(default_factory=list)  # every report read and selected

    @property
    def ok(self) -> bool:
        return not errors_in(self.problems)

    def summaries(self) -> list[FileSummary]:
        """Every input file, every row: valid, rejected (an error names its row, or its
        whole file) or superseded; published when the package was."""
        rows_with_errors: dict[str, set[int]] = {}
        whole_file: set[str] = set()
        for p in errors_in(self.problems):
            if p.row is None:
                whole_file.add(p.file)
            else:
                rows_with_errors.setdefault(p.file, set()).add(p.row)
        published = {s.file for s in self.normalized.sources["reports"]} if self.published else set()
        out = []
        for report in self.read_reports:
            lines = {*report.lines, *(row.line for row in report.ragged)}
            bad = len(lines) if report.file in whole_file else len(rows_with_errors.get(report.file, set()) & lines)
            valid = len(lines) - bad
            out.append(FileSummary(report.file, len(lines), valid, bad, valid if report.file in published else 0))
        out += [FileSummary(r.file, r.rows_read, 0, 0, 0, r.rows_read) for r in self.superseded]
        out += [FileSummary(f, n, 0, n, 0) for f, n in self.unreadable.items()]
        return out


@dataclass(frozen=True)
class Options:
    """How a run reads: the text encoding to force, worker processes, the cache folder
    (None: no cache), and a callback told of each report as it is done."""

    encoding: str | None = None
    workers: int = 1
    cache_dir: Path | None = None
    progress: Progress | None = None


def as_arrow(values: list[Any] | pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    return values.cast(kind) if isinstance(values, ARROW) else pa.array(values, kind)


def to_tables(normalized: Normalized, schemas: dict[str, TableSchema]) -> dict[str, pa.Table]:
    """Typed Arrow tables, rows in primary-key order (the normalized rows and their sources
    reordered alike, so an index still finds its source). The normalized columns become
    those Arrow arrays; a build's come folded into Arrow already (_Folded), lists are
    converted here."""
    tables: dict[str, pa.Table] = {}
    for name in TABLES:
        schema = schemas[name].arrow_schema()
        values = normalized.columns[name]
        for f in schema:  # each column in turn, its Python values let go as soon as Arrow has them
            values[f.name] = as_arrow(values.get(f.name, []), f.type)
        columns = [values[f.name] for f in schema]
        table = pa.Table.from_arrays(columns, schema=pa.schema([f.with_nullable(True) for f in schema]))
        order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in schemas[name].primary_key])
        in_order = len(order) == 0 or pc.all(pc.equal(order, pa.array(range(len(order)), order.type))).as_py()
        if not in_order:
            table = table.take(order)
            normalized.keep(name, order.to_pylist())
        tables[name] = table
    return tables


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


@contextlib.contextmanager
def _bulk() -> Iterator[None]:
    """Millions of small objects are made and all kept: the cyclic garbage collector's
    passes over them would only cost time (a third of a cached rebuild at 100k). Nested
    uses leave it to the outermost to turn the collector back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check(paths: list[Path], config: Config, options: Options = Options()) -> Outcome:
    """Read, normalize and validate, publishing nothing."""
    with _bulk():
        return _check(paths, config, options)


@dataclass
class _Folded:
    """Each report's records folded in as it arrives, in input order, into Arrow chunks typed
    by the schema: a worker's results come as Arrow already (slices of its batch's tables),
    cached and in-process ones as Python lists. So the Python objects of a national archive
    never all live at once. Sources stay Python, and rows stay in the order of their
    sources. A chunk closes after every 50,000 incidents, wherever the reports came from:
    the Parquet bytes depend on where chunks end, and must not depend on the cache."""

    schemas: dict[str, TableSchema]
    merged: Normalized = field(default_factory=Normalized)
    chunks: dict[str, dict[str, list[pa.Array]]] = field(default_factory=dict)
    pending: list[dict[str, pa.Table]] = field(default_factory=list)  # in order, not yet chunks
    incidents: int = 0  # in `pending` and in the merged lists
    kept: dict[int, tuple[list[Problem], int, int]] = field(default_factory=dict)  # id(report) -> its problems, counts

    def __post_init__(self) -> None:
        self.merged.columns = {t: {f.name: [] for f in s.arrow_schema()} for t, s in self.schemas.items()}

    def add(self, report: RawReport, part: Normalized, every: int = 50_000) -> None:
        self.kept[id(report)] = (part.problems, part.rows_read, part.rows_rejected)
        if part.arrow is not None:
            self._lists_to_pending()  # the lists hold earlier rows
            self.pending.append(part.arrow)
            self.incidents += len(part.arrow["incidents"])
            self.merged.headers.update(part.headers)
            for name, sources in part.sources.items():
                self.merged.sources[name].extend(sources)
        else:
            self.merged.extend(replace(part, problems=[]))  # its problems are kept above
            self.incidents += len(part.sources["incidents"])
        if self.incidents >= every:
            self._close_chunk()

    def _lists_to_pending(self) -> None:
        rows = {name: len(next(iter(columns.values()), [])) for name, columns in self.merged.columns.items()}
        if any(rows.values()):
            self.pending.append({name: typed_table(columns, rows[name], self.schemas[name])
                                 for name, columns in self.merged.columns.items()})
            self.merged.columns = {name: {key: [] for key in columns} for name, columns in self.merged.columns.items()}

    def _close_chunk(self) -> None:
        self._lists_to_pending()
        if self.pending:
            for name in self.schemas:
                table = pa.concat_tables([p[name] for p in self.pending]).combine_chunks()
                for key in table.column_names:
                    self.chunks.setdefault(name, {}).setdefault(key, []).extend(table.column(key).chunks)
            self.pending, self.incidents = [], 0

    def result(self, reports: list[RawReport]) -> Normalized:
        """The records of `reports` alone (the others' rows dropped), each column a chunked
        Arrow array."""
        self._close_chunk()
        out = self.merged
        for name, schema in self.schemas.items():
            out.columns[name] = {f.name: pa.chunked_array(self.chunks.get(name, {}).get(f.name, []), f.type)
                                 for f in schema.arrow_schema()}
        files = {r.file for r in reports}
        if any(f not in files for f in out.headers):  # a superseded or clashing report was folded in
            for name, sources in out.sources.items():
                out.keep(name, [i for i, s in enumerate(sources) if s.file in files])
        out.problems = [p for r in reports for p in self.kept[id(r)][0]]
        out.rows_read = sum(self.kept[id(r)][1] for r in reports)
        out.rows_rejected = sum(self.kept[id(r)][2] for r in reports)
        return out


def _check(paths: list[Path], config: Config, options: Options) -> Outcome:
    outcome = Outcome()
    found = find_inputs(paths)
    folded = _Folded(load_schemas())
    processed = []
    for result in iter_processed(found.inputs, config, options.encoding, options.workers, options.cache_dir, options.progress):
        if result.report is not None and result.normalized is not None:
            folded.add(result.report, result.normalized)
            result.normalized = None  # folded in: let it go
        processed.append(result)
    outcome.problems.extend(found.skipped)
    selection = select_reports([r.report for r in processed if r.report is not None], config)
    replaced = {id(r) for r in selection.superseded}
    for result in processed:
        if id(result.report) not in replaced:  # a replaced report's own faults no longer matter
            outcome.problems.extend(result.problems)
        if result.report is None:
            outcome.unreadable[result.name] = result.rows_unreadable
    outcome.reports, outcome.superseded = selection.reports, selection.superseded
    outcome.read_reports = selection.reports + selection.clashing
    outcome.problems.extend(selection.problems)
    outcome.normalized = folded.result(selection.reports)
    outcome.problems.extend(outcome.normalized.problems)
    for report in selection.clashing:  # not published; their own faults are still worth knowing
        outcome.problems.extend(folded.kept[id(report)][0])
    outcome.tables, found_in_tables = validate_all(outcome.normalized, config)
    outcome.problems.extend(found_in_tables)
    outcome.problems.sort(key=lambda p: (p.file, p.row or 0))
    return outcome


def validate_all(normalized: Normalized, config: Config) -> tuple[dict[str, pa.Table], list[Problem]]:
    """The typed tables, and what the schema checks, the rules and the privacy scan find in them."""
    schemas = load_schemas()
    exceptions = privacy.load_exceptions(config.options)
    tables = to_tables(normalized, schemas)
    with ThreadPoolExecutor(max_workers=2) as pool:  # both read the tables only, mostly in Arrow (no GIL)
        scanned = pool.submit(privacy.scan_tables, tables, normalized, exceptions)
        problems = validate_tables(tables, normalized, schemas)
        problems += scanned.result()
    return tables, problems


def write_package(outcome: Outcome, config: Config, folder: Path) -> list[WrittenFile]:
    schemas = load_schemas()
    strict = {name: outcome.tables[name].cast(schemas[name].arrow_schema()) for name in TABLES}
    files = write_tables(strict, folder, threads=min(4, os.cpu_count() or 1))
    rejected = {s.file: s.rows_rejected for s in outcome.summaries() if s.rows_rejected}
    descriptor = package.descriptor(config.metadata, files, schemas, outcome.reports, rejected)
    package.write_descriptor(descriptor, folder)
    # portal metadata and landing page, from the descriptor just written (see portal.py)
    site = portal.portal_facts(descriptor, (folder / "datapackage.json").read_bytes(), outcome.tables["reports"], config.options)
    dcat.write_catalog(folder, site)
    ckan.write_package(folder, site)
    landing.write_landing_page(folder, site, outcome.tables, schemas)
    return files


def build(paths: list[Path], config: Config, out: Path, options: Options = Options(), wait: bool = True,
          keep_going: bool = False) -> Outcome:
    """Check everything; publish to `out` atomically only when nothing is invalid, or,
    with `keep_going`, the rows that are valid (see rejects.rejected_rows for the rest)."""
    publish.check_target(out, [*paths, config.root / "datapackage.json", config.root / "schema"])
    with _bulk():  # through the writing too: a collection there walks every record again
        return _build(paths, config, out, options, wait, keep_going)


def _build(paths: list[Path], config: Config, out: Path, options: Options, wait: bool, keep_going: bool) -> Outcome:
    outcome = check(paths, config, options)
    if keep_going and not outcome.ok:
        rejects.keep_valid_rows(outcome, lambda n: validate_all(n, config))
    publishable = outcome.ok or (keep_going and outcome.kept_clean)
    if not publishable or not outcome.reports:
        return outcome
    with publish.publish_lock(out, wait=wait):
        publish.clean_leftovers(out)
        staging = publish.new_staging(out)
        try:
            outcome.files = write_package(outcome, config, staging)
            publish.swap_in(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    outcome.published = out
    return outcome
