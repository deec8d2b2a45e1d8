"""Some of the package's files written by a process of their own, beside the checks.

A large build's second half checks the chosen reports a part at a time and writes
each part to every file of the package. In one process that is mostly Python
holding one core, the other often idle. So, with more than one worker and more
than one part, a process of its own writes the CSV and JSON files (the most bytes,
and most of the writing time): it reads the same parts from the spool's files
(spool.read_places), types them as the checks do (validation.to_tables) and writes
them part after part with writers.PackageWriter, byte for byte the files the build's
own process would write; each part is read while the one before is written. The
build's process checks the parts and writes the Parquet files meanwhile.

Those files count only when the checks pass: as soon as a part is found invalid
the build will publish nothing, and the process stops at its next part
(`SideWriter.stop`); so it does when the build's process is gone (killed), instead
of writing on into a folder the next run removes. Not with keep-going, where the
rows written depend on what the checks reject.
"""

from __future__ import annotations

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
from .spool import Place, read_places
from .validation import to_tables
from .writers import PackageWriter, WrittenFile

FORMATS = ("csv", "json")  # the formats written there


@dataclass
class SideWriter:
    """The process writing, and how to stop it and hear from it."""

    process: multiprocessing.process.BaseProcess
    stop: Event
    results: Connection

    def finish(self) -> list[WrittenFile]:
        """The files written, once all are; what failed there is raised here."""
        try:
            outcome = self.results.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError(f"the process writing the CSV and JSON files stopped (exit code {self.process.exitcode})") from None
        self.process.join()
        if isinstance(outcome, BaseException):
            raise outcome
        if not outcome:  # it stopped: only when told to, and then it is not waited for
            raise RuntimeError("the process writing the CSV and JSON files stopped before the end")
        return outcome  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Stop at the next part and wait for the process (killed if it does not stop within
        a minute); what it still sends is read and dropped, so that a long message (a
        failure's text) cannot keep it waiting on a full pipe."""
        self.stop.set()
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


def start(folder: Path, schemas: dict[str, pa.Schema], parts: Sequence[Sequence[Place]]) -> SideWriter:
    """A process writing the FORMATS files of `parts` (each the places of its reports'
    rows, in publishing order) into `folder` as PackageWriter does, `schemas` the files'."""
    context = multiprocessing.get_context()
    receiving, sending = context.Pipe(duplex=False)
    stop = context.Event()
    process = context.Process(target=write_parts, args=(folder, schemas, list(parts), stop, sending, os.getpid()), daemon=True,
                              name="pipeline-side-writer")
    process.start()
    sending.close()  # the child's end: recv then sees the end if the child dies
    return SideWriter(process, stop, receiving)


def write_parts(folder: Path, schemas: dict[str, pa.Schema], parts: list[Sequence[Place]], stop: Event, results: Connection,
                build: int) -> None:
    """In the process: every part written, then the files' descriptions sent; an empty list
    when stopped, or when the build's process (`build`, its pid) is no longer its parent;
    or what failed."""
    outcome: Any
    try:
        table_schemas = load_schemas()
        with PackageWriter(folder, schemas, threads=len(FORMATS), formats=FORMATS) as writer:
            for tables in _read_ahead(parts, lambda places: to_tables(read_places(places, table_schemas, {}), table_schemas)):
                if stop.is_set() or os.getppid() != build:
                    results.send([])
                    return
                writer.write(tables)
            outcome = writer.close()
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the build must hear of it
        outcome = exc if _picklable(exc) else RuntimeError("".join(traceback.format_exception(exc)))
    results.send(outcome)


def _read_ahead(parts: list[Sequence[Place]], read: Callable[[Sequence[Place]], dict[str, pa.Table]]) -> Iterator[dict[str, pa.Table]]:
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
