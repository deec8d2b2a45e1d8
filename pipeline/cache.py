"""The cache's storage: an index of results by key (one SQLite table) and packs of records.

A report's result is kept under its cache key (cache_key) in one SQLite table
(`sqlite3`: one small file a report cost 0.4 ms each to create), and its records
are rows of a pack: the Arrow IPC files a batch's records were written to where
it was parsed, with the sha256 of each beside them. The result itself (its
entry) is in the pack too, in its ENTRIES file, and the table keeps its sha256
and where it is (write_entries; the results of a batch with no pack, none of
whose reports could be read, are kept in the table itself). An entry points into its pack; a pack is checked
against its sums before it is used, an entry against its sha256 when it is read.
An entry is the pickled result with its source profile left out (None in its
place, _EntryPickler): the run that reads it gives its own (loaded_entry).
Each entry is stamped with the version of the pipeline that made it and the pack
it points into. A key holds that version, so an entry of another can never be
asked for again: a run that finds no other using the cache removes those, and
the packs that only they pointed into (in_use, prune). The cache is thus as
large as one archive's results, not one for every update of the pipeline.
The cache is optional: anything wrong with it turns it off for the run.
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .config import Profile
from .schema import TABLES
from .spool import SPOOL_PREFIX, write_chunk
from .writers import sha256_of

PACKS = "packs"  # the cache's subfolder of batch packs: a batch's records, which its reports' entries point into
ENTRIES = "entries.bin"  # a pack's file of its reports' entries (write_entries), beside its tables' "-table.arrow"
INDEX = "index.sqlite"  # the cache's results, by key: one file, not one per report (creating those cost 0.4 ms each)
STRAY_PACK_AGE = 24 * 3600.0  # seconds: a pack no entry points to, older than this, was left by a run that stopped
LOCK = "lock"  # held shared by every run using the cache, alone by the one removing other versions' results


@dataclass(frozen=True)
class Entry:
    """A report's cache entry as a batch gives it: its key, its result pickled (entry_of),
    its pack (a name in PACKS, None for none) and where it is in the pack's ENTRIES file
    (None: in the index, after its sha256)."""

    key: str
    payload: bytes
    pack: str | None
    at: int | None = None


@dataclass
class CacheIndex:
    """The cache's index of results (one SQLite table), open for a run. Anything wrong with
    it turns the cache off for the rest of the run (`connection` None): the build goes on
    uncached and writes no packs nobody would find. An index found damaged is removed, so
    that the next run starts it afresh; one busy or read-only is left as it is."""

    path: Path
    version: str  # the pipeline's version (process.code_version), stamped on each entry put
    connection: sqlite3.Connection | None = None
    empty: bool = False  # nothing was in it when opened: a first build looks nothing up

    def put(self, entries: list[Entry]) -> None:
        """A batch's entries, in one transaction: each its sha256, and where it is (its
        pack's ENTRIES file, written where the batch was parsed), or after its sha256 when
        it is in no pack."""
        if self.connection is None or not entries:
            return
        try:
            with self.connection:
                self.connection.executemany(
                    "INSERT OR REPLACE INTO results (key, payload, version, pack, at, size) VALUES (?, ?, ?, ?, ?, ?)",
                    [(e.key, hashlib.sha256(e.payload).digest() + (b"" if e.at is not None else e.payload), self.version, e.pack,
                      e.at, None if e.at is None else len(e.payload)) for e in entries])
        except sqlite3.Error as exc:
            self.fail(exc)

    def fail(self, exc: sqlite3.Error) -> None:
        """The cache off for the rest of the run after `exc`, and the index removed when it
        says the index is damaged."""
        self.close()
        if not isinstance(exc, sqlite3.OperationalError):  # "malformed", "not a database": damaged
            _remove_index(self.path)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _remove_index(path: Path) -> None:
    with contextlib.suppress(OSError):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def open_index(cache_dir: Path, version: str) -> CacheIndex:
    """The cache's index of results, made when missing, its entries to be stamped with the
    pipeline's `version`; with no connection when it cannot be used here (the cache is
    optional). An index that is not a database (damaged) is started afresh: every report
    is then parsed again."""
    index = CacheIndex(cache_dir / INDEX, version)
    for _ in range(2):
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            index.connection = sqlite3.connect(index.path, timeout=10)
            _wal(index.connection)
            index.connection.execute("PRAGMA synchronous=NORMAL")  # a cache: a torn write is found by each entry's sha256
            _schema(index.connection)
            index.empty = not index.connection.execute("SELECT key FROM results LIMIT 1").fetchall()
            return index
        except sqlite3.OperationalError:  # cannot be opened or written here, or held by another run too long
            index.close()
            return index
        except sqlite3.DatabaseError:  # "file is not a database"
            index.close()
            _remove_index(index.path)
        except OSError:
            index.close()
            return index
    return index


def _schema(connection: sqlite3.Connection) -> None:
    """The results table as this version keeps it, made when missing. An index made by an
    older version gets the columns it lacks (its entries have none of them, and are
    another version's: prune removes them), and the index prune reads alone."""
    connection.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, payload BLOB NOT NULL, version TEXT, pack TEXT,"
                       " at INTEGER, size INTEGER)")
    present = {row[1] for row in connection.execute("PRAGMA table_info(results)")}
    for column, kind in (("version", "TEXT"), ("pack", "TEXT"), ("at", "INTEGER"), ("size", "INTEGER")):
        if column not in present:
            try:
                connection.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # else another run added it a moment before
                    raise
    connection.execute("CREATE INDEX IF NOT EXISTS results_stamp ON results (version, pack)")


@contextlib.contextmanager
def in_use(cache_dir: Path | None, version: str) -> Iterator[None]:
    """The cache held by a run, from its first lookup to its last read of a pack: shared
    with every other run, so that none removes what this one uses. First, when no other
    run holds it, what other versions of the pipeline left is removed (prune). Where the
    lock file cannot be had (a cache that cannot be written, say), nothing is removed."""
    fd = _lock_file(cache_dir) if cache_dir is not None else None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except OSError:  # other runs hold it (BlockingIOError): nothing is removed under them
                alone = False
            if alone:
                prune(cache_dir, version)  # type: ignore[arg-type]
            with contextlib.suppress(OSError):  # where locks are not to be had (some network disks): held by none
                fcntl.flock(fd, fcntl.LOCK_SH)  # made shared; or waits while another run prunes (a second or two)
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _lock_file(cache_dir: Path) -> int | None:
    with contextlib.suppress(OSError):
        cache_dir.mkdir(parents=True, exist_ok=True)
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        with contextlib.suppress(OSError):
            return os.open(cache_dir / LOCK, flags, 0o644)
    return None


def prune(cache_dir: Path, version: str) -> tuple[int, int]:
    """Remove the entries of any other version of the pipeline (or of none: made before
    entries were stamped), then every pack no entry left points to: at once when only the
    removed ones did, else once it is STRAY_PACK_AGE old (left by a stopped run, or by one
    of a version from before the lock: such a run writes a pack a moment before the
    entries that point into it); the files of the layout before the index, and the spool
    folders of killed runs, once as old. Call it holding the lock alone (in_use). How
    many entries and packs went; an index that cannot be written now (read-only, busy,
    damaged) is left as it is, and so is a file that cannot be removed."""
    removed, gone, kept = 0, set(), set()
    _remove_leftovers(cache_dir)
    if (cache_dir / INDEX).exists():
        try:
            with contextlib.closing(sqlite3.connect(cache_dir / INDEX, timeout=10)) as connection:
                _schema(connection)
                if connection.execute("SELECT 1 FROM results WHERE version IS NOT ? LIMIT 1", (version,)).fetchone():
                    with connection:
                        gone = {pack for (pack,) in connection.execute(
                            "SELECT DISTINCT pack FROM results WHERE version IS NOT ? AND pack IS NOT NULL", (version,))}
                        removed = connection.execute("DELETE FROM results WHERE rowid IN (SELECT rowid FROM results WHERE version IS NOT ?)",
                                                     (version,)).rowcount
                kept = {pack for (pack,) in connection.execute("SELECT DISTINCT pack FROM results WHERE pack IS NOT NULL")}
        except sqlite3.Error:
            return 0, 0
    files: dict[str, list[Path]] = {}
    try:
        for path in (cache_dir / PACKS).iterdir():
            files.setdefault("-".join(path.name.split(".")[0].split("-")[:2]), []).append(path)  # batch-<hex>[-table]
    except OSError:
        return removed, 0
    now, packs = time.time(), 0
    for pack, paths in files.items():
        if pack in kept or not pack.startswith("batch-"):
            continue
        with contextlib.suppress(OSError):
            if pack in gone or all(now - p.stat().st_mtime > STRAY_PACK_AGE for p in paths):
                for path in paths:
                    path.unlink(missing_ok=True)
                packs += 1
    return removed, packs


# a result as a file of its own, as versions before the index kept them (and its temporary)
_OLD_LAYOUT = re.compile(r"[0-9a-f]{64}\.pickle|\.[0-9a-f]{64}\.[0-9]+\.tmp")


def _remove_leftovers(cache_dir: Path) -> None:
    """What no run of this version reads, once STRAY_PACK_AGE old: the files of the layout
    before the index (such a version, which takes no lock, may still be running), and the
    spool folders of killed runs (`check` spools into the cache folder and removes its
    own when it ends, holding the cache all the while)."""
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(cache_dir) as entries:
        for entry in entries:
            spool = entry.name.startswith(SPOOL_PREFIX) and entry.is_dir(follow_symlinks=False)
            if spool or (_OLD_LAYOUT.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime <= STRAY_PACK_AGE:
                        continue
                    if spool:
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)


def _wal(connection: sqlite3.Connection) -> None:
    """Write-ahead logging, so that runs can read while one writes. Turning it on ignores
    the busy timeout: two runs making the index at once may find it locked for a moment."""
    for attempt in range(50):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)


def pack_intact(pack: str) -> bool:
    """Whether a pack's files are the ones written: the sha256 of each, noted beside them."""
    try:
        sums = json.loads(Path(f"{pack}.sha256").read_text(encoding="utf-8"))
        return all(sha256_of(Path(f"{pack}-{t}.arrow")) == sums[t] for t in TABLES)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def write_pack(cache_dir: Path, tables: dict[str, pa.Table]) -> str | None:
    """The batch's records written as a pack in the cache, with the sha256 of its files;
    its path (without "-table.arrow"), or None when the cache cannot be written."""
    folder = cache_dir / PACKS
    pack = str(folder / f"batch-{uuid.uuid4().hex}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_chunk(folder, Path(pack).name, tables)
        sums = {t: sha256_of(Path(f"{pack}-{t}.arrow")) for t in TABLES}
        temporary = Path(f"{pack}.sha256.tmp")
        temporary.write_text(json.dumps(sums), encoding="utf-8")
        os.replace(temporary, f"{pack}.sha256")  # last: a pack without it is never used
    except OSError:
        return None
    return pack


def write_entries(pack: str, payloads: list[bytes]) -> list[int] | None:
    """A batch's entries one after the other in its pack's ENTRIES file, where each begins;
    None when it cannot be written (the index then keeps them itself). Kept in the index,
    each came to a 1.5 KB row: putting them took 2.1 s of the build's process at 1M (a
    148 MB index), their sha256 and place 1.2 s (22 MB). Each is checked against its
    sha256 when read (cache_lookup.look_up)."""
    offsets, at = [], 0
    for payload in payloads:
        offsets.append(at)
        at += len(payload)
    try:
        with open(f"{pack}-{ENTRIES}", "wb") as handle:
            handle.write(b"".join(payloads))
    except OSError:
        return None
    return offsets


def cache_key(name: str, sha256: str, settings: str) -> str:
    """A report's result depends on its name (it is in the records), bytes (their sha256)
    and settings (process.settings_digest)."""
    facts = json.dumps([name, sha256, settings], ensure_ascii=False)
    return hashlib.sha256(facts.encode("utf-8")).hexdigest()


def _left_out() -> None:
    """What an entry holds where its result's profile was (see _EntryPickler)."""
    return None


class _EntryPickler(pickle.Pickler):
    """Pickles a result with its source profile left out (a third of it): None in its place,
    which loaded_entry replaces with the profile of the run reading it. The profile is found
    by its type (dispatch_table, looked up in C), not by persistent_id, which pickle calls in
    Python for every object (half the pickling time: 48 µs a report, 23 so)."""

    dispatch_table = {**copyreg.dispatch_table, Profile: lambda profile: (_left_out, ())}


def entry_of(result: object) -> bytes:
    """A result as the cache keeps it, without its profile."""
    buffer = io.BytesIO()
    _EntryPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(result)
    return buffer.getvalue()


def loaded_entry(entry: bytes, profile: Profile) -> Any:
    """A result from its entry, with the profile its file is read with in this run (its
    `report`'s, when it has one). The report is a frozen dataclass, but one just made
    here that nothing else holds: its field is set as its own __init__ sets them, rather
    than the whole report copied by dataclasses.replace (10 µs a report, in the parent)."""
    found = pickle.loads(entry)
    report = getattr(found, "report", None)
    if report is not None and report.profile is None:
        object.__setattr__(report, "profile", profile)
    return found
