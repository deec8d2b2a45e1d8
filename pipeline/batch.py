"""A batch of reports parsed together where it is sent: in a worker, or in this process.

The batch's files are read into Arrow columns at once (arrow_reader.read_reports)
and normalized together (arrow_records.batch_tables). Its records are written once,
where they are made (`_placed`): as a pack of the cache (cache.py), which its
reports' cache entries point into, else as a chunk of the build's spool; only the
results, each saying where its rows are, and the cache entries go back to the
parent (parse_for_parent), which reads them back (received).
"""

from __future__ import annotations

import pickle
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from .arrow_reader import Item, ReadCells, read_reports
from .arrow_records import Spans, batch_tables
from .cache import Entry, cache_key, entry_of, loaded_entry, write_entries, write_pack
from .config import Config, Profile
from .errors import Problem
from .normalize import Normalized, Rows
from .readers import RawReport, ReadFailed
from .row_values import Memo
from .schema import load_schemas
from .sources import Input
from .privacy_tables import office_numbers_of
from .spool import Spilled, write_chunk


@dataclass
class Processed:
    """One input file: its report and normalized records, or why it could not be read."""

    name: str
    report: RawReport | None
    normalized: Normalized | None
    problems: list[Problem]  # reading problems (the normalizer's are in normalized.problems)
    rows_unreadable: int = 0  # data rows of a file refused as a whole, when known
    cached: bool = False


@dataclass(frozen=True)
class Job:
    """An input ready to be parsed: its profile and settings are known. The worker keys
    its result by the bytes it reads (_key)."""

    item: Input
    profile: Profile
    config: Config
    encoding: str | None
    cache_dir: Path | None
    size: int = 0  # the file's bytes: how much of a batch it fills
    settings: str = ""  # settings_digest of its profile


def _parse(jobs: list[Job]) -> tuple[list[Processed], dict[str, pa.Table], list[Spans | None]]:
    """Read a batch of reports and normalize them together: the results without their
    records, the batch's records as Arrow tables with their sources
    (arrow_records.batch_tables), and where each result's rows are in them."""
    found, cells = read_reports([Item(job.item.path, job.profile, job.encoding, job.item.name) for job in jobs])
    read = [Processed(job.item.name, None, None, r.problems, r.rows) if isinstance(r, ReadFailed) else r for job, r in zip(jobs, found)]
    pairs = [(r, job.config.municipality_of(r.profile), span) for job, r, span in zip(jobs, read, cells.spans) if isinstance(r, RawReport)]
    schemas = load_schemas()
    bare, tables, report_spans = batch_tables([r for r, _, _ in pairs], [m for _, m, _ in pairs], Memo(), schemas,
                                              ReadCells(cells.columns, [span for _, _, span in pairs]))
    normalized, spans_of = iter(bare), iter(report_spans)
    results: list[Processed] = []
    spans: list[Spans | None] = []
    for job, r in zip(jobs, read):
        if isinstance(r, RawReport):
            results.append(Processed(job.item.name, r.without_cells(), next(normalized), list(r.problems)))
            spans.append(next(spans_of))
        else:
            results.append(r)
            spans.append(None)
    return results, tables, spans


def _attached(placed: Placed) -> Placed:
    """Each result with its rows of the batch's tables, when they were written nowhere."""
    if placed.tables is not None:
        for result, span in zip(placed.results, placed.spans):
            if span is not None and result.normalized is not None:
                result.normalized.arrow = Rows(placed.tables, span)
    return placed


def parse_batch(jobs: list[Job], spool: Path | None = None) -> Placed:
    """Read a batch of reports and normalize them together (see _placed for where their
    records go): the results, each with where its rows are, and their cache entries."""
    return _attached(_placed(*_parse(jobs), jobs, spool))


def parse_for_parent(jobs: list[Job], spool: Path | None = None) -> bytes:
    """parse_batch in a worker, sent back in one payload: the results without their
    records, which it wrote itself (they never pass through the parent), and the cache
    entries; when they could be written nowhere, the batch's tables come in the payload.
    When every result has its cache entry, the results go only as those (pickled once)."""
    placed = _placed(*_parse(jobs), jobs, spool)
    if placed.entries and len(placed.entries) == len(placed.results):
        placed.results = []  # received reads them from the entries
    return pickle.dumps(placed, protocol=pickle.HIGHEST_PROTOCOL)


def received(payload: bytes, profiles: list[Profile]) -> Placed:
    """A worker's payload (see parse_for_parent), its results read back, each with its profile."""
    placed: Placed = pickle.loads(payload)
    if not placed.results and placed.entries:
        placed.results = [loaded_entry(entry.payload, profile) for entry, profile in zip(placed.entries, profiles)]
    return _attached(placed)


@dataclass
class Placed:
    """A parsed batch: its results, its tables when they were written nowhere (else each
    result says where its rows are), where each result's rows are, and its cache entries."""

    results: list[Processed]
    tables: dict[str, pa.Table] | None
    spans: list[Spans | None]
    entries: list[Entry]  # for the cache's index


def _placed(results: list[Processed], tables: dict[str, pa.Table], spans: list[Spans | None], jobs: list[Job],
            spool: Path | None) -> Placed:
    """The batch's records written once: as a pack of the cache when there is one (each
    result's cache entry points into it, and the spool reads it from there), else as a
    chunk of the spool; each result then says where its rows are (spool.Spilled). With
    neither, the tables are kept as they are."""
    cache_dir = next((job.cache_dir for job in jobs if job.cache_dir is not None), None)
    chunk, packed = None, False
    if any(span is not None for span in spans):  # else no report could be read: nothing to write
        chunk = write_pack(cache_dir, tables) if cache_dir is not None else None
        packed = chunk is not None
        if chunk is None and spool is not None:
            chunk = str(spool / f"batch-{uuid.uuid4().hex}")
            write_chunk(spool, Path(chunk).name, tables)
    if chunk is not None:
        office = office_numbers_of(tables["incidents"])
        report_ids = tables["reports"]["report_id"].to_pylist()
        for result, span in zip(results, spans):
            if span is not None and result.normalized is not None and result.report is not None:
                first, rows = span["reports"]
                report_id = (report_ids[first] or "") if rows else ""
                result.normalized.arrow = Spilled(chunk, span, report_id, office.get(result.report.file, frozenset()))
    pack = Path(chunk).name if packed and chunk is not None else None
    kept = [(key, entry_of(result)) for key, result in zip(map(_key, jobs, results), results)
            if cache_dir is not None and key and (result.normalized is None or packed)]  # not into a spool chunk: gone next run
    offsets = write_entries(chunk, [payload for _, payload in kept]) if pack is not None and chunk is not None and kept else None
    if offsets is None:  # in no pack: kept in the index itself
        entries = [Entry(key, payload, None) for key, payload in kept]
    else:
        entries = [Entry(key, payload, pack, at) for (key, payload), at in zip(kept, offsets)]
    return Placed(results, None if chunk is not None else tables, spans, entries)


def _key(job: Job, result: Processed) -> str:
    """The result's cache key: that of the bytes its report was read from, so that a file
    changed after it was looked up is not kept under the old bytes' key. A file that
    could not be read is not kept at all: the failure may pass (a file being copied, a
    disk back online), and kept under the key of the bytes looked up it would be given
    again for those bytes on every later run."""
    if result.report is None or not job.settings:
        return ""
    return cache_key(job.item.name, result.report.sha256, job.settings)
