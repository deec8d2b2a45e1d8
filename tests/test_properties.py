"""Property tests: readers and normalizers never crash on arbitrary input, only report a
typed problem; normalizing an already normalized value changes nothing."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Config, load_config
from pipeline.dates import parse_period
from pipeline.errors import ValueProblem
from pipeline.normalize import normalize_report
from pipeline.readers import ReadFailed, decode, parse_grid, read_report, text_grid
from pipeline.values import Figure, parse_figures, parse_leak, parse_no, parse_office

from .conftest import ROOT, SEED

CONFIG: Config = load_config(ROOT)
SEED_TEXT = SEED.read_text(encoding="utf-8")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_and_normalize(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"report{suffix}"
        path.write_bytes(data)
        try:
            report = read_report(path, CONFIG.profile)
        except ReadFailed as failed:
            assert failed.problems and all(p.file == path.name for p in failed.problems)
            return
        normalize_report(report, CONFIG.municipality)


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([".txt", ".csv", ".xlsx"]))
def test_arbitrary_bytes_are_read_or_refused(data: bytes, suffix: str) -> None:
    read_and_normalize(data, suffix)


@FUZZ
@given(st.integers(min_value=0, max_value=len(SEED_TEXT)), st.text(max_size=40))
def test_text_inserted_anywhere_in_the_seed_is_read_or_refused(at: int, inserted: str) -> None:
    read_and_normalize((SEED_TEXT[:at] + inserted + SEED_TEXT[at:]).encode("utf-8"), ".txt")


@FUZZ
@given(st.text(max_size=500))
def test_the_grid_parser_takes_any_text(text: str) -> None:
    try:
        grid = text_grid(decode(text.encode("utf-8"), "x.txt"))
        parse_grid(grid, "x.txt", CONFIG.profile)
    except ReadFailed:
        pass
    except Exception as exc:  # only the reader's own typed errors may escape
        assert type(exc).__name__ == "QuotingError", exc


@given(st.integers(min_value=1, max_value=999_999))
def test_no_round_trips(n: int) -> None:
    assert parse_no(str(parse_no(str(n)))) == n


@given(st.booleans(), st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)))
def test_leak_round_trips(leaked: bool, persons: int | None) -> None:
    text = ("有" if leaked else "無") + (f"({persons}人)" if leaked and persons is not None else "")
    leak = parse_leak(text)
    again = parse_leak(("有" if leak.leaked else "無") + (f"({leak.persons}人)" if leak.persons is not None else ""))
    assert again == leak and (leak.leaked, leak.persons) == (leaked, persons if leaked else None)


NAME = st.text(alphabet="健康福祉部社会課教育委員会学校市民税務", min_size=1, max_size=8)


@given(st.one_of(st.none(), NAME), NAME)
def test_office_round_trips(department: str | None, division: str) -> None:
    office = parse_office(f"{department} {division}" if department else division)
    assert (office.department, office.division) == (department, division)
    assert parse_office(f"{office.department or ''} {office.division}") == office


FIGURE = st.builds(
    Figure,
    label=st.sampled_from(["人数", "世帯数", "施設数", "金額", "発送漏れ", ""]),
    value=st.integers(min_value=0, max_value=10**9),
    unit=st.sampled_from(["人", "世帯", "施設", "円", "件"]),
    qualifier=st.sampled_from([None, "うち", "約", "うち約"]),
)


@given(st.lists(FIGURE, min_size=1, max_size=5))
def test_figures_round_trip(figures: list[Figure]) -> None:
    text = " ".join(f"{f.label}{'：' if f.label else ''}{f.qualifier or ''}{f.value:,}{f.unit}" for f in figures)
    assert parse_figures(text) == figures


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 1)), st.integers(min_value=0, max_value=11))
def test_period_round_trips(start: date, months: int) -> None:
    first = start.replace(day=1)
    last_month = (first.month - 1 + months) % 12 + 1
    last_year = first.year + (first.month - 1 + months) // 12
    period = parse_period(f"{first.year}年{first.month}月～{last_year}年{last_month}月")
    again = parse_period(f"{period.start.year}年{period.start.month}月～{period.end.year}年{period.end.month}月")
    assert again == period and period.start == first


def test_a_figure_that_is_not_one_is_a_typed_error() -> None:
    try:
        parse_figures("人数：たくさん")
    except ValueProblem as exc:
        assert "人数" in exc.reason
    else:
        raise AssertionError("expected ValueProblem")


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("ab 漢\t,\r\n\u3000\u2028\x0c")), max_size=60))
def test_text_without_quotes_is_split_as_the_csv_module_splits_it(text: str) -> None:
    from pipeline.readers import csv_grid

    tabbed = any(line.count("\t") >= 2 for line in text.splitlines())
    assert text_grid(text) == csv_grid(text, "\t" if tabbed else ",")
