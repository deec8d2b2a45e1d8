"""Records set aside on disk between reading and publishing, so that memory stays flat.

A national archive's records do not fit in memory at once (a million incidents
weighed 2 GB in Python and Arrow). Most arrive on disk already: where a batch
of reports is parsed, its records are written as Arrow IPC files, one per
table, with their rows' sources (file, line, No.) as three more columns — a
pack of the cache, or a chunk in the spool's folder (batch._placed) — and
each report says where its rows are (`Spilled`). Records that come in memory
instead (a caller's own) are written to the spool's folder the same way, a
report at a time. Only where each report's rows lie is kept in memory.

Once every report is read and the published ones are chosen, `groups` hands
them back in publishing order — sorted by report_id, which begins every
primary key, so parts concatenated in order are the sorted tables — a part of
whole reports at a time, of about `chunk_incidents` incidents, and `read` (or
`read_runs` of the part's `runs`, in another process) gives a part's
records. The files are memory-mapped, and a part's rows are copied out before
the next is read.
Where parts end depends only on the chosen reports, never on the cache or the
number of workers, so the Parquet row groups (and bytes) do not either.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import Problem
from .normalize import Normalized, Source
from .privacy_tables import office_numbers_of
from .readers import RawReport
from .schema import TABLES, TableSchema, typed_table

SPOOL_PREFIX = "pipeline-spool-"  # a spool folder's name begins so (cache.prune removes those a killed run left)

SOURCE_COLUMNS = ("_source_file", "_source_row", "_source_no")
_SOURCE_FIELDS = [pa.field("_source_file", pa.string()), pa.field("_source_row", pa.int64()), pa.field("_source_no", pa.string())]


def with_sources(table: pa.Table, sources: list[Source]) -> pa.Table:
    """`table` with its rows' sources as three more columns (SOURCE_COLUMNS)."""
    columns = [*table.columns, pa.array([s.file for s in sources], pa.string()),
               pa.array([s.row for s in sources], pa.int64()), pa.array([s.no for s in sources], pa.string())]
    return pa.Table.from_arrays(columns, schema=pa.schema([*table.schema, *_SOURCE_FIELDS]))


def spool_schema(schema: TableSchema) -> pa.Schema:
    """A table's Arrow schema as the spool holds it: every field nullable (the checks find
    the missing values), then the sources."""
    return pa.schema([*(f.with_nullable(True) for f in schema.arrow_schema()), *_SOURCE_FIELDS])


@dataclass(frozen=True)
class SourceColumns(Sequence[Source]):
    """A part's row sources as the spool's Arrow columns: a Source is made only for a row
    that is looked at (a problem's row), not for each of millions."""

    files: pa.Array
    rows: pa.Array
    nos: pa.Array

    def __len__(self) -> int:
        return len(self.files)

    @overload
    def __getitem__(self, index: int) -> Source: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Source]: ...
    def __getitem__(self, index: int | slice) -> Source | Sequence[Source]:
        if isinstance(index, slice):
            return list(self)[index]
        return Source(self.files[index].as_py(), self.rows[index].as_py(), self.nos[index].as_py())

    def __iter__(self) -> Iterator[Source]:
        return map(Source, self.files.to_pylist(), self.rows.to_pylist(), self.nos.to_pylist())

    def positions_without(self, rows: set[tuple[str, int]], files: set[str]) -> list[int]:
        """The positions of the rows that come neither from `files` nor from a (file, line) of
        `rows`, found by Arrow (keep-going drops rejected rows a part at a time)."""
        keys = pa.array([f"{file}\x1f{row}" for file, row in rows], pa.string())
        line = pc.binary_join_element_wise(self.files, pc.cast(self.rows, pa.string()), "\x1f")
        dropped = pc.or_(pc.is_in(self.files, value_set=pa.array(list(files), pa.string())),
                         pc.fill_null(pc.is_in(line, value_set=keys), False))
        return pc.indices_nonzero(pc.invert(dropped)).to_pylist()

    def take(self, positions: list[int]) -> SourceColumns:
        at = pa.array(positions, pa.int64())
        return SourceColumns(self.files.take(at), self.rows.take(at), self.nos.take(at))


Run = tuple[str, int, int]  # a chunk's files (as Places.chunk_names), the first row and how many
Runs = dict[str, list[Run]]  # per table, where a part's rows are, in order


@dataclass
class Places:
    """Where each report's rows are, a list per fact in the order the reports were added:
    the parts are put together from these by numpy and Arrow, not by a walk over 66,000
    objects scattered in memory (a pass over them took 0.2 s at 1M, while the other
    core waited for the checks to begin)."""

    at: dict[int, int] = field(default_factory=dict)  # id(report) -> its position in the lists
    report_ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)  # its chunk, as a position in chunk_names
    chunk_names: list[str] = field(default_factory=list)  # the files' path without "-table.arrow"
    starts: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in TABLES})  # its first row in its chunk
    counts: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in TABLES})  # and how many
    _numbered: dict[str, int] = field(default_factory=dict)  # chunk -> its position in chunk_names
    _arrays: dict[str, np.ndarray] = field(default_factory=dict)  # the lists as numpy, made once they are all added

    def add(self, report: RawReport, rows: Spilled) -> None:
        self.at[id(report)] = len(self.report_ids)
        self.report_ids.append(rows.report_id)
        self.files.append(report.file)
        if rows.chunk not in self._numbered:
            self._numbered[rows.chunk] = len(self.chunk_names)
            self.chunk_names.append(rows.chunk)
        self.chunks.append(self._numbered[rows.chunk])
        for t in TABLES:
            start, count = rows.spans[t]
            self.starts[t].append(start)
            self.counts[t].append(count)
        self._arrays.clear()

    def _numpy(self, key: str, values: list[int]) -> np.ndarray:
        if key not in self._arrays:
            self._arrays[key] = np.asarray(values, np.int64)
        return self._arrays[key]

    def _positions(self, reports: Sequence[RawReport]) -> np.ndarray:
        return np.fromiter((self.at[id(r)] for r in reports), np.int64, len(reports))

    def in_order(self, reports: Sequence[RawReport]) -> tuple[list[int], list[int]]:
        """The indices of `reports` sorted by report_id, then file, and each one's incidents.
        Sorted by Arrow: stable, in code point order as Python's (NUL, in neither, ends the
        report_id)."""
        at = self._positions(reports)
        taken = pa.array(at)
        keys = pc.binary_join_element_wise(pa.array(self.report_ids, pa.string()).take(taken),
                                           pa.array(self.files, pa.string()).take(taken), "\x00")
        order = pc.sort_indices(keys).to_numpy()
        return order.tolist(), self._numpy("incidents counts", self.counts["incidents"])[at[order]].tolist()

    def runs(self, reports: Sequence[RawReport]) -> Runs:
        """Where the rows of `reports` are, per table, in that order: a report right after the
        one before in the same chunk lengthens its run. Small and plain, so that another
        process (the side writer) is told a part in a few hundred tuples."""
        at = self._positions(reports)
        chunks = self._numpy("chunks", self.chunks)[at]
        out: Runs = {}
        for t in TABLES:
            starts, counts = self._numpy(f"{t} starts", self.starts[t])[at], self._numpy(f"{t} counts", self.counts[t])[at]
            some = counts > 0
            chunk, start, count = chunks[some], starts[some], counts[some]
            new = np.ones(len(chunk), bool)
            new[1:] = (chunk[1:] != chunk[:-1]) | (start[1:] != start[:-1] + count[:-1])
            first = np.flatnonzero(new)
            lengths = np.add.reduceat(count, first) if len(first) else first
            out[t] = [(self.chunk_names[c], s, n) for c, s, n in zip(chunk[first].tolist(), start[first].tolist(), lengths.tolist())]
        return out


def write_chunk(folder: Path, name: object, tables: dict[str, pa.Table]) -> None:
    """A chunk's tables into `folder`, an Arrow IPC file per table, a record batch per chunk
    of it: a batch's tables come in two (the reports read in Arrow, then the few read row
    by row), and combined into one they were copied whole first."""
    for t in TABLES:
        with pa.ipc.new_file(folder / f"{name}-{t}.arrow", tables[t].schema) as writer:
            writer.write_table(tables[t])


@dataclass(frozen=True)
class Spilled:
    """One report's records in a file written where the batch was parsed (batch._placed):
    a pack of the cache, or a chunk in the spool's folder, so that they never pass
    through the parent. The spool reads them from there."""

    chunk: str  # the files' path without "-table.arrow"
    spans: dict[str, tuple[int, int]]  # table -> (first row, rows) in that chunk
    report_id: str
    office: frozenset[str]  # the office numbers of its contact phones (privacy_tables.office_numbers_of)


@dataclass
class Spool:
    """Use as a context manager: its folder is removed at the end, whatever happens."""

    schemas: dict[str, TableSchema]
    chunk_incidents: int = 50_000
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX)))  # build: in its staging folder
    places: Places = field(default_factory=Places)  # where each report's rows are
    problems: dict[int, list[Problem]] = field(default_factory=dict)  # id(report) -> its normalizer's problems, when it has some
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> column key -> header text
    office: dict[str, set[str]] = field(default_factory=dict)  # file -> the office numbers of its contact phones
    every_office: set[str] = field(default_factory=set)  # those of every report added

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, report: RawReport, part: Normalized) -> None:
        """One report's records and what its result says, in input order."""
        if part.problems:
            self.problems[id(report)] = part.problems
        self.headers.update(part.headers)
        rows = part.arrow if isinstance(part.arrow, Spilled) else self._spilled(report, part)
        self.places.add(report, rows)
        if rows.office:
            self.office.setdefault(report.file, set()).update(rows.office)
            self.every_office.update(rows.office)

    def office_of(self, reports: list[RawReport]) -> frozenset[str]:
        """The office numbers of `reports` (some of those added): the privacy scan's. When
        they are all of them, as in an archive with no report replaced or dropped, those
        gathered as the reports came, rather than 66,000 sets put together at 1M while
        the side writer waits for the checks to begin."""
        if len(reports) == len(self.places.at) and all(id(r) in self.places.at for r in reports):
            return frozenset(self.every_office)
        return frozenset().union(*(self.office.get(r.file, ()) for r in reports))

    def _spilled(self, report: RawReport, part: Normalized) -> Spilled:
        """Records that came in memory (a caller's own, not batch._placed's), written as a
        chunk of their own, so that every report's rows are read back one way."""
        if part.arrow is None:  # lists, as normalize_report gives them
            tables = {t: with_sources(typed_table(part.columns[t], len(part.sources[t]), self.schemas[t]), part.sources[t]) for t in TABLES}
        else:
            tables = {t: part.arrow.table(t) for t in TABLES}  # type: ignore[union-attr]
        chunk = str(self.folder / f"report-{len(self.places.at)}")
        write_chunk(self.folder, Path(chunk).name, tables)
        ids = tables["reports"]["report_id"].to_pylist()
        return Spilled(chunk, {t: (0, tables[t].num_rows) for t in TABLES}, (ids[0] or "") if ids else "",
                       office_numbers_of(tables["incidents"]).get(report.file, frozenset()))

    def groups(self, reports: list[RawReport]) -> Iterator[list[RawReport]]:
        """`reports` in publishing order, a part of whole reports at a time (at least one
        report, about chunk_incidents incidents)."""
        order, counts = self.places.in_order(reports)
        group: list[RawReport] = []
        incidents = 0
        for i, count in zip(order, counts):
            group.append(reports[i])
            incidents += count
            if incidents >= self.chunk_incidents:
                yield group
                group, incidents = [], 0
        if group:
            yield group

    def read(self, reports: list[RawReport], runs: Runs | None = None) -> Normalized:
        """The records of `reports`, in that order, copied out of the chunk files (`runs`:
        where they are, when known already)."""
        return read_runs(self.runs(reports) if runs is None else runs, self.schemas, self.headers_of(reports))

    def runs(self, reports: list[RawReport]) -> Runs:
        """Where the rows of `reports` are (Places.runs)."""
        return self.places.runs(reports)

    def headers_of(self, reports: list[RawReport]) -> dict[str, dict[str, str]]:
        """Each report's column headers as written (for messages), by file."""
        return {r.file: self.headers[r.file] for r in reports if r.file in self.headers}


def read_runs(runs: Runs, schemas: dict[str, TableSchema], headers: dict[str, dict[str, str]]) -> Normalized:
    """The records at `runs` (Places.runs), in that order, copied out of the chunk files: a
    function of files on disk, so that another process (the side writer) reads a part as
    the spool does."""
    out = Normalized(headers=dict(headers))
    mapped: dict[tuple[str, str], pa.Table] = {}
    for t in TABLES:
        slices: list[pa.Table] = []
        for chunk, start, rows in runs[t]:
            key = (chunk, t)
            if key not in mapped:
                mapped[key] = pa.ipc.open_file(pa.memory_map(f"{chunk}-{t}.arrow")).read_all()
            slices.append(mapped[key].slice(start, rows))
        schema = spool_schema(schemas[t])
        # copied, so that no map outlives the part: concat_arrays copies even a single slice,
        # twenty times quicker than the take it replaces
        table = pa.Table.from_arrays([pa.concat_arrays([c for s in slices for c in s.column(f.name).chunks]) if slices
                                      else pa.array([], f.type) for f in schema], schema=schema)
        out.columns[t] = {name: table.column(name) for name in table.column_names if name not in SOURCE_COLUMNS}
        out.sources[t] = SourceColumns(*(table.column(c).chunk(0) if table.column(c).num_chunks else pa.array([], f.type)
                                         for c, f in zip(SOURCE_COLUMNS, _SOURCE_FIELDS)))
    mapped.clear()
    return out
