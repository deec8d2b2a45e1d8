"""Read and normalize each report on its own: in parallel, and through a cache.

A report's normalized result depends only on its bytes, its source profile, the
municipality, the pipeline's code and the Table Schemas, so it is cached under a
key made of those (cache.cache_key); adding or correcting one quarter in a large
archive re-parses only that report. Reports are independent, so they are
spread over worker processes (`workers`) in batches (batch.py), each normalized
together and its records written once where it is parsed; only the results, and
where their rows are, come back to the parent. When the cache has results, the
workers also read the files for their keys and look them up (_looked_up). With
one worker, or few reports, everything runs in this process. Results come back
in input order, so the build stays reproducible whatever the number of workers.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path

from .batch import Job, Processed, parse_batch, parse_for_parent, received
from .cache import PACKS, CacheIndex, loaded_entry, open_index, pack_intact
from .cache_lookup import look_up
from .config import Config, ConfigError, Profile
from .errors import Problem
from .schema import schema_dir
from .sources import Input
from .spool import Spilled

Progress = Callable[["Processed"], None]
BATCH_BYTES = 8 << 20  # a batch's raw text at most (about 14,000 incidents): a worker's memory follows it
BACKLOG = 2048  # results held in the parent waiting for an earlier one


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the pipeline's own source and of the Table Schemas: any change to the
    code invalidates the cache, and so does a change to the schemas, since a cached
    report's records are kept as Arrow typed by them."""
    digest = hashlib.sha256()
    for path in [*sorted(Path(__file__).parent.glob("*.py")), *sorted(schema_dir().glob("*.json"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def settings_digest(profile: Profile, config: Config, encoding: str | None) -> str:
    """What, besides the file, a report's result depends on: its profile, municipality,
    forced encoding and the pipeline's code (the same for every file of a profile)."""
    municipality = config.municipality_of(profile)
    columns = list(profile.columns.items())  # in order: the first key listing a header wins it
    facts = json.dumps([columns, profile.sheet, asdict(municipality), encoding, code_version()], ensure_ascii=False, default=str)
    return hashlib.sha256(facts.encode("utf-8")).hexdigest()


def _loaded(payload: bytes, cache_dir: Path, packs: dict[str, str | None], profile: Profile) -> Processed | None:
    """A stored result (its entry's payload, as look_up found it), read with `profile`, or
    None when it cannot be used: it does not unpickle, or the pack its records are in is
    damaged (checked once a run: `packs` maps the pack as an entry names it to where it is
    in this cache, None when damaged)."""
    try:
        found = loaded_entry(payload, profile)  # our own file, intact, under a key of its inputs
    except Exception:  # an older layout, say: parse the report again
        return None
    if not isinstance(found, Processed):
        return None
    rows = found.normalized.arrow if found.normalized is not None else None
    if isinstance(rows, Spilled):  # in a pack of this cache, wherever the cache is now
        if rows.chunk not in packs:  # a pack holds about a thousand reports: its path is made and checked once
            pack = str(cache_dir / PACKS / Path(rows.chunk).name)
            packs[rows.chunk] = pack if pack_intact(pack) else None
        pack = packs[rows.chunk]
        if pack is None:
            return None
        if pack != rows.chunk:  # the cache was moved
            found.normalized.arrow = replace(rows, chunk=pack)  # type: ignore[union-attr]
    return found


def prepare(item: Input, config: Config, encoding: str | None, cache_dir: Path | None,
            profiles: dict[Path | str, Profile], settings: dict[int, tuple[Profile, str]] | None = None) -> Job | Processed:
    """The job for one input, or its result when the file is missing or its profile broken.
    `profiles` and `settings` keep what is the same for many files (by folder, by profile).
    The file is not read here: it is read for its key where it is looked up (_looked_up),
    and again by the worker that parses it, which keys the result by those bytes
    (batch._key)."""
    settings = {} if settings is None else settings
    try:
        size = item.path.stat().st_size  # one look at the disk: whether it is there, and its size
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):  # what Path.exists takes for "not there"
            problem = Problem("file-unreadable", str(item.path), params={
                "reason": "there is no such file or folder", "reason_ja": "そのようなファイルやフォルダーはありません"})
            return Processed(str(item.path), None, None, [problem])
        size = 0  # reading it says what is wrong
    try:
        profile = config.profile_for(item.path, item.top, profiles)
    except ConfigError as exc:
        return Processed(item.name, None, None, [Problem("bad-profile", item.name, params={"reason": str(exc)})])
    digest = ""
    try:
        if id(profile) not in settings:  # the profile is kept with it, so that its id stays its own
            settings[id(profile)] = (profile, settings_digest(profile, config, encoding))
        digest = settings[id(profile)][1]
    except OSError:
        size = 0
    return Job(item, profile, config, encoding, cache_dir, size, digest)


LOOKUP = 512  # inputs looked up in the cache at a time (look_up), by a worker when there are some
Lookups = tuple[list[tuple[str, int, bytes | None]], sqlite3.Error | None]


def _looked_up(inputs: list[Input], prepare_one: Callable[[Input], Job | Processed],
               look: Callable[[list[Job]], Future[Lookups] | Lookups], index: CacheIndex,
               ahead: int = 2) -> Iterator[tuple[Input, Job | Processed, bytes | None]]:
    """Each input prepared and, when it is a job, looked up in the cache: the job with its
    size as read for its key, and its entry's payload when there is one.
    `look` takes LOOKUP inputs at a time, `ahead` such chunks ahead of the one given, so
    that the workers read and hash the files while the parent unpickles what they found.
    When a chunk could not be looked up throughout, `index` fails as when its own lookup
    fails: the cache is off for the rest of the run."""
    chunks = iter([inputs[at:at + LOOKUP] for at in range(0, len(inputs), LOOKUP)])
    pending: list[tuple[list[Input], list[Job | Processed], Future[Lookups] | Lookups]] = []

    def start() -> None:
        chunk = next(chunks, None)
        if chunk is not None:
            prepared = [prepare_one(item) for item in chunk]
            pending.append((chunk, prepared, look([p for p in prepared if isinstance(p, Job)])))

    for _ in range(ahead):
        start()
    while pending:
        chunk, prepared, work = pending.pop(0)
        start()
        found, failure = work.result() if isinstance(work, Future) else work
        if failure is not None and index.connection is not None:
            index.fail(failure)
        looked = iter(found)
        for item, job in zip(chunk, prepared):
            if isinstance(job, Job):
                _, size, payload = next(looked)
                yield item, replace(job, size=size) if size != job.size else job, payload  # size: as read for its key
            else:
                yield item, job, None


def process_all(inputs: list[Input], config: Config, encoding: str | None = None, workers: int = 1,
                cache_dir: Path | None = None, progress: Progress | None = None) -> list[Processed]:
    """Every input processed, in input order (see iter_processed)."""
    return list(iter_processed(inputs, config, encoding, workers, cache_dir, progress))


def iter_processed(inputs: list[Input], config: Config, encoding: str | None = None, workers: int = 1,
                   cache_dir: Path | None = None, progress: Progress | None = None, spool: Path | None = None) -> Iterator[Processed]:
    """Every input processed, yielded in input order as soon as it and those before it are
    done (so a caller can fold each in and let it go); `progress` hears of each. Each
    batch's records go into the cache's packs, else into the `spool` folder when there is
    one (see batch._placed).

    When the cache has results, the files are read for their keys and looked up by the
    workers (_looked_up), and what they find is loaded here. The reports to parse go out
    in batches as soon as a batch is full (1,024 reports or BATCH_BYTES), so the workers
    start while later files are still being looked up, and results are yielded as they
    come, with at most two batches per worker out at a time, so memory stays flat however
    many reports there are; worker processes start only with at least two reports per
    worker, and a last, partial batch is parsed here when there are no workers (one
    corrected report, say)."""
    profiles: dict[Path | str, Profile] = {}
    settings: dict[int, tuple[Profile, str]] = {}
    packs: dict[str, str | None] = {}  # cache packs checked in this run (see _loaded)
    results: list[Processed | None] = []
    size = max(1, min(1024, len(inputs) // (max(workers, 1) * 8)))
    waiting: list[tuple[list[int], Future[bytes] | list[Job], list[Profile]]] = []
    batch_at: dict[int, int] = {}  # position of a report being parsed -> its batch in `waiting`
    batch: list[tuple[int, Job]] = []
    batch_bytes = 0
    outstanding = 0  # batches sent to the workers and not yet taken back
    emitted = 0  # results yielded so far
    held = 0  # results done (cached, or back from a batch) and not yet yielded
    with contextlib.ExitStack() as stack:
        results_index = open_index(cache_dir, code_version()) if cache_dir is not None else None
        stack.callback(lambda: results_index.close() if results_index is not None else None)  # after the workers have stopped
        pool: ProcessPoolExecutor | None = None
        lookers: ProcessPoolExecutor | None = None  # the workers, when they look reports up

        def start_pool() -> None:
            nonlocal pool
            if pool is None and workers > 1 and len(inputs) >= 2 * workers:
                pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))

        looking = results_index is not None and results_index.connection is not None and not results_index.empty
        if looking and workers > 1 and len(inputs) > LOOKUP:  # else the few reports are looked up here
            # The workers are forked while this process holds no connection to the index: a
            # process forked from one that does would take its locks on the file for its own
            # (SQLite keeps them per process), and read past a writer.
            results_index.close()  # type: ignore[union-attr]
            start_pool()
            if pool is not None:
                pool.submit(int).result()  # the workers start at the first task
                lookers = pool
            results_index = open_index(cache_dir, code_version())  # type: ignore[arg-type]
            looking = results_index.connection is not None and not results_index.empty

        def send(full: bool) -> None:
            nonlocal outstanding
            if full:
                start_pool()
            jobs = [job for _, job in batch]
            batch_at.update((at, len(waiting)) for at, _ in batch)
            waiting.append(([at for at, _ in batch], pool.submit(parse_for_parent, jobs, spool) if pool else jobs,
                            [job.profile for job in jobs]))
            outstanding += pool is not None
            batch.clear()

        def emit(ahead: int) -> Iterator[Processed]:
            """The results ready, in input order; waits for the workers only while more than
            `ahead` batches are out, so that their payloads and cached results never pile up."""
            nonlocal emitted, outstanding, held
            while emitted < len(results):
                if results[emitted] is None:
                    index = batch_at.get(emitted)
                    if index is None:
                        return  # in the batch still being filled
                    positions, work, used = waiting[index]
                    if isinstance(work, Future):
                        if not work.done() and outstanding <= ahead and held <= BACKLOG:
                            return
                        outstanding -= 1
                    _collect(positions, work, used, results, progress, spool, results_index)
                    held += len(positions)
                    waiting[index] = ([], [], [])  # let the worker's payload go
                done, results[emitted] = results[emitted], None  # the caller keeps it, or lets it go
                emitted += 1
                held -= 1
                yield done  # type: ignore[misc]

        def caching() -> Path | None:
            return cache_dir if results_index is not None and results_index.connection is not None else None  # else no packs

        def prepare_one(item: Input) -> Job | Processed:
            return prepare(item, config, encoding, caching(), profiles, settings)

        def look(jobs: list[Job]) -> Future[Lookups] | Lookups:
            if results_index is None or results_index.connection is None:  # the cache was turned off: nothing to look up
                return [("", job.size, None) for job in jobs], None
            files = [(job.item.path, job.item.name, job.settings) for job in jobs]
            if lookers is not None:
                return lookers.submit(look_up, files, results_index.path)
            return look_up(files, results_index.path)

        prepared_inputs: Iterator[tuple[Input, Job | Processed, bytes | None]]
        if looking:  # the files are read for their keys and looked up, by the workers when they look
            prepared_inputs = _looked_up(inputs, prepare_one, look, results_index, ahead=max(2, workers))  # type: ignore[arg-type]
        else:  # nothing to look up: no cache, or an empty one
            prepared_inputs = ((item, prepare_one(item), None) for item in inputs)
        for item, prepared, payload in prepared_inputs:
            now = caching()
            if isinstance(prepared, Job) and prepared.cache_dir is not now:  # the cache was turned off since it was prepared
                prepared = replace(prepared, cache_dir=now)
            hit = _loaded(payload, now, packs, prepared.profile) if payload is not None and now is not None else None
            if isinstance(prepared, Processed) or hit is not None:
                done = prepared if isinstance(prepared, Processed) else hit
                if hit is not None:
                    hit.cached = True
                    if hit.report is not None and hit.report.path != str(item.path):  # the same bytes elsewhere now: read back from here
                        hit.report = replace(hit.report, path=str(item.path))
                results.append(_told(done, progress))  # type: ignore[arg-type]
                held += 1
            else:
                batch.append((len(results), prepared))
                batch_bytes += prepared.size
                results.append(None)
            if len(batch) == size or batch_bytes >= BATCH_BYTES or (batch and held > BACKLOG):
                send(full=True)  # in the last case cached results wait behind it: it goes now, to the workers too
                batch_bytes = 0
            yield from emit(ahead=2 * max(workers, 1))
        if batch:
            send(full=False)
        yield from emit(ahead=-1)


def _collect(positions: list[int], work: Future[bytes] | list[Job], used: list[Profile], results: list[Processed | None],
             progress: Progress | None, spool: Path | None, index: CacheIndex | None) -> None:
    """A batch's results into their places, from a worker or parsed here, each report with
    the profile it was read with (this process's own: not a copy per report, which came
    to about 3 KB a report); its cache entries into the index."""
    placed = parse_batch(work, spool) if isinstance(work, list) else received(work.result(), used)
    if index is not None:
        index.put(placed.entries)
    for at, profile, result in zip(positions, used, placed.results):
        if result.report is not None and result.report.profile is not profile:
            result.report = replace(result.report, profile=profile)
        results[at] = _told(result, progress)


def _told(result: Processed, progress: Progress | None) -> Processed:
    if progress is not None:
        progress(result)
    return result
