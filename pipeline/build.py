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
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from . import cache, ckan, dcat, landing, package, portal, privacy_tables, process, publish, rejects, side_writer
from .batch import Processed
from .config import Config
from .errors import Problem, errors_in
from .landing import Digest
from .normalize import Normalized
from .process import Progress, iter_processed
from .readers import RawReport
from .schema import TABLES, load_schemas
from .sources import find_inputs, period_key, select_reports
from .spool import SPOOL_PREFIX, Runs, Spool
from .validation import to_tables, validate_all
from .writers import FORMATS, PackageWriter, WrittenFile


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
    normalized: Normalized = field(default_factory=Normalized)  # check(tables=True) only: the records of `tables`
    tables: dict[str, pa.Table] = field(default_factory=dict)  # check(tables=True) only: a build streams them
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows checked (published, when the package is)
    published_files: set[str] = field(default_factory=set)  # files whose report is in the tables
    files: list[WrittenFile] = field(default_factory=list)
    published: Path | None = None
    kept_clean: bool = False  # keep-going: the rows left after dropping rejected ones are valid
    read_reports: list[RawReport] = field(default_factory=list)  # every report read and selected

    @property
    def ok(self) -> bool:
        return not errors_in(self.problems)

    @property
    def publishable(self) -> bool:
        """Nothing is invalid, or keep-going left only valid rows."""
        return self.ok or self.kept_clean

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
        published = self.published_files if self.published else set()
        out = []
        for report in self.read_reports:
            lines = {*report.lines, *(row.line for row in report.ragged)}
            bad = len(lines) if report.file in whole_file else len(rows_with_errors.get(report.file, set()) & lines)
            valid = len(lines) - bad
            out.append(FileSummary(report.file, len(lines), valid, bad, valid if report.file in published else 0))
        out += [FileSummary(r.file, r.rows_read, 0, 0, 0, r.rows_read) for r in self.superseded]
        out += [FileSummary(f, n, 0, n, 0) for f, n in self.unreadable.items()]
        return out

    def rejected_rows(self) -> dict[str, int]:
        """The files with rows rejected, and how many: none without an error or an unreadable
        file, without a summary of every file made to find that out (66,000 at 1M)."""
        if not errors_in(self.problems) and not self.unreadable:
            return {}
        return {s.file: s.rows_rejected for s in self.summaries() if s.rows_rejected}


@dataclass(frozen=True)
class Options:
    """How a run reads: the text encoding to force, worker processes, the cache folder
    (None: no cache), a callback told of each report as it is done, and about how many
    incidents are checked and written at a time (memory grows with it, not with the archive)."""

    encoding: str | None = None
    workers: int = 1
    cache_dir: Path | None = None
    progress: Progress | None = None
    part_incidents: int = 50_000


@contextlib.contextmanager
def _bulk() -> Iterator[None]:
    """Millions of small objects are made and all kept: the cyclic garbage collector's
    passes over them would only cost time (a third of a cached rebuild at 100k). Nested
    uses leave it to the outermost to turn the collector back on. What was made meanwhile
    and kept is then handed to the oldest generation at once: left in the youngest, the
    collector's next pass, due within the next few hundred objects, would walk all of it
    (0.24 s at the end of a 1M build)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():  # else unfreeze would also thaw what someone else froze
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _arrow_lists_ready() -> None:
    """pyarrow imports pandas at its first array made from a list (to look for pandas types
    in it): 0.2 s, and 0.3 s in each worker process beside the other, at its first batch.
    Done here, beside the search for inputs, before any worker is forked."""
    pa.array([], pa.string())


# a part's tables, its records in the same order, and whether the package may still be published
Sink = Callable[[dict[str, pa.Table], Normalized, bool], None]


def _run(paths: list[Path], config: Config, options: Options, sink: Sink, keep_going: bool = False,
         spool_in: Path | None = None,
         writing_parts: Callable[[list[Runs], bool], contextlib.AbstractContextManager[None]] | None = None) -> Outcome:
    """Read and normalize every input into a spool (a folder made in `spool_in`), choose the
    reports to publish, then check them a part at a time (spool.Spool.groups) and hand each
    part's tables to `sink`. With `keep_going` a part's rejected rows are dropped first
    (rejects.keep_valid_rows). The parts are checked inside the context `writing_parts`
    gives, told where each part's rows are and whether the package may still be
    published; it is left while the spool still holds the parts."""
    outcome = Outcome()
    with ThreadPoolExecutor(1) as beside:
        warmed = beside.submit(_arrow_lists_ready)
        found = find_inputs(paths)
    warmed.result()  # its error, if it had one, rather than none
    folder = Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX, dir=spool_in))
    # the cache held to the end: the parts are read from its packs
    with cache.in_use(options.cache_dir, process.code_version()), Spool(load_schemas(), options.part_incidents, folder) as spool:
        # What the choice of reports needs is noted as each result comes, while it is in the
        # processor's cache: at 1M each later pass over the results took 0.2 s of one core.
        reports: list[RawReport] = []
        keys: list[tuple[str, object]] = []
        faulty: list[Processed] = []  # the results with reading problems, or no report: few
        for result in iter_processed(found.inputs, config, options.encoding, options.workers, options.cache_dir, options.progress,
                                     spool=folder):
            if result.report is not None:
                reports.append(result.report)
                keys.append(period_key(result.report, config))
                if result.normalized is not None:
                    spool.add(result.report, result.normalized)
                    result.normalized = None  # spooled: let it go
            if result.problems or result.report is None:
                faulty.append(result)
        outcome.problems.extend(found.skipped)
        selection = select_reports(reports, config, keys)
        del reports, keys
        replaced = {id(r) for r in selection.superseded}
        for result in faulty:
            if id(result.report) not in replaced:  # a replaced report's own faults no longer matter
                outcome.problems.extend(result.problems)
            if result.report is None:
                outcome.unreadable[result.name] = result.rows_unreadable
        outcome.reports, outcome.superseded = selection.reports, selection.superseded
        outcome.read_reports = selection.reports + selection.clashing
        outcome.problems.extend(selection.problems)
        counted = {id(r) for r in outcome.read_reports}  # a clashing report is not published; its faults still count
        outcome.problems.extend(p for key, its in spool.problems.items() if key in counted for p in its)
        known: dict[str, list[Problem]] = {}
        for p in errors_in(outcome.problems):
            known.setdefault(p.file, []).append(p)
        outcome.kept_clean = keep_going
        dropped = {p.file for p in errors_in(outcome.problems) if p.row is None} if keep_going else set()
        groups = list(spool.groups(selection.reports))
        runs = [spool.runs(group) for group in groups]
        with writing_parts(runs, outcome.publishable) if writing_parts is not None else contextlib.nullcontext():
            # gathered once the side writer (when there is one) is at work on the first part
            office = spool.office_of([r for r in selection.reports if r.file not in dropped])
            seen = privacy_tables.Seen(office)  # what the privacy scan found in the texts of earlier parts
            for reports, where in zip(groups, runs):
                part = spool.read(reports, where)
                tables, found_in_part = validate_all(part, config, office, seen)
                outcome.problems.extend(found_in_part)
                if keep_going:
                    errors = [p for r in reports for p in known.get(r.file, [])] + errors_in(found_in_part)
                    if errors:
                        part, tables, new, clean = rejects.keep_valid_rows(part, tables, errors, lambda n: validate_all(n, config, office, seen))
                        outcome.problems.extend(new)
                        outcome.kept_clean = outcome.kept_clean and clean
                for name, table in tables.items():
                    outcome.rows[name] = outcome.rows.get(name, 0) + table.num_rows
                outcome.published_files.update(s.file for s in part.sources["reports"])  # a report's own row: a few
                sink(tables, part, outcome.publishable)
    if keep_going:
        dropped = {p.file for p in errors_in(outcome.problems) if p.row is None}
        outcome.reports = [r for r in outcome.reports if r.file not in dropped]
    outcome.problems.sort(key=lambda p: (p.file, p.row or 0))
    return outcome


def check(paths: list[Path], config: Config, options: Options = Options(), tables: bool = True) -> Outcome:
    """Read, normalize and validate, publishing nothing. With `tables`, the outcome keeps the
    typed tables and their records whole (all in memory: for small runs and tests)."""
    parts: list[tuple[dict[str, pa.Table], Normalized]] = []
    with _bulk():
        outcome = _run(paths, config, options, lambda t, n, _: parts.append((t, n)) if tables else None, spool_in=_spool_in(options))
    if tables:
        empty = to_tables(Normalized(), load_schemas())
        outcome.tables = {name: pa.concat_tables([empty[name], *(t[name] for t, _ in parts)]) for name in TABLES}
        outcome.normalized = _joined([n for _, n in parts])
    return outcome


def _spool_in(options: Options) -> Path | None:
    """Where check() spools: the cache folder when it can be written there (the system's
    temporary folder may be a small tmpfs), else the temporary folder (None)."""
    folder = options.cache_dir
    return folder if folder is not None and folder.is_dir() and os.access(folder, os.W_OK | os.X_OK) else None


def _joined(parts: list[Normalized]) -> Normalized:
    """Parts' records one after the other (their columns are Arrow, past to_tables)."""
    out = Normalized()
    for name in TABLES:
        keys = {key: values.type for n in parts for key, values in n.columns[name].items()}
        out.columns[name] = {key: pa.chunked_array([c for n in parts for c in _chunks(n.columns[name].get(key), len(n.sources[name]), kind)], kind)
                             for key, kind in keys.items()}
        out.sources[name] = [s for n in parts for s in n.sources[name]]
    for n in parts:
        out.headers.update(n.headers)
    return out


def _chunks(values: pa.Array | pa.ChunkedArray | None, rows: int, kind: pa.DataType) -> list[pa.Array]:
    if values is None:
        return [pa.nulls(rows, kind)]
    return values.chunks if isinstance(values, pa.ChunkedArray) else [values]


def write_metadata(outcome: Outcome, config: Config, folder: Path, digest: Digest) -> None:
    """datapackage.json, the portal metadata and the landing page, for the files written."""
    schemas = load_schemas()
    descriptor = package.descriptor(config.metadata, outcome.files, schemas, outcome.reports, outcome.rejected_rows())
    package.write_descriptor(descriptor, folder)
    # portal metadata and landing page, from the descriptor just written (see portal.py)
    site = portal.portal_facts(descriptor, (folder / "datapackage.json").read_bytes(), digest.periods, config.options)
    dcat.write_catalog(folder, site)
    ckan.write_package(folder, site)
    landing.write_landing_page(folder, site, digest, schemas)


def build(paths: list[Path], config: Config, out: Path, options: Options = Options(), wait: bool = True,
          keep_going: bool = False) -> Outcome:
    """Check everything; publish to `out` atomically only when nothing is invalid, or,
    with `keep_going`, the rows that are valid (see rejects.rejected_rows for the rest)."""
    publish.check_target(out, [*paths, config.root / "datapackage.json", config.root / "schema"])
    with _bulk():  # through the writing too: a collection there walks every record again
        return _build(paths, config, out, options, wait, keep_going)


def _build(paths: list[Path], config: Config, out: Path, options: Options, wait: bool, keep_going: bool) -> Outcome:
    """The package is written part by part into a staging folder while the parts are
    checked, and swapped in whole at the end only when it may be published. The lock is
    held throughout, so runs into one folder follow each other and the last to start is
    the last to publish; a killed run's staging folder and spool (its sibling) are removed
    under it by the next run (publish.clean_leftovers)."""
    schemas = load_schemas()
    strict = {name: schemas[name].arrow_schema() for name in TABLES}
    with publish.publish_lock(out, wait=wait):
        publish.clean_leftovers(out)
        staging = publish.new_staging(out)
        spool = staging.with_name(staging.name + "-spool")  # beside it: never swapped in with the package
        spool.mkdir()
        standing: side_writer.SideWriter | None = None
        try:
            # forked now, while this process is small and has started no thread (see side_writer)
            standing = side_writer.standby() if options.workers > 1 and not keep_going else None
            digest = Digest.empty()
            writing: Future[None] | None = None
            writer: PackageWriter | None = None
            side: side_writer.SideWriter | None = None
            side_files: list[WrittenFile] = []
            with contextlib.ExitStack() as stack, ThreadPoolExecutor(1) as background:  # the background's writes end first

                @contextlib.contextmanager
                def files_open(parts: list[Runs], publishable: bool) -> Iterator[None]:
                    """The package's files open while the parts are checked. With more than one
                    part, while the package may still be published, the CSV and JSON files of the
                    largest tables are written by the process standing by (side_writer.FILES),
                    which is waited for, or stopped, before the spool it reads goes; else it is
                    dismissed."""
                    nonlocal writer, side, side_files
                    side = standing if standing is not None and publishable and len(parts) > 1 else None
                    if side is None and standing is not None:
                        standing.cancel()
                    files = None if side is None else [(t, f) for t in strict for f in FORMATS if (t, f) not in side_writer.FILES]
                    writer = stack.enter_context(PackageWriter(staging, strict, threads=min(4, os.cpu_count() or 1), files=files))
                    if side is not None:
                        side.begin(staging, strict, parts)
                    try:
                        yield
                    except BaseException:
                        if side is not None:
                            side.cancel()
                        raise
                    if side is not None and side.stop.is_set():  # the build will not publish
                        side.cancel()
                    elif side is not None:
                        side_files = side.finish()

                def write(tables: dict[str, pa.Table]) -> None:
                    nonlocal digest
                    assert writer is not None
                    writer.write(tables)
                    digest = digest.merge(Digest.of(tables))

                def sink(tables: dict[str, pa.Table], _: Normalized, publishable: bool) -> None:
                    """A part's files (those not written beside) are written in the background
                    while the next part is checked (Arrow's writers let go of the GIL), one part
                    at a time and in order."""
                    nonlocal writing
                    if not publishable and side is not None:
                        side.stop.set()  # nothing will be published: it stops at its next part
                    if publishable:  # else nothing will be published: writing it would be wasted
                        if writing is not None:
                            writing.result()  # the part before is written (or its error raised here)
                        writing = background.submit(write, tables)

                outcome = _run(paths, config, options, sink, keep_going, spool_in=spool, writing_parts=files_open)
                if not outcome.publishable or not outcome.reports or writer is None:
                    return outcome  # the invalid rows are the news, not a failed write (the executor still waits)
                if writing is not None:
                    writing.result()
                files = writer.close() + side_files
                order = {(name, fmt): i for i, (name, fmt) in enumerate((n, f) for n in strict for f in FORMATS)}
                outcome.files = sorted(files, key=lambda f: order[f.table, f.format])
            with ThreadPoolExecutor(1) as syncing:  # the data files go to disk while the metadata is written
                synced = syncing.submit(publish.fsync_files, [staging / f.path for f in outcome.files])
                write_metadata(outcome, config, staging, digest)
                synced.result()
            publish.swap_in(staging, out)
        finally:
            if standing is not None and not standing.ended:  # something failed before it was waited for
                standing.cancel()
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(spool, ignore_errors=True)
    outcome.published = out
    return outcome
