"""A file written for the disk, past the page cache (O_DIRECT) where the system allows it.

A national archive's package is gigabytes of CSV and JSON that nothing in the build
reads again. Written the usual way, each byte is first copied into the page cache, a
fresh page at a time; on the virtual machine the benchmarks run on, that copy cost
0.2 to 2.5 s of kernel time per GB (the cost of new memory there), and it was most of
what the process writing the CSV and JSON spent. With O_DIRECT the disk takes the
bytes from a buffer of ours, and 1 GB cost 0.05 s of kernel time.

O_DIRECT wants whole blocks, from memory and at offsets aligned to the disk's block
size. So the bytes are gathered in a page-aligned buffer and go out BLOCK bytes at a
time; the last, partial block goes the usual way when the file is closed, as does
everything where O_DIRECT is refused: a system without it (macOS), a file system that
cannot open a file so (tmpfs before Linux 6.6) or write to one so. The bytes on disk
are the same either way; durability is the caller's (fsync), as with any file. A write
that fails leaves the file unfinished for good: later writes and close raise, and
discard closes it quietly (a half-written block is never written twice).

Nothing in the build reads these files while it runs, so the page cache does not miss
them; a reader afterwards (a check, a benchmark) reads them from disk the first time.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
from pathlib import Path
from typing import Any

BLOCK = 4 << 20  # bytes handed to the disk at a time: a multiple of any disk's block size
_DIRECT = getattr(os, "O_DIRECT", 0)


class DiskFile:
    """A binary file open for writing (write, flush, close, closed), its bytes held in a
    buffer and written a BLOCK at a time, directly to the disk where that works."""

    def __init__(self, path: Path) -> None:
        # Page-aligned, as O_DIRECT needs; its pages are taken as they are filled. Private,
        # so that a process forked while the file is open has a copy, not this buffer.
        # Made first, so that an open file is never left behind by a failure here.
        self._buffer = mmap.mmap(-1, BLOCK, flags=mmap.MAP_PRIVATE)
        self._block = len(self._buffer)  # BLOCK as it was when the file was opened
        self._view = memoryview(self._buffer)
        self._path = path
        self._filled = 0
        self._failed = False
        self._fd = -1
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            if _DIRECT:
                try:
                    self._fd = os.open(path, flags | _DIRECT, 0o666)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:  # else this file system cannot: open it the usual way
                        raise
            if self._fd < 0:
                self._fd = os.open(path, flags, 0o666)
        except BaseException:
            self._free_buffer()
            raise

    @property
    def direct(self) -> bool:
        """Whether blocks still go straight to the disk."""
        return self._fd >= 0 and bool(_DIRECT) and bool(fcntl.fcntl(self._fd, fcntl.F_GETFL) & _DIRECT)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._fd < 0:
            raise ValueError("write to a closed file")
        self._refuse_if_failed()
        view = memoryview(data).cast("B")
        size = len(view)
        while view:
            taken = min(self._block - self._filled, len(view))
            self._view[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
            if self._filled == self._block:
                self._write_out()
        return size

    def flush(self) -> None:
        """Nothing: the bytes short of a block wait for it, or for close (nothing reads the
        file before it is closed)."""

    def close(self) -> None:
        """The last bytes written the usual way (they are short of a block), then closed."""
        if self._fd < 0:
            return
        try:
            self._refuse_if_failed()
            if self._filled:
                self._not_direct()
                self._write_out()
        finally:
            self._release()

    def discard(self) -> None:
        """Closed without writing what the buffer holds: the file is left unfinished."""
        if self._fd >= 0:
            self._release()

    def _write_out(self) -> None:
        """The buffer's bytes to the file; a system refusing them direct gets them the usual
        way. If this fails, the file is marked failed: how much of the buffer reached the
        disk is not known, so nothing more may be written after it."""
        done = 0
        try:
            while done < self._filled:
                try:
                    written = os.write(self._fd, self._view[done : self._filled])
                except OSError as exc:
                    if exc.errno == errno.EINVAL and self._not_direct():
                        continue  # this file system opened it so, but will not write so
                    raise
                if written <= 0:
                    raise OSError(errno.EIO, "the disk took none of the bytes written", str(self._path))
                done += written
                if done < self._filled:
                    self._not_direct()  # a short write: the next offset is no longer aligned
        except BaseException:
            self._failed = True
            raise
        self._filled = 0

    def _refuse_if_failed(self) -> None:
        if self._failed:
            raise OSError(errno.EIO, "an earlier write to this file failed; the file is unfinished", str(self._path))

    def _not_direct(self) -> bool:
        """Blocks from now on written the usual way; whether that was a change."""
        if not self.direct:
            return False
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~_DIRECT)
        return not self.direct

    def _release(self) -> None:
        fd, self._fd = self._fd, -1
        try:
            os.close(fd)
        finally:
            self._free_buffer()

    def _free_buffer(self) -> None:
        try:
            self._view.release()
            self._buffer.close()
        except BufferError:  # a slice is still held (by a failed write's traceback): freed with it
            pass
