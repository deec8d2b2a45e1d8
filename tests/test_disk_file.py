"""A data file written past the page cache: the same bytes whatever the writes and the file system.

The blocks are made small here (two pages) so that a few kilobytes cross many of them.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import disk_file
from pipeline.disk_file import DiskFile

from .conftest import OsWithWrite, takes_o_direct

SMALL_BLOCK = 2 * 4096


def _write(path: Path, pieces: list[bytes]) -> DiskFile:
    handle = DiskFile(path)
    for piece in pieces:
        assert handle.write(piece) == len(piece)
    handle.close()
    return handle


def _failing_after(calls: int, write: Callable[[int, memoryview], int]) -> Callable[[int, memoryview], int]:
    """`write`, which fails the test once called more than `calls` times: a file retrying
    for ever would otherwise hang the test rather than fail it."""
    made = 0

    def counted(fd: int, data: memoryview) -> int:
        nonlocal made
        made += 1
        if made > calls:
            raise AssertionError(f"os.write called {made} times: the file keeps retrying")
        return write(fd, data)

    return counted


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk_file, "BLOCK", SMALL_BLOCK)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=3 * SMALL_BLOCK + 7), max_size=8))
def test_any_writes_make_the_file_of_their_bytes(pieces: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        handle = _write(path, pieces)
        assert handle.closed
        assert path.read_bytes() == b"".join(pieces)


def test_whole_blocks_go_direct_where_the_file_system_takes_it(tmp_path: Path) -> None:
    if not takes_o_direct(tmp_path):
        pytest.skip("this file system does not open files with O_DIRECT")
    handle = DiskFile(tmp_path / "data.json")
    handle.write(b"x" * (SMALL_BLOCK + 10))
    assert handle.direct
    assert (tmp_path / "data.json").stat().st_size == SMALL_BLOCK  # a whole block is on disk, the rest waits
    handle.close()
    assert (tmp_path / "data.json").read_bytes() == b"x" * (SMALL_BLOCK + 10)


def test_an_open_file_keeps_the_block_size_it_was_opened_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its buffer was made BLOCK long: a later change of BLOCK is for files opened after."""
    handle = DiskFile(tmp_path / "data.csv")
    monkeypatch.setattr(disk_file, "BLOCK", 4 * SMALL_BLOCK)
    data = os.urandom(3 * SMALL_BLOCK + 5)
    handle.write(data)
    assert (tmp_path / "data.csv").stat().st_size == 3 * SMALL_BLOCK
    handle.close()
    assert (tmp_path / "data.csv").read_bytes() == data


def test_a_file_system_refusing_o_direct_gets_the_usual_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As tmpfs did before Linux 6.6: open with O_DIRECT fails with EINVAL."""

    def refusing_open(path: Path, flags: int, mode: int = 0o777) -> int:
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return os.open(path, flags, mode)

    fake = OsWithWrite(os.write)
    fake.open = refusing_open  # type: ignore[attr-defined]
    monkeypatch.setattr(disk_file, "os", fake)
    data = os.urandom(3 * SMALL_BLOCK + 5)
    handle = DiskFile(tmp_path / "data.csv")
    handle.write(data)
    assert not handle.direct
    handle.close()
    assert (tmp_path / "data.csv").read_bytes() == data


@pytest.mark.parametrize("refusal", ["EINVAL", "short"])
def test_a_direct_write_refused_or_cut_short_goes_on_the_usual_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   refusal: str) -> None:
    if not takes_o_direct(tmp_path):
        pytest.skip("this file system does not open files with O_DIRECT")
    real_write = os.write
    calls: list[bool] = []

    def write(fd: int, data: memoryview) -> int:
        direct = bool(disk_file.fcntl.fcntl(fd, disk_file.fcntl.F_GETFL) & os.O_DIRECT)
        calls.append(direct)
        if direct and len(calls) == 1:
            if refusal == "EINVAL":
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_write(fd, data[:4096])  # half a block
        return real_write(fd, data)

    monkeypatch.setattr(disk_file, "os", OsWithWrite(write))
    data = os.urandom(4 * SMALL_BLOCK + 3)
    handle = DiskFile(tmp_path / "data.csv")
    handle.write(data)
    assert not handle.direct
    handle.close()
    assert (tmp_path / "data.csv").read_bytes() == data
    assert calls[0] and not any(calls[1:])


def test_other_write_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    handle = DiskFile(tmp_path / "data.csv")
    monkeypatch.setattr(disk_file, "os", OsWithWrite(full))
    with pytest.raises(OSError) as raised:
        handle.write(b"y" * SMALL_BLOCK)
    assert raised.value.errno == errno.ENOSPC
    handle.discard()
    assert handle.closed


def test_discard_leaves_what_was_waiting_unwritten(tmp_path: Path) -> None:
    handle = DiskFile(tmp_path / "data.parquet")
    handle.write(b"z" * (SMALL_BLOCK + 100))
    handle.discard()
    assert handle.closed
    assert (tmp_path / "data.parquet").read_bytes() == b"z" * SMALL_BLOCK
    with pytest.raises(ValueError):
        handle.write(b"more")
    handle.close()  # closing a closed file does nothing


def test_an_open_that_fails_for_another_reason_raises_as_open_does(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DiskFile(tmp_path / "no-such-folder" / "data.csv")


def test_after_a_failed_write_the_file_takes_nothing_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first block fails half-way: nothing of it may be written twice, by a retry or by close."""
    real_write = os.write
    failures = iter([True])

    def failing_once(fd: int, data: memoryview) -> int:
        if next(failures, False):
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.EIO, "Input/output error")
        return real_write(fd, data)

    monkeypatch.setattr(disk_file, "os", OsWithWrite(failing_once))
    path = tmp_path / "data.csv"
    handle = DiskFile(path)
    with pytest.raises(OSError):
        handle.write(b"a" * SMALL_BLOCK)
    for attempt in (lambda: handle.write(b"b"), handle.close):
        with pytest.raises(OSError, match="earlier write") as raised:
            attempt()
        assert raised.value.errno == errno.EIO
        assert str(path) in str(raised.value)
    assert handle.closed
    assert path.read_bytes() == b"a" * (SMALL_BLOCK // 2)
    handle.close()  # closed now: nothing more to say


def test_a_write_the_disk_takes_none_of_is_an_error_not_a_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk_file, "os", OsWithWrite(_failing_after(3, lambda fd, data: 0)))
    handle = DiskFile(tmp_path / "data.csv")
    with pytest.raises(OSError, match="none of the bytes") as raised:
        handle.write(b"c" * SMALL_BLOCK)
    assert raised.value.filename == str(tmp_path / "data.csv")  # the message names the file
    handle.discard()
    assert handle.closed


@pytest.mark.skipif(not getattr(os, "O_DIRECT", 0), reason="this system has no O_DIRECT")
def test_a_file_that_cannot_stop_being_direct_raises_rather_than_retrying(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """EINVAL on a direct write, and F_SETFL leaves O_DIRECT set: one error, not an endless retry.
    The file's flags always say O_DIRECT, so the test runs whether or not this file system took it."""
    real_fcntl = disk_file.fcntl

    class StuckFcntl:
        F_GETFL, F_SETFL = real_fcntl.F_GETFL, real_fcntl.F_SETFL

        @staticmethod
        def fcntl(fd: int, command: int, argument: int = 0) -> int:
            return real_fcntl.fcntl(fd, command) | os.O_DIRECT if command == real_fcntl.F_GETFL else 0

    def refusing(fd: int, data: memoryview) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    handle = DiskFile(tmp_path / "data.csv")
    monkeypatch.setattr(disk_file, "fcntl", StuckFcntl)
    monkeypatch.setattr(disk_file, "os", OsWithWrite(_failing_after(3, refusing)))
    with pytest.raises(OSError) as raised:
        handle.write(b"d" * SMALL_BLOCK)
    assert raised.value.errno == errno.EINVAL
    assert handle.direct
    handle.discard()


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


def test_when_the_buffer_cannot_be_made_no_file_is_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoMemory:
        MAP_PRIVATE = disk_file.mmap.MAP_PRIVATE

        @staticmethod
        def mmap(*args: Any, **kwargs: Any) -> Any:
            raise MemoryError("no room for the buffer")

    monkeypatch.setattr(disk_file, "mmap", NoMemory)
    before = _open_descriptors()
    with pytest.raises(MemoryError):
        DiskFile(tmp_path / "data.csv")
    assert not (tmp_path / "data.csv").exists()
    assert _open_descriptors() == before
