"""Three ways to read a row must agree. Most rows are vouched for by columnar.vouch (a
batch at a time, in Arrow; a report whose rows all are goes straight to its records),
else by the quick path (row_values.quick, a row at a time); a row with anything to report
is read again cell by cell (the careful path, row_values.careful). The records made for
a whole batch in Arrow (arrow_records.batch_tables, what the workers send) are those of
the careful path, typed and with their sources, report by report. Checked on every
fixture, on synthetic reports, on the seed with text inserted anywhere, and on seed rows
with a cell replaced by text made of the characters the screens watch for."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate
from pipeline.arrow_records import batch_tables
from pipeline.config import Config, load_config
from pipeline.columnar import normalize_batch, quick_values
from pipeline.normalize import Normalized, normalize_report
from pipeline.row_values import Memo, quick
from pipeline.process import prepare
from pipeline.readers import RawReport, ReadFailed, read_report
from pipeline.schema import TABLES, load_schemas, typed_table
from pipeline.sources import find_inputs
from pipeline.spool import with_sources

from .conftest import ROOT, SEED

CONFIG: Config = load_config(ROOT)
FIXTURES = ROOT / "tests" / "fixtures"


def vouched_as_quick_reads(reports: list[RawReport]) -> int:
    """Every row columnar.quick_values vouches for has the values row_values.quick gives it;
    how many rows it vouched for."""
    vouched = 0
    for report in reports:
        if "discovered" in report.headers:
            continue
        for raw, value in zip(report.rows, quick_values(report.rows, Memo())):
            if value is not None:
                assert value == quick(raw, Memo()), raw
                vouched += 1
    return vouched


def same_both_ways(report: RawReport, config: Config, memo: Memo | None = None) -> Normalized:
    municipality = config.municipality_of(report.profile)
    careful = normalize_report(report, municipality, careful_only=True)
    [batched] = normalize_batch([report], [municipality], memo or Memo())
    for read in (normalize_report(report, municipality, Memo()), batched):
        assert read.columns == careful.columns
        assert read.sources == careful.sources
        assert read.problems == careful.problems
        assert (read.rows_read, read.rows_rejected) == (careful.rows_read, careful.rows_rejected)
    same_in_arrow([report], [careful])
    return batched


SCHEMAS = load_schemas()


def same_in_arrow(reports: list[RawReport], careful: list[Normalized]) -> None:
    """batch_tables over `reports` gives each report's careful records, typed, with their
    sources, and the same problems and counts."""
    municipalities = [CONFIG.municipality_of(r.profile) for r in reports]
    bare, tables, spans = batch_tables(reports, municipalities, Memo(), SCHEMAS)
    for result, expected, span in zip(bare, careful, spans):
        assert (result.problems, result.headers) == (expected.problems, expected.headers)
        assert (result.rows_read, result.rows_rejected) == (expected.rows_read, expected.rows_rejected)
        for t in TABLES:
            typed = with_sources(typed_table(expected.columns[t], len(expected.sources[t]), SCHEMAS[t]), expected.sources[t])
            got = tables[t].slice(*span[t])
            assert got.schema == typed.schema
            assert got.to_pylist() == typed.to_pylist(), (result.headers, t)


def reports_under(folder: Path, config: Config) -> list[RawReport]:
    reports = []
    for item in find_inputs([folder]).inputs:
        job = prepare(item, config, None, None, {})
        try:
            reports.append(read_report(item.path, job.profile, None, item.name))  # type: ignore[union-attr]
        except ReadFailed:
            continue
    return reports


@pytest.mark.parametrize("folder", ["forms", "invented", "bad"])
def test_fixtures_give_the_same_both_ways(folder: str) -> None:
    reports = reports_under(FIXTURES / folder, CONFIG)
    assert reports
    problems = sum(len(same_both_ways(r, CONFIG).problems) for r in reports)
    vouched_as_quick_reads(reports)
    if folder == "bad":
        assert problems > 20  # the careful path really ran, on many rows


def test_synthetic_reports_give_the_same_both_ways(tmp_path: Path) -> None:
    generate(tmp_path / "raw", 2_000, municipalities=5, years=5, workers=1)
    reports = reports_under(tmp_path / "raw", load_config(ROOT))
    memo = Memo()  # shared, as a worker shares it over a batch
    rows = sum(len(same_both_ways(r, CONFIG, memo).columns["incidents"].get("incident_id", [])) for r in reports)
    assert rows > 1_500
    assert vouched_as_quick_reads(reports) > 0.9 * rows  # the columnar screens pass most real-looking rows
    municipalities = [CONFIG.municipality_of(r.profile) for r in reports]
    carefully = [normalize_report(report, municipality, careful_only=True) for report, municipality in zip(reports, municipalities)]
    for batched, careful in zip(normalize_batch(reports, municipalities, Memo()), carefully):  # a whole batch at once, as a worker does
        assert (batched.columns, batched.sources, batched.problems) == (careful.columns, careful.sources, careful.problems)
    same_in_arrow(reports, carefully)


SEED_TEXT = SEED.read_text(encoding="utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEED_TEXT)), st.text(max_size=30))
def test_the_seed_with_text_inserted_anywhere_gives_the_same_both_ways(at: int, inserted: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.txt"
        path.write_text(SEED_TEXT[:at] + inserted + SEED_TEXT[at:], encoding="utf-8")
        every_way_agrees_on(path)


def every_way_agrees_on(path: Path) -> None:
    try:
        report = read_report(path, CONFIG.profile)
    except ReadFailed:
        return
    same_both_ways(report, CONFIG)
    vouched_as_quick_reads([report])


# what the screens and splitters look at: spaces of every kind, line breaks, brackets,
# bullets, full-width forms, digits, units, era names, characters CP932 lacks, controls
WATCHED = st.text(alphabet=st.sampled_from(list(" \t\u3000\u00a0\u2003\n\r・･【】[]（）()0123456789０１２：:,，.万約うち人名世帯円件施設数金額有無不明～~令和平成年月日-－ー课为\u200e\x07a漢")),
                  max_size=25)
SEED_ROWS = SEED_TEXT.splitlines()
HEADER_AT = next(i for i, line in enumerate(SEED_ROWS) if line.startswith("No\t"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=8), WATCHED)
def test_a_seed_cell_replaced_with_watched_characters_gives_the_same_every_way(row: int, column: int, text: str) -> None:
    grid = [line.split("\t") for line in SEED_ROWS]
    grid[HEADER_AT + 1 + row][column] = text.replace("\t", " ")  # as CSV, so that a cell may hold line breaks
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(grid)
        every_way_agrees_on(path)


@pytest.mark.parametrize("cell", ["漢" * 10_000, "漢" * 10_001, "a" * 10_000, "a" * 10_001, "漢" * 3_334])
def test_a_cell_at_the_length_limit_gives_the_same_every_way(tmp_path: Path, cell: str) -> None:
    """A report cell may hold 10,000 characters; the batch path counts bytes first, and a
    character may be three of them."""
    grid = [line.split("\t") for line in SEED_ROWS]
    grid[HEADER_AT + 2][4] = cell  # the first row of the seed is not vouched for anyway
    path = tmp_path / "report.txt"
    path.write_text("\n".join("\t".join(row) for row in grid), encoding="utf-8")
    report = read_report(path, CONFIG.profile)
    batched = same_both_ways(report, CONFIG)
    refused = [p for p in batched.problems if p.row == report.rows[1].line and p.field == "summary"]
    assert bool(refused) == (len(cell) > 10_000), refused


MEASURE_TEXT = st.text(alphabet=st.sampled_from(list(" \t・･ab漢。")), max_size=20)


@settings(max_examples=400, deadline=None)
@given(st.lists(MEASURE_TEXT, min_size=1, max_size=5))
def test_measures_split_in_arrow_as_split_measures_splits_them(texts: list[str]) -> None:
    """The batch path splits 再発防止策 cells in Arrow; where the screens let a cell through
    (no whitespace but spaces and tabs), it gives what values.split_measures gives."""
    import pyarrow as pa

    from pipeline.columnar import _split_measures
    from pipeline.values import split_measures

    assert _split_measures(pa.array(texts, pa.string())).to_pylist() == [split_measures(t) for t in texts]


def test_measures_split_in_arrow_on_the_seed_and_tricky_cells() -> None:
    import pyarrow as pa

    from pipeline.columnar import _split_measures
    from pipeline.values import split_measures

    cells = [line.split("\t")[7] for line in SEED_ROWS[HEADER_AT + 1 :]]
    cells += ["", "  ", "・", "・・a", "a ・ ・b", "a・b", " ・a\t・ b ", "a ･b", "・ ", "a ・"]
    split = _split_measures(pa.array(cells, pa.string())).to_pylist()
    assert split == [split_measures(c) for c in cells]
    assert len(split[0]) == 2  # the seed's first row has two measures
    assert split[-7:] == [["・a"], ["a", "・b"], ["a・b"], ["a", "b"], ["a", "b"], [], ["a"]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("a漢\x1f\n ・")), max_size=6), max_size=6))
def test_texts_become_arrow_as_pa_array_makes_them(texts: list[str]) -> None:
    """vouch turns a batch's cells into Arrow joined and split, or one by one when a cell
    holds the separator: either way what pa.array gives."""
    import pyarrow as pa

    from pipeline.columnar import _as_arrow

    assert _as_arrow(texts).equals(pa.array(texts, pa.string()))


def test_records_are_the_same_from_chunked_value_columns(tmp_path: Path) -> None:
    """Text past 2 GB comes back from Arrow as a ChunkedArray: the records must not change."""
    import dataclasses

    import pyarrow as pa

    from pipeline.arrow_records import arrow_records
    from pipeline.columnar import _rows, read_batch

    generate(tmp_path / "raw", 300, municipalities=2, years=2, workers=1)
    report = next(r for r in reports_under(tmp_path / "raw", CONFIG)
                  if read_batch([r], [CONFIG.municipality_of(r.profile)], Memo()).vouched[0] is not None and len(r.rows) > 6)
    municipality = CONFIG.municipality_of(report.profile)
    batch = read_batch([report], [municipality], Memo())
    rows = len(report.rows)
    assert batch.vouched == [(0, rows)]  # every row vouched for: its records are made in Arrow

    def chunked(array: pa.Array) -> pa.ChunkedArray:
        return pa.chunked_array([array.slice(0, 3), array.slice(3)], array.type)

    names = ("occurred_on", "summary", "response", "measures")
    assert all(isinstance(getattr(batch.values, name), pa.Array) for name in names)
    split = dataclasses.replace(batch.values, **{name: chunked(getattr(batch.values, name)) for name in names})
    one = arrow_records([report], [municipality], [rows], batch.values, SCHEMAS)
    two = arrow_records([report], [municipality], [rows], split, SCHEMAS)
    assert {t: one[t].to_pylist() for t in one} == {t: two[t].to_pylist() for t in two}
    assert one["measures"].num_rows > rows
    assert _rows(split, 0, rows) == _rows(batch.values, 0, rows)


@pytest.mark.parametrize("free_text", [False, True])
@pytest.mark.parametrize("spaced", [False, True])
def test_one_screen_per_column_refuses_what_the_screens_refuse_one_by_one(free_text: bool, spaced: bool) -> None:
    """vouch reads each column once with a class of every character its screens refuse:
    for every character, that class matches where one of those screens would."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.columnar import patterns, refused

    chars = pa.array([chr(c) for c in [*range(0xD800), *range(0xE000, 0x10000), 0x1F600, 0x10FFFF]], pa.string())

    def hits(pattern: str) -> list[bool]:
        return pc.match_substring_regex(chars, pattern).to_pylist()

    p = patterns()
    one_by_one = [h or (spaced and o) or (free_text and c) for h, o, c in zip(hits(p["hidden"]), hits(p["odd_space"]), hits(p["not_cp932"]))]
    assert hits(refused(free_text, spaced)) == one_by_one
    assert any(one_by_one)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", None, 3]), max_size=12), st.data())
def test_a_coded_column_gives_what_its_rows_as_a_list_give(rows: list[object], data: st.DataObject) -> None:
    """vouch keeps parsed values Coded (each distinct value once, and the rows' indices):
    its slices, chosen ranges and Arrow column are those of the plain list of rows."""
    import numpy as np
    import pyarrow as pa

    from pipeline.coded import Coded

    distinct = list(dict.fromkeys(rows))
    coded = Coded(distinct, np.array([distinct.index(r) for r in rows], np.int64))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=6)))
    ranges = list(zip(cuts[::2], cuts[1::2]))
    assert len(coded) == len(rows) and coded[:] == rows and coded[1:4] == rows[1:4]
    assert coded.rows(ranges)[:] == [r for a, b in ranges for r in rows[a:b]]
    assert coded.map(str)[:] == [str(r) for r in rows]
    assert coded.arrow(pa.string(), lambda v: None if v is None else str(v)).to_pylist() == [None if r is None else str(r) for r in rows]
