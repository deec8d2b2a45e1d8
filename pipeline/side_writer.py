"""Some of the package's files written by a process of their own, beside the checks.

A large build's second half checks the chosen reports a part at a time and writes
each part to every file of the package. In one process that is mostly Python
holding one core, the other often idle. So, with more than one worker and more
than one part, a process of its own writes the CSV and JSON files of the largest
tables (FILES: the most bytes, and most of the writing time): it reads the same
parts from the spool's files (spool.read_runs), types them as the checks do
(validation.to_tables) and writes them part after part with writers.PackageWriter,
byte for byte the files the build's own process would write; each part is read
while the one before is written. The build's process checks the parts and writes
the other files meanwhile.

The process is forked when the build begins (`standby`), while the build's process
is small, and told its parts once the reports are chosen (`SideWriter.begin`):
forked then, from a process holding every report read (half a GB at 1M), each
page the build's process touched afterwards was first copied for it, 0.2 s of one
core while the other waited for the checks to begin.

Those files count only when the checks pass: as soon as a part is found invalid
the build will publish nothing, and the process stops at its next part
(`SideWriter.stop`); so it does when the build's process is gone (killed), instead
of writing on into a folder the next run removes. Not with keep-going, where the
rows written depend on what the checks reject; a build that does not use it
dismisses it (`cancel`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pyarrow as pa

from .schema import load_schemas
from .spool import Runs, read_runs
from .validation import to_tables
from .writers import PackageWriter, WrittenFile

# The files written there: the CSV and JSON of the two largest tables, nine tenths of the
# package's bytes. Those of the other two are written by the build's process, which would
# otherwise wait for this one at the end (1.8 s of one core at 1M, with all eight here).
FILES = frozenset((table, fmt) for table in ("incidents", "measures") for fmt in ("csv", "json"))


@dataclass
class SideWriter:
    """The process writing, and how to stop it and hear from it."""

    process: multiprocessing.process.BaseProcess
    stop: Event
    results: Connection
    jobs: Connection  # where it is told its parts (begin), or that there are none (cancel)
    ended: bool = False  # finished or cancelled: the process is gone

    def begin(self, folder: Path, schemas: dict[str, pa.Schema], parts: Sequence[Runs]) -> None:
        """Write the FILES of `parts` (each where its rows are, Spool.runs, in
        publishing order) into `folder` as PackageWriter does, `schemas` the files'."""
        self.jobs.send((folder, schemas, list(parts)))

    def finish(self) -> list[WrittenFile]:
        """The files written, once all are; what failed there is raised here."""
        self.ended = True
        try:
            outcome = self.results.recv()
        except EOFError:
            outcome = None
        finally:
            self.process.join()
            self.results.close()
            self.jobs.close()
        if outcome is None:
            raise RuntimeError(f"the process writing the CSV and JSON files stopped (exit code {self.process.exitcode})")
        if isinstance(outcome, BaseException):
            raise outcome
        if not outcome:  # it stopped: only when told to, and then it is not waited for
            raise RuntimeError("the process writing the CSV and JSON files stopped before the end")
        return outcome  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Stop at the next part (or before the first: told none, it ends) and wait for the
        process (killed if it does not stop within a minute); what it still sends is read
        and dropped, so that a long message (a failure's text) cannot keep it waiting on a
        full pipe."""
        self.ended = True
        self.stop.set()
        with contextlib.suppress(OSError):  # it is gone already
            self.jobs.send(None)  # read only when it was told no parts
        deadline = time.monotonic() + 60
        while self.process.is_alive() and time.monotonic() < deadline:
            try:
                if self.results.poll(0.1):
                    self.results.recv()
            except Exception:  # noqa: BLE001 - the pipe's end, or a message that cannot be read: dropped either way
                self.process.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.results.close()
        self.jobs.close()


def standby() -> SideWriter:
    """A process forked now, waiting to be told its parts (SideWriter.begin) or none (cancel).
    Call it before the build's process starts any thread of its own: a thread holding a
    lock at the fork would leave it held in the child for good."""
    context = multiprocessing.get_context()
    receiving, sending = context.Pipe(duplex=False)
    jobs, told = context.Pipe(duplex=False)
    stop = context.Event()
    process = context.Process(target=_serve, args=(jobs, stop, sending, os.getpid()), daemon=True, name="pipeline-side-writer")
    process.start()
    sending.close()  # the child's end: recv then sees the end if the child dies
    jobs.close()
    return SideWriter(process, stop, receiving, told)


def _serve(jobs: Connection, stop: Event, results: Connection, build: int) -> None:
    """In the process: waits for its parts, as long as the build's process (`build`, its
    pid) is its parent, and writes them (write_parts); told none, it ends."""
    while not jobs.poll(0.2):
        if os.getppid() != build:
            return
    try:
        job = jobs.recv()
    except EOFError:
        return
    if job is not None:
        write_parts(*job, stop, results, build)


def write_parts(folder: Path, schemas: dict[str, pa.Schema], parts: list[Runs], stop: Event, results: Connection,
                build: int) -> None:
    """In the process: every part written, then the files' descriptions sent; an empty list
    when stopped, or when the build's process (`build`, its pid) is no longer its parent;
    or what failed."""
    outcome: Any
    try:
        table_schemas = load_schemas()
        wanted = {table for table, _ in FILES}  # the rows of the other tables are not read
        with PackageWriter(folder, schemas, threads=len(FILES), files=FILES) as writer:
            for tables in _read_ahead([{t: rows if t in wanted else [] for t, rows in runs.items()} for runs in parts],
                                      lambda runs: to_tables(read_runs(runs, table_schemas, {}), table_schemas)):
                if stop.is_set() or os.getppid() != build:
                    results.send([])
                    return
                writer.write(tables)
            outcome = writer.close()
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the build must hear of it
        outcome = exc if _picklable(exc) else RuntimeError("".join(traceback.format_exception(exc)))
    results.send(outcome)


def _read_ahead(parts: list[Runs], read: Callable[[Runs], dict[str, pa.Table]]) -> Iterator[dict[str, pa.Table]]:
    """read(part) of each part in order, the next part read by a thread of its own while this
    one is written (Arrow lets go of the GIL): the writing no longer waits for the reading,
    a fifth of what the process took. One part more is held at a time."""
    with ThreadPoolExecutor(1) as ahead:
        upcoming = [ahead.submit(read, parts[0])] if parts else []
        for k in range(len(parts)):
            tables = upcoming.pop().result()
            if k + 1 < len(parts):
                upcoming.append(ahead.submit(read, parts[k + 1]))
            yield tables


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure means: send it as text
        return False
    return True
