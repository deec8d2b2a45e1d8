"""arrow_dates.dates_columns against dates.parse_dates_cell: wherever the column path says
`ok`, the Python parser must give the very same dates; the common forms must be ok."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.arrow_dates import dates_columns
from pipeline.dates import ERAS, DatesCell, parse_dates_cell
from pipeline.errors import ValueProblem
from pipeline.readers import decode, text_grid

from .conftest import SEED

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def python(text: str | None) -> DatesCell | None:
    try:
        return parse_dates_cell(text) if text is not None else None
    except ValueProblem:
        return None


def columns(texts: list[str | None]) -> list[DatesCell | None]:
    """dates_columns row by row: the dates where ok, None elsewhere."""
    out = dates_columns(pa.array(texts, pa.string()))
    assert out.ok.dtype == bool and len(out.ok) == len(texts)
    rows = zip(out.occurred_on.to_pylist(), out.occurred_until.to_pylist(), out.discovered_on.to_pylist())
    result = []
    for ok, (on, until, discovered) in zip(out.ok.tolist(), rows):
        assert ok or (on, until, discovered) == (None, None, None)
        result.append(DatesCell(on, until, discovered) if ok else None)
    return result


def assert_sound(texts: list[str | None]) -> list[DatesCell | None]:
    got = columns(texts)
    for text, cell in zip(texts, got):
        if cell is not None:
            assert python(text) == cell, text
    return got


def seed_cells() -> list[str]:
    grid = text_grid(decode(SEED.read_bytes(), SEED.name))
    header = next(i for i, (_, cells) in enumerate(grid) if any("発生日" in c for c in cells))
    column = next(j for j, c in enumerate(grid[header][1]) if "発生日" in c)
    return [cells[column] for _, cells in grid[header + 1:]]


def test_seed_cells_are_all_read() -> None:
    texts = seed_cells()
    assert len(texts) >= 7
    assert columns(texts) == [parse_dates_cell(t) for t in texts]


EDGES: list[tuple[str, bool]] = [  # (cell, must be ok)
    ("2024.4.8 (2024.4.15)", True),
    ("2023.11.27 (2024.6.7)", True),
    ("令和6年4月8日 (令和6年4月15日)", True),
    ("2024.4.1～2024.7.10 (2024.7.12)", True),
    ("2024.4.1~2024.7.10(2024.7.12)", True),
    ("2024.4.1 〜 2024.7.10 (2024.7.12)", True),
    ("2024.7.10～2024.4.1 (2024.7.12)", True),  # backwards: parse_dates_cell takes it as written
    ("不明 (2024.5.1)", True), ("不詳(2024.5.1)", True), ("不明確 (2024.5.1)", True), ("調査中 (R6.5.1)", True),
    ("(2024.5.1)", True), ("  ( 2024.5.1 )  ", True),
    ("2024/4/8 (2024/4/15)", True), ("2024-04-08 (2024-04-15)", True), ("2024年4月8日(2024年4月15日)", True),
    ("2024 . 4 . 8 日 ( 2024 年 4 月 15 日 )", True), ("2024年4.8 (2024/4-15)", True),
    ("２０２４．４．８（２０２４．４．１５）", True), ("Ｒ６．４．８\u3000（Ｒ６．４．１５）", True),
    ("2024.4.8\u00a0(2024.4.15)", True), ("2024.4.8\t(2024.4.15)\r\n", True), ("\n2024.4.8 (2024.4.15)\n", True),
    ("2024.4.8\n2024.4.15", True), ("2024.4.8\r\n(2024.4.15)", True), ("不明\n2024.4.15", True),
    ("2024.4.1 ～\n2024.7.10 (2024.7.12)", True), ("2024.4.1～2024.7.10\n2024.7.12", True),
    ("平成31年4月30日 (令和元年5月1日)", True), ("H31.4.30 (R1.5.1)", True), ("令和元年5月1日 (令和元年5月7日)", True),
    ("平成元年1月8日 (平成元年1月9日)", True), ("昭和64年1月7日 (平成元年1月8日)", True), ("明治45年7月29日 (大正元年7月30日)", True),
    ("M1.10.23 (T1.7.30)", True), ("S1.12.25 (S2.1.1)", True), ("令 6 年 4 月 8 日 (令和06年04月15日)", True),
    ("2024.2.29 (2024.3.1)", True), ("2000.2.29 (2000.3.1)", True), ("0001.1.1 (9999.12.31)", True),
    # refused: parse_dates_cell fails on these, or reads them another way
    ("2024.2.30 (2024.3.1)", False), ("2023.2.29 (2024.3.1)", False), ("1900.2.29 (2024.3.1)", False),
    ("2024.4.31 (2024.5.1)", False), ("2024.13.1 (2024.5.1)", False), ("2024.0.1 (2024.5.1)", False),
    ("2024.4.0 (2024.5.1)", False), ("2024.4.32 (2024.5.1)", False), ("0000.1.1 (2024.5.1)", False),
    ("平成31年5月1日 (令和元年5月1日)", False), ("令和1年4月30日 (令和元年5月1日)", False), ("令和0年5月1日 (2024.1.1)", False),
    ("昭和64年1月8日 (2024.1.1)", False), ("明治1年10月22日 (2024.1.1)", False), ("H99.1.1 (2024.1.1)", False),
    ("2024.4.8 (x) (2024.4.15)", False), ("(2024.4.8) (2024.4.15)", False), ("2024.4.8 ((2024.4.15))", False),
    ("2024.4.8 (2024.4.15", False), ("2024.4.8 2024.4.15", False), ("2024.4.8", False), ("", False), ("   ", False),
    ("2024.4.8\n", False), ("\n2024.4.15", False), ("2024.\n4.8\n2024.4.15", False),
    ("2024.4.1～ (2024.7.12)", False), ("～2024.7.10 (2024.7.12)", False), ("2024.4.1～2024.5.1～2024.7.10 (2024.7.12)", False),
    ("2024.4.1～2024.2.30 (2024.7.12)", False), ("不明～2024.4.1 (2024.7.12)", False), ("不明です (2024.5.1)", False),
    ("24.4.8 (2024.4.15)", False), ("２０２４．４．８（2024.4.15）①", False), ("2024.4.⑧ (2024.4.15)", False),
    ("2024.4.8 [2024.4.15]", False), ("2024,4,8 (2024.4.15)", False), ("2024.4.8\u200b(2024.4.15)", False),
    ("r6.4.8 (r6.4.15)", False), ("Ｘ6.4.8 (2024.4.15)", False), ("㍻31.4.30 (2019.5.1)", False), ("2024.4.8 (２０２４．４．１５)", True),
]


@pytest.mark.parametrize(("text", "common"), EDGES, ids=[repr(t) for t, _ in EDGES])
def test_edge_cases(text: str, common: bool) -> None:
    [cell] = assert_sound([text])
    if common:
        assert cell is not None, "the fast path should read this"
    else:
        assert cell is None or python(text) == cell


def test_edge_cases_in_one_column_with_nulls_and_slices() -> None:
    texts = [t for t, _ in EDGES] + [None]
    expected = assert_sound(texts)
    assert columns(texts[5:]) == expected[5:]  # a slice: offsets that do not start at 0
    sliced = dates_columns(pa.array(texts, pa.string()).slice(5))
    assert sliced.ok.tolist() == [e is not None for e in expected[5:]]
    chunked = dates_columns(pa.chunked_array([pa.array(texts[:9]), pa.array(texts[9:])]))
    assert chunked.ok.tolist() == [e is not None for e in expected]
    large = dates_columns(pa.array(texts, pa.large_string()))  # 64-bit offsets
    assert large.ok.tolist() == [e is not None for e in expected]
    assert large.discovered_on.to_pylist() == [e.discovered_on if e else None for e in expected]
    assert columns([]) == [] and columns([None, None]) == [None, None]


def test_the_spaces_are_pythons() -> None:
    """The patterns spell out re's \\s; parse_dates_cell also strips with str.isspace."""
    every = "".join(map(chr, range(0x110000)))
    assert set(re.findall(r"\s", every)) == {c for c in every if c.isspace()}


# --- a grammar of cells, good and bad pieces mixed ---------------------------------------

FULL = str.maketrans("0123456789./-()RHSTM", "０１２３４５６７８９．／－（）ＲＨＳＴＭ")
ALIASES = [a for name, (_, short) in ERAS.items() for a in (name, *short)]
Pick = Callable[[st.SearchStrategy[Any], st.SearchStrategy[Any]], Any]

# each piece of a cell: (what parse_dates_cell reads, though odd ones too: spaces of every
# kind, full width, eras out of their range, 31 days in any month; what it may well refuse)
SPACES = (st.sampled_from(["", "", " ", " ", "\u3000", "\u00a0", "\t", "\u2009", "\x0b", "\n", "\r\n"]),
          st.text(st.sampled_from([" ", "\u3000", "\n", "\u200b", "\ufeff", "\u2028", "\x85"]), max_size=3))
YEARS = (st.integers(1800, 2100), st.sampled_from([0, 1, 9, 99, 999, 1000, 9999, 10000]))
ERA_YEARS = (st.integers(1, 64), st.integers(0, 99))
MONTHS, DAYS = (st.integers(1, 12), st.integers(0, 13)), (st.integers(1, 31), st.integers(0, 32))
WIDTHS = (st.sampled_from([1, 2]), st.sampled_from([3, 4]))
ERA_NAMES = (st.sampled_from([*ALIASES, "Ｒ", "Ｈ"]), st.sampled_from(["r", "X", "令和和", "㍻", "", "明治治"]))
FIRST_SEPS = (st.sampled_from([".", "/", "-", "年", "．", "／", "－", "‐", "−"]), st.sampled_from(["・", ",", "", "月", "ー", ".."]))
SECOND_SEPS = (st.sampled_from([".", "/", "-", "月", "．"]), st.sampled_from(["ー", "", "年", "。"]))
ENDS = (st.sampled_from(["", "日"]), st.sampled_from(["日日", "目", "."]))
UNKNOWN = (st.sampled_from(["", "不明", "不詳", "不明確", "調査中"]), st.sampled_from(["不明です", "?", "（不明）", "不 明", "不明確確"]))
RANGES = (st.sampled_from(["～", "~", "〜"]), st.sampled_from(["-", "～～", "~〜", "、"]))
PARENS = (st.sampled_from([("(", ")"), ("（", "）"), ("(", "）")]),
          st.sampled_from([("[", "]"), ("(", "("), ("", ""), ("((", "))"), ("(", ")()"), ("( (", ")"), ("(", ") x")]))
BREAKS = (st.sampled_from(["\n", "\r\n", "\n\n", " \n "]), st.sampled_from(["\r", "\u2028", "\x85"]))


def number(pick: Pick, value: tuple[st.SearchStrategy[int], st.SearchStrategy[int]], width: int = 2) -> str:
    text = str(pick(*value)).zfill(pick(st.sampled_from([1, width]), WIDTHS[1]))
    return text.translate(FULL) if pick(st.booleans(), st.just(True)) else text


def a_date(pick: Pick) -> str:
    if pick(st.booleans(), st.booleans()):
        year = pick(*ERA_NAMES) + pick(*SPACES) + ("元" if pick(st.booleans(), st.just(False)) else number(pick, ERA_YEARS))
    else:
        year = number(pick, YEARS, 4)
    s = [pick(*SPACES) for _ in range(5)]
    month, day = number(pick, MONTHS), number(pick, DAYS)
    return f"{year}{s[0]}{pick(*FIRST_SEPS)}{s[1]}{month}{s[2]}{pick(*SECOND_SEPS)}{s[3]}{day}{s[4]}{pick(*ENDS)}"


@st.composite
def cells(draw: st.DrawFn) -> str:
    """A cell from the grammar; in a noisy one, each piece is odd one time in five."""
    noisy = draw(st.booleans())

    def pick(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
        return draw(odd if noisy and draw(st.sampled_from([False] * 4 + [True])) else good)

    kind = draw(st.sampled_from(["date", "range", "unknown"]))
    occurred = {"date": a_date, "range": lambda p: f"{a_date(p)}{p(*SPACES)}{p(*RANGES)}{p(*SPACES)}{a_date(p)}",
                "unknown": lambda p: p(*UNKNOWN)}[kind](pick)
    discovered = a_date(pick) if pick(st.just(True), st.booleans()) else pick(*UNKNOWN)
    s = [pick(*SPACES) for _ in range(5)]
    layout = draw(st.sampled_from(["parens", "parens", "lines", "text"]))
    if layout == "parens":
        opening, closing = pick(*PARENS)
        return f"{s[0]}{occurred}{s[1]}{opening}{s[2]}{discovered}{s[3]}{closing}{s[4]}"
    if layout == "lines":
        return f"{s[0]}{occurred}{s[1]}{pick(*BREAKS)}{s[2]}{discovered}{s[3]}"
    return draw(st.text(st.sampled_from(list("2024.4.8()（）～ \n年月日令和元不明R")), max_size=30))


@FUZZ
@given(st.lists(st.one_of(cells(), st.none()), max_size=25))
def test_ok_means_parse_dates_cell_agrees(texts: list[str | None]) -> None:
    assert_sound(texts)


# --- clean forms must be read ---------------------------------------------------------------

WESTERN = ["{y}.{m}.{d}", "{y}/{m}/{d}", "{y}-{m}-{d}", "{y}年{m}月{d}日", "{y}.{m:02}.{d:02}", "{y} 年 {m} 月 {d} 日"]


def western(when: date, form: str) -> str:
    return form.format(y=f"{when.year:04}", m=when.month, d=when.day)


def era_form(when: date, short: bool) -> str:
    name = next(n for n, (start, _) in reversed(ERAS.items()) if when >= start)
    year = when.year - ERAS[name][0].year + 1
    return f"{ERAS[name][1][0]}{year}.{when.month}.{when.day}" if short else f"{name}{'元' if year == 1 else year}年{when.month}月{when.day}日"


dates = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))
era_dates = st.dates(min_value=ERAS["明治"][0], max_value=date(2099, 12, 31))


@st.composite
def clean_cells(draw: st.DrawFn) -> tuple[str, DatesCell]:
    def one(when: date) -> str:
        if draw(st.booleans()) and ERAS["明治"][0] <= when < date(2117, 1, 1):  # era years have two digits
            return era_form(when, draw(st.booleans()))
        return western(when, draw(st.sampled_from(WESTERN)))

    first, last, discovered = draw(dates), draw(dates), draw(dates)
    kind = draw(st.sampled_from(["date", "range", "unknown"]))
    occurred = {"date": one(first), "range": f"{one(first)}{draw(st.sampled_from('～~〜'))}{one(last)}", "unknown": "不明"}[kind]
    space = draw(st.sampled_from(["", " ", "  ", "\u3000"]))
    text = f"{occurred}{space}({one(discovered)})"
    if draw(st.booleans()):
        text = text.replace("(", "（").replace(")", "）")
    on = None if kind == "unknown" else first
    return text, DatesCell(on, last if kind == "range" else None, discovered)


@FUZZ
@given(st.lists(clean_cells(), min_size=1, max_size=20))
def test_clean_forms_are_read(cases: list[tuple[str, DatesCell]]) -> None:
    texts = [t for t, _ in cases]
    assert columns(texts) == [cell for _, cell in cases] == [parse_dates_cell(t) for t in texts]


@FUZZ
@given(era_dates, st.booleans())
def test_era_dates_inside_their_era_are_read(when: date, short: bool) -> None:
    text = f"{era_form(when, short)} ({western(when, WESTERN[0])})"
    assert columns([text]) == [DatesCell(when, None, when)]
