"""Reports looked up in the cache: each file read for its key, and its entry found.

Done by a worker (process._looked_up), so that the build's process is left only
the unpickling of what is found. An entry is read from its pack's ENTRIES file,
or from the index when it is in no pack (cache.py), and given only when its bytes
match the sha256 the index keeps.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from .cache import ENTRIES, PACKS, cache_key


def look_up(files: list[tuple[Path, str, str]], index: Path) -> tuple[list[tuple[str, int, bytes | None]], sqlite3.Error | None]:
    """Each file, as (path, name, settings), read for its cache key and looked up in the
    index at `index`, opened read-only: its key ("" when it cannot be read, or has no
    settings: parsing it says why), its size, and its entry's payload when the entry is
    there, can be read (from its pack's ENTRIES file, or the index) and matches its
    sha256. Done in a worker, so that the parent is left only the unpickling of what is
    found. Also the index's error, if reading it failed: nothing more is looked up, and
    the caller, which owns the index, turns the cache off (CacheIndex.fail); nothing is
    removed here."""
    failure: sqlite3.Error | None = None
    connection: sqlite3.Connection | None = None
    try:
        connection = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        failure = exc
    found: list[tuple[str, int, bytes | None]] = []
    with contextlib.closing(connection) if connection is not None else contextlib.nullcontext(), _Packs(index.parent / PACKS) as packs:
        for path, name, settings in files:
            try:
                data = path.read_bytes()
            except OSError:
                found.append(("", 0, None))
                continue
            if not settings:
                found.append(("", len(data), None))
                continue
            key, row = cache_key(name, hashlib.sha256(data).hexdigest(), settings), None
            if connection is not None and failure is None:
                try:
                    row = connection.execute("SELECT payload, pack, at, size FROM results WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error as exc:
                    failure = exc
            found.append((key, len(data), _intact(row, packs) if row is not None else None))
    return found, failure


def _intact(row: tuple[Any, ...], packs: _Packs) -> bytes | None:
    """An index row's entry, when it can be read and matches its sha256 (the payload's first
    32 bytes; the rest is the entry itself when it is in no pack)."""
    digest, pack, at, size = row
    if not isinstance(digest, bytes) or len(digest) < 32:
        return None
    if at is None:
        entry: bytes | None = digest[32:]
    elif isinstance(pack, str) and isinstance(at, int) and isinstance(size, int):
        entry = packs.read(pack, at, size)
    else:
        entry = None
    return entry if entry is not None and hashlib.sha256(entry).digest() == digest[:32] else None


class _Packs:
    """The ENTRIES files of a cache's packs, each opened once while in use."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._open: dict[str, int | None] = {}

    def read(self, pack: str, at: int, size: int) -> bytes | None:
        if pack not in self._open:
            try:
                self._open[pack] = os.open(self._folder / f"{pack}-{ENTRIES}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._open[pack] = None
        fd = self._open[pack]
        if fd is None or at < 0 or size < 0:
            return None
        try:
            return os.pread(fd, size, at)
        except OSError:
            return None

    def __enter__(self) -> _Packs:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._open.values():
            if fd is not None:
                os.close(fd)
