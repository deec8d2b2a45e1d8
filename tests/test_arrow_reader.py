"""arrow_reader reads a batch of text reports as readers.read_report reads each: the same
reports (their rows made again from the batch's columns), the same failures, and the
same records once normalized. Checked on every fixture, synthetic reports, the seed
with text inserted anywhere, and files made to sit on each edge of what it takes."""

from __future__ import annotations

import codecs
import tempfile
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate
from pipeline.arrow_reader import Item, ReadCells, read_reports
from pipeline.arrow_records import batch_tables
from pipeline.columnar import patterns
from pipeline.config import load_config
from pipeline.readers import RawReport, ReadFailed, read_report
from pipeline.row_values import Memo
from pipeline.schema import TABLES, load_schemas
from pipeline.sources import find_inputs
from pipeline.text import unusual_characters

from .conftest import ROOT, SEED

CONFIG = load_config(ROOT)
SCHEMAS = load_schemas()
SEED_TEXT = SEED.read_text(encoding="utf-8")
SEED_LINES = SEED_TEXT.splitlines()
HEADER_AT = next(i for i, line in enumerate(SEED_LINES) if line.startswith("No\t"))


def items_under(folder: Path) -> list[Item]:
    profiles: dict = {}
    out = []
    for item in find_inputs([folder]).inputs:
        try:
            profile = CONFIG.profile_for(item.path, item.top, profiles)
        except Exception:  # a broken profile is prepare's to report, before any reading
            continue
        out.append(Item(item.path, profile, None, item.name))
    return out


def one_by_one(item: Item) -> RawReport | ReadFailed:
    try:
        return read_report(item.path, item.profile, item.encoding, item.name)
    except ReadFailed as failed:
        return failed


def read_alike(items: list[Item]) -> int:
    """read_reports gives what read_report gives each file, and batch_tables the same
    records from its columns as from read_report's rows; how many it read in Arrow."""
    read, cells = read_reports(items)
    assert len(read) == len(cells.spans) == len(items)
    rows = len(next(iter(cells.columns.values()))) if cells.columns else 0
    for column in cells.columns.values():
        column.validate(full=True)  # the files' own bytes went to Arrow unchecked: proper UTF-8, offsets in order
    in_arrow = 0
    for got, item, span in zip(read, items, cells.spans):
        expected = one_by_one(item)
        if isinstance(expected, ReadFailed):
            assert isinstance(got, ReadFailed) and span is None, item.path
            assert (got.problems, got.rows) == (expected.problems, expected.rows)
            continue
        assert isinstance(got, RawReport)
        if span is None:
            assert got == expected
            continue
        in_arrow += 1
        assert got.rows == () and got.lines == expected.lines
        assert replace(got, rows=cells.rows_of(got, span)) == expected, item.path
        assert 0 <= span[0] < span[1] <= rows
    reports = [r for r in read if isinstance(r, RawReport)]
    if reports:
        municipalities = [CONFIG.municipality_of(r.profile) for r in reports]
        spans = [span for r, span in zip(read, cells.spans) if isinstance(r, RawReport)]
        fast = batch_tables(reports, municipalities, Memo(), SCHEMAS, ReadCells(cells.columns, spans))
        slow = batch_tables([one_by_one(i) for i, r in zip(items, read) if isinstance(r, RawReport)],  # type: ignore[misc]
                            municipalities, Memo(), SCHEMAS)
        assert [(b.problems, b.headers, b.rows_read, b.rows_rejected) for b in fast[0]] == \
               [(b.problems, b.headers, b.rows_read, b.rows_rejected) for b in slow[0]]
        for t in TABLES:
            assert fast[1][t].to_pylist() == slow[1][t].to_pylist(), t
        assert fast[2] == slow[2]
    return in_arrow


@pytest.mark.parametrize("folder", ["forms", "invented", "bad"])
def test_fixtures_are_read_alike(folder: str) -> None:
    items = items_under(ROOT / "tests" / "fixtures" / folder)
    assert items
    in_arrow = read_alike(items)
    if folder == "forms":  # the others are quoted, Excel or broken: read_report's
        assert in_arrow > 0


def test_synthetic_reports_are_read_alike_and_mostly_in_arrow(tmp_path: Path) -> None:
    generate(tmp_path / "raw", 2_000, municipalities=5, years=5, workers=1)
    items = items_under(tmp_path / "raw")
    assert read_alike(items) > 0.9 * len(items)


def test_the_seed_is_read_in_arrow() -> None:
    assert read_alike([Item(SEED, CONFIG.profile, None, SEED.name)]) == 1


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Item:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return Item(path, CONFIG.profile, None, name)


def seed_with(lines: list[str], end: str = "\n") -> str:
    return end.join(lines) + end


def edges(folder: Path) -> dict[str, Item]:
    """Files on each edge of what arrow_reader takes, one of each."""
    head, header, rows = SEED_LINES[:HEADER_AT], SEED_LINES[HEADER_AT], SEED_LINES[HEADER_AT + 1 :]
    short = "\t".join(rows[0].split("\t")[:5])
    made = {
        "crlf.txt": seed_with(SEED_LINES, "\r\n"),
        "cr.txt": seed_with(SEED_LINES, "\r"),
        "mixed-ends.txt": "\r\n".join(SEED_LINES[:HEADER_AT + 2]) + "\r" + "\n".join(rows[1:]) + "\n",
        # two line ends each (CR, then CRLF), rows past the 40 lines a header is looked for in
        "cr-crlf.txt": seed_with([*head, header, *rows * 4], "\r\r\n"),
        "no-final-break.txt": "\n".join(SEED_LINES),
        "blank-lines.txt": seed_with([*head, header, "", "\t\t", rows[0], " \u3000\t ", *rows[1:], "", ""]),
        "header-late.txt": seed_with([*head, *[""] * 12, header, *rows]),  # past the first lines looked at
        "header-very-late.txt": seed_with([*head, *["x"] * 45, header, *rows]),  # past every line looked at
        "short-row.txt": seed_with([*head, header, rows[0], short, *rows[1:]]),
        "long-row-blank-tail.txt": seed_with([*head, header, rows[0] + "\t \t", *rows[1:]]),
        "long-row.txt": seed_with([*head, header, rows[0] + "\tx", *rows[1:]]),
        "quoted.txt": seed_with([*head, header, rows[0].replace("有(1人)", '"有(1人)"', 1), *rows[1:]]),
        "no-rows.txt": seed_with([*head, header, "", "\t"]),
        "no-title.txt": seed_with([header, *rows]),
        "bad-period.txt": seed_with([head[-1].replace("4月", "13月") if "4月" in head[-1] else head[-1], *SEED_LINES[HEADER_AT:]]),
        "commas.csv": seed_with([line.replace(",", "、").replace("\t", ",") for line in SEED_LINES]),
        "no-header.txt": seed_with(head + rows),
        "empty.txt": " \n\t\n",
        "binary.txt": "abc\x00def",
        "control-in-cell.txt": seed_with([*head, header, rows[0].replace("有(1人)", "有\x1c(1人)", 1), *rows[1:]]),
        "odd-breaks.txt": seed_with([*head, header, rows[0].replace("有(1人)", "有\u2028\x85(1人)", 1), *rows[1:]]),
        "訂正版.txt": SEED_TEXT,
    }
    items = {name: write(folder, name, text) for name, text in made.items()}
    items["cp932.txt"] = write(folder, "cp932.txt", SEED_TEXT.replace("为", "を"), "cp932")
    items["bom.txt"] = write(folder, "bom.txt", "\ufeff" + SEED_TEXT)
    items["utf16.txt"] = Item(folder / "utf16.txt", CONFIG.profile, None, "utf16.txt")
    (folder / "utf16.txt").write_bytes(codecs.BOM_UTF16_LE + SEED_TEXT.encode("utf-16-le"))
    items["forced.txt"] = replace(write(folder, "forced.txt", SEED_TEXT.replace("为", "を"), "cp932"), encoding="cp932")
    # UTF-8 named by the user: the rest of the file goes to Arrow as its own bytes, past the BOM
    # that utf-8-sig drops and utf-8 keeps as a character
    items["named-sig.txt"] = replace(write(folder, "named-sig.txt", "\ufeff" + SEED_TEXT), encoding="utf-8-sig")
    items["named-utf8-bom.txt"] = replace(write(folder, "named-utf8-bom.txt", "\ufeff" + SEED_TEXT), encoding="UTF8")
    items["missing.txt"] = Item(folder / "missing.txt", CONFIG.profile, None, "missing.txt")
    return items


def test_files_on_every_edge_are_read_alike(tmp_path: Path) -> None:
    items = edges(tmp_path)
    read, cells = read_reports(list(items.values()))
    in_arrow = {name for name, span in zip(items, cells.spans) if span is not None}
    assert in_arrow == {"crlf.txt", "cr.txt", "mixed-ends.txt", "cr-crlf.txt", "no-final-break.txt", "blank-lines.txt", "header-late.txt",
                        "commas.csv", "control-in-cell.txt", "odd-breaks.txt", "訂正版.txt", "cp932.txt", "bom.txt", "utf16.txt",
                        "forced.txt", "named-sig.txt", "named-utf8-bom.txt"}
    assert read_alike(list(items.values())) == len(in_arrow)
    corrected = read[list(items).index("訂正版.txt")]
    assert isinstance(corrected, RawReport) and corrected.correction


def test_files_read_one_by_one_each_come_alike(tmp_path: Path) -> None:
    """A batch of one file, and batches mixing tab and comma files in any order."""
    items = list(edges(tmp_path).values())
    for item in items:
        read_alike([item])
    read_alike(items[::-1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEED_TEXT)), st.text(max_size=30))
def test_the_seed_with_text_inserted_anywhere_is_read_alike(at: int, inserted: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        item = write(Path(folder), "report.txt", SEED_TEXT[:at] + inserted + SEED_TEXT[at:])
        read_alike([item, Item(SEED, CONFIG.profile, None, SEED.name)])


# what decides how a file is read: line ends of every kind, tabs, quotes, a BOM, blanks
EDGY = st.lists(st.sampled_from(["\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029", '"', "\ufeff",
                                ",", " ", "\u3000", "a", "あ", "【", "月"]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEED_TEXT)), EDGY)
def test_the_seed_with_line_ends_tabs_and_quotes_inserted_is_read_alike(at: int, inserted: str) -> None:
    """Where a file is read by Arrow and where by read_report is decided by these: either
    way, as read_report reads it."""
    with tempfile.TemporaryDirectory() as folder:
        item = write(Path(folder), "report.txt", SEED_TEXT[:at] + inserted + SEED_TEXT[at:])
        read_alike([item, Item(SEED, CONFIG.profile, None, SEED.name)])


def test_the_cp932_screen_finds_what_unusual_characters_finds_for_every_character() -> None:
    """Every character but the surrogates, each alone and inside a Japanese text."""
    chars = [chr(c) for c in [*range(0xD800), *range(0xE000, 0x10000), 0x10000, 0x1F600, 0x20B9F, 0x10FFFF]]
    expected = [bool(unusual_characters(c)) for c in chars]
    for texts in (chars, [f"漢字{c}です" for c in chars]):
        found = pc.match_substring_regex(pa.array(texts, pa.string()), patterns()["not_cp932"]).to_pylist()
        assert found == expected
    assert sum(expected) > 50_000 and not expected[ord("を")] and expected[ord("为")]


def test_a_refused_cell_with_a_huge_figures_block_leaves_the_batch_alone(tmp_path: Path) -> None:
    """A summary too long to vouch for (and too long to publish) whose block adds up past
    int64: its report is refused for it, and the other report of the batch is read as
    always (the block's totals are never made: only rows vouched for are converted)."""
    lines = list(SEED_LINES)
    cells = lines[HEADER_AT + 1].split("\t")
    cells[4] = "誤送付【" + " ".join(["99999999999万人"] * 9224) + "】"
    lines[HEADER_AT + 1] = "\t".join(cells)
    items = [write(tmp_path, "huge.txt", seed_with(lines)), write(tmp_path, "ok.txt", SEED_TEXT)]
    read, cells_read = read_reports(items)
    reports = [r for r in read if isinstance(r, RawReport)]
    assert len(reports) == 2
    bare, tables, spans = batch_tables(reports, [CONFIG.municipality_of(r.profile) for r in reports], Memo(), SCHEMAS,
                                       ReadCells(cells_read.columns, cells_read.spans))
    assert "bad-value" in [p.code for p in bare[0].problems] and bare[1].rows_read == 7
    assert tables["incidents"].slice(*spans[1]["incidents"]).num_rows == 7
