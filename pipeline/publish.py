"""Publish a folder atomically: build beside it, then swap it in at once.

A package is written into a staging folder next to the target (same file
system), then exchanged with the target in one ``renameat2(RENAME_EXCHANGE)``
call where Linux offers it, so a reader sees either the old package or the
new one, never a mix. On any failure the staging folder is removed and the
target is untouched. A lock on the parent folder makes a second run wait for,
or (with ``wait=False``) refuse to start while, another run is publishing.
Staging folders left by a killed run are removed by the next run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING = ".{name}.staging-"
RETIRED = ".{name}.old-"


class PublishBusy(Exception):
    """Another run holds the publishing lock."""


class UnsafeTarget(Exception):
    """Publishing there would replace something that is not a package (a usage error)."""


# What a published package folder holds; anything else means it is not one of ours.
PACKAGE_ENTRIES = frozenset({"datapackage.json", "data", "index.html", "catalog.ttl", "catalog.jsonld", "ckan-package.json"})


def check_target(target: Path, keep: list[Path]) -> None:
    """Refuse a target that publishing must not replace: a symbolic link, a file, a folder
    that holds or lies inside an input or the configuration, or one that holds anything
    but an earlier package (publishing replaces the whole folder)."""
    if target.is_symlink():
        raise UnsafeTarget(f"{target} is a symbolic link; give the folder it points to")
    resolved = target.resolve()
    for path in keep:
        kept = path.resolve()
        if kept == resolved or resolved in kept.parents or (kept.is_dir() and kept in resolved.parents):
            raise UnsafeTarget(f"{target} holds or lies inside {path}; publishing there would delete or mix with it. "
                               "Choose another folder with --out")
    if target.exists() and not target.is_dir():
        raise UnsafeTarget(f"{target} is a file, not a folder")
    if target.is_dir():
        strangers = sorted(p.name for p in target.iterdir() if p.name not in PACKAGE_ENTRIES)
        if strangers:
            raise UnsafeTarget(f"{target} holds {', '.join(strangers[:5])}, which is not part of a published package; "
                               "publishing replaces the whole folder, so choose a new or empty folder, or an earlier package's")


# The descriptors of the locks this process holds. A process forked while one is held (a
# worker, the side writer) closes its copy at once: an flock belongs to the open file,
# which the copy shares, so a worker left alive after its build was killed would keep
# the lock, and the next run would wait for it.
_HELD: set[int] = set()


def _forget_held_locks() -> None:
    for fd in _HELD:
        try:
            os.close(fd)  # this copy only: the lock stays with the process that took it
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_held_locks)


@contextmanager
def publish_lock(target: Path, wait: bool = True, timeout: float = 3600.0) -> Iterator[None]:
    """An advisory lock on the target's parent folder (no lock file is left behind), held
    by this process only, not by the processes it forks."""
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(parent, os.O_RDONLY)
    _HELD.add(fd)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait or time.monotonic() > deadline:
                    raise PublishBusy(f"another run is publishing into {parent}; try again when it has finished") from None
                time.sleep(0.2)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # closing releases the lock


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where not supported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a))


def clean_leftovers(target: Path) -> None:
    """Remove staging and retired folders a killed run may have left (call under the lock)."""
    target = target.resolve()
    for pattern in (STAGING, RETIRED):
        for leftover in target.parent.glob(pattern.format(name=target.name) + "*"):
            shutil.rmtree(leftover, ignore_errors=True)


def new_staging(target: Path) -> Path:
    target = target.resolve()
    staging = target.parent / (STAGING.format(name=target.name) + str(os.getpid()))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def swap_in(staging: Path, target: Path) -> None:
    """Make `staging` the target; the previous target is removed afterwards."""
    target = target.resolve()
    _fsync_tree(staging)
    if target.exists():
        if _exchange(staging, target):
            shutil.rmtree(staging)  # now holds the previous package
            return
        retired = target.parent / (RETIRED.format(name=target.name) + str(os.getpid()))
        os.rename(target, retired)
        os.rename(staging, target)
        shutil.rmtree(retired)
    else:
        os.rename(staging, target)


def _fsync_tree(folder: Path) -> None:
    fsync_files(p for p in sorted(folder.rglob("*")) if p.is_file())


def fsync_files(paths: Iterable[Path]) -> None:
    """Each file's bytes on disk (a file already synced returns at once): a caller may
    sync the large ones early, beside other work, and swap_in finds little left to do."""
    for path in paths:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
