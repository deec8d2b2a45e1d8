"""The package written part by part: each file the bytes of one write of all the rows.

The references are built here without PackageWriter: the committed outputs/data files
(written by the one-shot writer), pq.write_table, pyarrow's write_csv and json.dumps.
"""

from __future__ import annotations

import ctypes
import datetime
import errno
import functools
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import disk_file, writers
from pipeline.writers import BOM, FORMATS, PackageWriter, WrittenFile, neutralise_formulas, sha256_of, write_table, write_tables

from .conftest import ROOT, OsWithWrite, takes_o_direct

OUTPUTS = ROOT / "outputs" / "data"
REAL = {p.stem: pq.read_table(p) for p in sorted(OUTPUTS.glob("*.parquet"))}
SYNTHETIC = pa.schema([("t", pa.string()), ("n", pa.int64()), ("b", pa.bool_()), ("d", pa.date32())])
RISKY = ["=1+1", "+81", "-5", "@A1", "\tx", "\ry", 'a"b\nc', "\\", "＝全角", "\x00\x1f", "", "普通の文"]


def synthetic(texts: list[str | None]) -> pa.Table:
    rows = [{"t": t, "n": None if i % 4 == 1 else i * 7 - 20, "b": None if i % 3 == 2 else i % 2 == 0,
             "d": None if i % 5 == 3 else datetime.date(2024, 1, 1) + datetime.timedelta(days=i)} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=SYNTHETIC)


def reference(table: pa.Table, fmt: str, folder: Path) -> bytes:
    """What one write of `table` must give, by other means than the writer under test."""
    if fmt == "csv":
        sink = pa.BufferOutputStream()
        pacsv.write_csv(neutralise_formulas(table)[0], sink, pacsv.WriteOptions(quoting_style="needed", eol="\r\n"))
        return BOM + sink.getvalue().to_pybytes()
    if fmt == "parquet":
        path = folder / "reference.parquet"
        pq.write_table(table, path, compression="zstd", write_statistics=True)
        return path.read_bytes()
    rows = [json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}, ensure_ascii=False, separators=(",", ":"))
            for r in table.to_pylist()]
    return ("[" + "".join(("\n" if i == 0 else ",\n") + r for i, r in enumerate(rows)) + "\n]\n").encode("utf-8")


def split(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    """`table` cut at `cuts` (clipped, sorted; equal cuts give empty pieces)."""
    bounds = [0, *sorted(min(max(c, 0), table.num_rows) for c in cuts), table.num_rows]
    return [table.slice(a, b - a) for a, b in zip(bounds, bounds[1:])]


def parts_of(tables: Mapping[str, pa.Table], cuts: list[int]) -> list[dict[str, pa.Table]]:
    """Parts in row order; a table cut into fewer pieces is missing from the later parts."""
    pieces = {name: split(table, cuts) for name, table in tables.items()}
    return [{name: p[k] for name, p in pieces.items() if k < len(p)} for k in range(len(cuts) + 1)]


def write_parts(folder: Path, schemas: Mapping[str, pa.Schema], parts: list[dict[str, pa.Table]], threads: int = 1) -> list[WrittenFile]:
    with PackageWriter(folder, schemas, threads=threads) as writer:
        for part in parts:
            writer.write(part)
        return writer.close()


def assert_files_are_one_write(folder: Path, files: list[WrittenFile], tables: Mapping[str, pa.Table], work: Path) -> None:
    """CSV and JSON byte for byte one write of the whole table; Parquet reads back as it;
    sizes, hashes and counts as reported."""
    assert [(f.table, f.format) for f in files] == [(name, fmt) for name in tables for fmt in FORMATS]
    for f in files:
        path, table = folder / f.path, tables[f.table]
        assert f.path == f"data/{f.table}.{f.format}"
        assert (f.bytes, f.sha256, f.rows) == (path.stat().st_size, sha256_of(path), table.num_rows)
        if f.format == "parquet":
            assert pq.read_table(path).equals(table)
            assert pq.read_schema(path) == table.schema
        else:
            assert path.read_bytes() == reference(table, f.format, work), f.path
        assert f.neutralised == (neutralise_formulas(table)[1] if f.format == "csv" else 0)


PAGE = 4096


@pytest.fixture()
def page_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files go to disk a page at a time, so that small tables cross many blocks and an
    unfinished file has some of its bytes on disk (4 MiB blocks would hold them all back)."""
    monkeypatch.setattr(disk_file, "BLOCK", PAGE)


def assert_unfinished(path: Path, table: pa.Table, work: Path) -> None:
    """Whole blocks of the file are on disk, and nothing of what finishes it: a CSV or JSON
    file holds a proper prefix of one write of `table`; a Parquet file starts as one does
    (its magic number) but has no footer."""
    data = path.read_bytes()
    assert data and len(data) % PAGE == 0, (path.name, len(data))
    if path.suffix == ".parquet":
        assert data.startswith(b"PAR1"), path.name
        with pytest.raises(pa.ArrowInvalid):
            pq.read_metadata(path)
        assert not data.endswith(b"PAR1")  # no footer
    else:
        complete = reference(table, path.suffix.removeprefix("."), work)
        assert len(data) < len(complete) and complete.startswith(data), path.name


def open_files_under(folder: Path) -> list[str]:
    """The files under `folder` this process holds open (Linux)."""
    held = (os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}"))
    return [p for p in held if p.startswith(str(folder.resolve()))]


@pytest.mark.parametrize("threads", [1, 4])
def test_one_part_is_byte_for_byte_the_committed_package(tmp_path: Path, threads: int) -> None:
    files = write_tables(REAL, tmp_path, threads=threads)
    for f in files:
        path = tmp_path / f.path
        assert path.read_bytes() == (OUTPUTS / f"{f.table}.{f.format}").read_bytes(), f.path
        assert (f.bytes, f.sha256) == (path.stat().st_size, sha256_of(path))
    assert_files_are_one_write(tmp_path, files, REAL, tmp_path)


def test_one_part_is_what_a_single_write_gives(tmp_path: Path) -> None:
    table = synthetic([*RISKY, None])
    files = write_table("t", table, tmp_path)
    for f in files:
        assert (tmp_path / f.path).read_bytes() == reference(table, f.format, tmp_path)
    assert [f.neutralised for f in files] == [6, 0, 0]


@pytest.mark.parametrize("how", ["zero rows", "no part", "an empty part among empty parts"])
def test_an_empty_table_is_written_as_a_single_write_of_it(tmp_path: Path, how: str) -> None:
    parts: list[dict[str, pa.Table]] = {
        "zero rows": [{name: t.schema.empty_table() for name, t in REAL.items()}],
        "no part": [],
        "an empty part among empty parts": [{}, {name: t.slice(0, 0) for name, t in REAL.items()}, {}],
    }[how]
    files = write_parts(tmp_path / "out", {name: t.schema for name, t in REAL.items()}, parts)
    empty = {name: t.schema.empty_table() for name, t in REAL.items()}
    assert_files_are_one_write(tmp_path / "out", files, empty, tmp_path)
    one_shot = write_tables(empty, tmp_path / "one-shot")
    assert files == one_shot
    for f in files:
        if f.format == "parquet":
            assert (tmp_path / "out" / f.path).read_bytes() == reference(empty[f.table], "parquet", tmp_path)
        if f.format == "json":
            assert (tmp_path / "out" / f.path).read_bytes() == b"[\n]\n"


CUTS = [[], [0], [0, 0], [1], [2, 3], [1, 2, 3, 4, 5, 6], [0, 100], [100, 100, 100], [3, 3, 8, 8, 20]]


@pytest.mark.parametrize("cuts", CUTS, ids=str)
def test_parts_of_the_real_tables_make_the_files_of_one_write(tmp_path: Path, cuts: list[int]) -> None:
    schemas = {name: t.schema for name, t in REAL.items()}
    parts = parts_of(REAL, cuts)
    files = write_parts(tmp_path / "parts", schemas, parts, threads=4)
    assert_files_are_one_write(tmp_path / "parts", files, REAL, tmp_path)
    for f in files:
        if f.format != "parquet":
            assert (tmp_path / "parts" / f.path).read_bytes() == (OUTPUTS / f"{f.table}.{f.format}").read_bytes()
    again = write_parts(tmp_path / "again", schemas, parts, threads=1)
    assert again == files  # Parquet too: the same parts give the same bytes, whatever the threads


def test_rows_and_batches_across_part_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the CSV writer's 1024-row batches and across JSON batches (made 7 rows here),
    with risky cells on both sides of a cut."""
    monkeypatch.setitem(writers.WRITERS, "json", functools.partial(writers.append_json, batch_rows=7))
    table = synthetic([RISKY[i % len(RISKY)] if i % 3 else f"行{i}" for i in range(2600)])
    incidents = pa.concat_tables([REAL["incidents"]] * 300)
    tables = {"t": table, "incidents": incidents}
    files = write_parts(tmp_path / "out", {n: t.schema for n, t in tables.items()}, parts_of(tables, [1023, 1024, 1025, 2047, 2100]), threads=3)
    assert_files_are_one_write(tmp_path / "out", files, tables, tmp_path)
    assert files[0].neutralised == neutralise_formulas(table)[1] > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12), st.sampled_from(RISKY)), max_size=40),
       st.lists(st.integers(0, 45), max_size=6), st.sampled_from([1, 2, 4]))
def test_any_split_of_any_rows_makes_the_files_of_one_write(texts: list[str | None], cuts: list[int], threads: int) -> None:
    table = synthetic(texts)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        files = write_parts(folder / "out", {"t": SYNTHETIC}, parts_of({"t": table}, cuts), threads=threads)
        assert_files_are_one_write(folder / "out", files, {"t": table}, folder)


def test_each_part_is_cast_to_the_strict_schema(tmp_path: Path) -> None:
    strict = pa.schema([pa.field(f.name, f.type, nullable=f.name == "t") for f in SYNTHETIC])
    table = pa.table({"t": ["a", "=b", None, "d"], "n": [1, 2, 3, 4], "b": [True, False, True, True],
                      "d": [datetime.date(2024, 4, i) for i in range(1, 5)]}, schema=SYNTHETIC)
    files = write_parts(tmp_path / "out", {"t": strict}, parts_of({"t": table}, [1, 3]))
    path = tmp_path / "out" / "data" / "t.parquet"
    assert pq.read_schema(path) == strict
    assert pq.read_table(path).equals(table.cast(strict))
    assert path.read_bytes() != reference(table, "parquet", tmp_path)  # the schema written is the strict one
    assert [f.rows for f in files] == [table.num_rows] * 3


def test_writers_are_looked_up_at_each_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/run.py times each format by replacing its entry in WRITERS."""
    calls: dict[str, int] = {}

    def counted(fmt: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(table: pa.Table, sink: writers.Sink) -> Any:
            calls[fmt] = calls.get(fmt, 0) + 1
            return real(table, sink)
        return wrapper

    for fmt in list(writers.WRITERS):
        monkeypatch.setitem(writers.WRITERS, fmt, counted(fmt, writers.WRITERS[fmt]))
    tables = {"measures": REAL["measures"], "figures": REAL["figures"].slice(0, 0)}
    files = write_parts(tmp_path / "out", {n: t.schema for n, t in tables.items()}, parts_of(tables, [0, 5, 5, 9]))
    # measures: three parts with rows; figures: none, so the empty table once when closing
    assert calls == {fmt: 4 for fmt in FORMATS}
    assert_files_are_one_write(tmp_path / "out", files, tables, tmp_path)


@pytest.mark.parametrize("threads", [1, 4])
def test_a_failure_closes_every_file_and_finishes_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int,
                                                       page_blocks: None) -> None:
    """The disk fills once the last file's rows have gone out: every file holds its rows,
    blocks of them on disk, and none is finished."""
    tables = {name: synthetic([f"{name} {i} 行" for i in range(3_000)]) for name in ("a", "b", "c")}
    real = writers.WRITERS["json"]

    def disk_full_after_the_last_rows(table: pa.Table, sink: writers.Sink) -> None:
        real(table, sink)
        if sink.table == "c":  # the last file in the writer's order: with threads too, every other one has its rows
            raise OSError(errno.ENOSPC, "No space left on device", sink.path)

    monkeypatch.setitem(writers.WRITERS, "json", disk_full_after_the_last_rows)
    folder = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        with PackageWriter(folder, {name: SYNTHETIC for name in tables}, threads=threads) as writer:
            writer.write(tables)
    assert open_files_under(folder) == []
    with pytest.raises(ValueError, match="closed"):
        writer.close()
    paths = {folder / "data" / f"{name}.{fmt}": table for name, table in tables.items() for fmt in FORMATS}
    assert sorted((folder / "data").iterdir()) == sorted(paths)
    for path, table in paths.items():
        assert_unfinished(path, table, tmp_path)


def test_leaving_without_close_finishes_nothing(tmp_path: Path, page_blocks: None) -> None:
    """A build that decides not to publish leaves the block without closing."""
    folder = tmp_path / "out"
    table = synthetic([f"row {i} 行" for i in range(3_000)])
    with PackageWriter(folder, {"t": SYNTHETIC}) as writer:
        writer.write({"t": table})
    assert open_files_under(folder) == []
    for fmt in FORMATS:
        assert_unfinished(folder / "data" / f"t.{fmt}", table, tmp_path)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="a write's file is found through /proc/self/fd (Linux)")
def test_every_write_but_a_files_last_is_a_whole_block_from_an_aligned_buffer(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch,
                                                                              page_blocks: None) -> None:
    """What O_DIRECT needs, whatever sizes Arrow's writers hand over: each block at an
    offset, of a length and from an address that are multiples of the block; only the
    tail, at close, is short. Where the file system takes O_DIRECT, the blocks went so."""
    real_write = os.write
    writes: dict[str, list[tuple[int, int, int, bool]]] = {}

    def recording(fd: int, data: memoryview) -> int:
        address = ctypes.addressof(ctypes.c_char.from_buffer(data))
        direct = bool(disk_file.fcntl.fcntl(fd, disk_file.fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0))
        writes.setdefault(os.readlink(f"/proc/self/fd/{fd}"), []).append(
            (os.lseek(fd, 0, os.SEEK_CUR), len(data), address, direct))
        return real_write(fd, data)

    monkeypatch.setattr(disk_file, "os", OsWithWrite(recording))
    tables = {name: pa.concat_tables([REAL[name]] * 4) for name in ("incidents", "measures")}
    files = write_parts(tmp_path / "out", {n: t.schema for n, t in tables.items()}, parts_of(tables, [7, 60]), threads=2)
    monkeypatch.undo()
    assert_files_are_one_write(tmp_path / "out", files, tables, tmp_path)
    assert sorted(writes) == sorted(str((tmp_path / "out" / f.path).resolve()) for f in files)
    direct = takes_o_direct(tmp_path)
    for path, calls in writes.items():
        *blocks, (offset, length, address, _) = calls
        assert blocks, f"{path} should cross a block"
        assert all(o == i * PAGE and n == PAGE and a % PAGE == 0 for i, (o, n, a, _) in enumerate(blocks)), path
        assert all(went_direct == direct for *_, went_direct in blocks), path
        assert (offset, address % PAGE) == (len(blocks) * PAGE, 0) and 0 < length <= PAGE, path


def test_a_table_without_a_schema_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with PackageWriter(tmp_path, {"t": SYNTHETIC}) as writer:
        with pytest.raises(ValueError, match="no schema for u"):
            writer.write({"u": synthetic(["x"])})
        writer.write({"t": synthetic(["x"])})
        files = writer.close()
    assert [f.rows for f in files] == [1, 1, 1]
    with pytest.raises(ValueError, match="closed"):
        writer.write({"t": synthetic(["y"])})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(list('a漢"\\\x00\x1f\x7f\n\t é')), max_size=6)), max_size=12),
       st.integers(0, 12), st.integers(0, 12))
def test_a_text_needs_escapes_where_a_character_json_escapes_is_in_it(texts: list[str | None], start: int, length: int) -> None:
    """The JSON writer skips escaping a column whose bytes hold none of the characters JSON
    escapes; read from the column's buffers, slices included, it agrees with a regex."""
    import pyarrow.compute as pc

    column = pa.array(texts, pa.string()).slice(start, length)
    expected = bool(pc.any(pc.match_substring_regex(column, '[\\\\"\x00-\x1f]')).as_py())
    assert writers._may_need_escapes(column) == expected
    assert writers._may_need_escapes(pa.chunked_array([column[:2], column[2:]], pa.string())) == expected
