"""Normalizers: each takes a string and returns a value or raises ValueProblem."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dates import parse_date, parse_dates_cell, parse_period
from pipeline.errors import ValueProblem
from pipeline.values import (
    Figure, parse_figures, parse_leak, parse_no, parse_office, parse_phone, split_measures, split_summary, totals,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024.4.8", date(2024, 4, 8)),
        ("2024/4/8", date(2024, 4, 8)),
        ("2024-04-08", date(2024, 4, 8)),
        ("2024年4月8日", date(2024, 4, 8)),
        ("令和6年4月8日", date(2024, 4, 8)),
        ("R6.4.8", date(2024, 4, 8)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("H30.12.1", date(2018, 12, 1)),
        ("２０２４．４．８", date(2024, 4, 8)),
        (" 2024.4.8 ", date(2024, 4, 8)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["令和元年4月1日", "平成32年1月1日", "平成31年5月1日", "2024.2.30", "2024.13.1", "昨日", "R0.4.1", ""])
def test_impossible_dates_are_rejected(text: str) -> None:
    with pytest.raises(ValueProblem):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "occurred", "until", "discovered"),
    [
        ("2024.4.8 (2024.4.15)", date(2024, 4, 8), None, date(2024, 4, 15)),
        ("２０２４．４．８（２０２４．４．１５）", date(2024, 4, 8), None, date(2024, 4, 15)),
        ("2024.4.8\n(2024.4.15)", date(2024, 4, 8), None, date(2024, 4, 15)),
        ("2024.4.8\n2024.4.15", date(2024, 4, 8), None, date(2024, 4, 15)),
        ("2024.4.1～2024.7.10 (2024.7.15)", date(2024, 4, 1), date(2024, 7, 10), date(2024, 7, 15)),
        ("不明 (2024.6.3)", None, None, date(2024, 6, 3)),
        ("不詳（令和6年6月3日）", None, None, date(2024, 6, 3)),
    ],
)
def test_dates_cell(text: str, occurred: date | None, until: date | None, discovered: date) -> None:
    cell = parse_dates_cell(text)
    assert (cell.occurred_on, cell.occurred_until, cell.discovered_on) == (occurred, until, discovered)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024年4月～6月判明分", date(2024, 4, 1), date(2024, 6, 30)),
        ("令和6年4月～6月判明分", date(2024, 4, 1), date(2024, 6, 30)),
        ("2024年10月～2025年3月", date(2024, 10, 1), date(2025, 3, 31)),
        ("2023年12月～2月", date(2023, 12, 1), date(2024, 2, 29)),
        ("令和6年1月～3月", date(2024, 1, 1), date(2024, 3, 31)),
    ],
)
def test_periods(text: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["2024年4月", "4月～6月", "2024年13月～6月", "令和元年1月～3月"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValueProblem):
        parse_period(text)


def test_leak() -> None:
    assert parse_leak("有(89人)") == parse_leak("有（８９人）")
    assert (parse_leak("有(89人)").leaked, parse_leak("有(89人)").persons) == (True, 89)
    assert (parse_leak("有(不明)").leaked, parse_leak("有(不明)").persons) == (True, None)
    assert (parse_leak("無").leaked, parse_leak("無").persons) == (False, None)
    for bad in ("無(3人)", "はい", "有(三人)"):
        with pytest.raises(ValueProblem):
            parse_leak(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0796-24-7033", "0796-24-7033"), ("０７９６－２３－１１１１", "0796-23-1111"), ("0796(24)7033", "0796-24-7033"), (" 0796 24 7033 ", "0796-24-7033")],
)
def test_phone(text: str, expected: str) -> None:
    assert parse_phone(text) == expected


def test_office() -> None:
    assert parse_office("健康福祉部 社会福祉課") == parse_office("健康福祉部\u3000社会福祉課")
    assert (parse_office(" 会計課 ").department, parse_office(" 会計課 ").division) == (None, "会計課")
    assert parse_office("教育委員会 学校教育課").department == "教育委員会"


def test_figures_with_and_without_colon_and_qualifiers() -> None:
    assert parse_figures("施設数：1施設 金額246,000円") == [Figure("施設数", 1, "施設", None), Figure("金額", 246000, "円", None)]
    assert parse_figures("金額：約12万円") == [Figure("金額", 120000, "円", "約")]
    assert parse_figures("発送漏れ：１３４人\u3000誤記載：うち96人")[1] == Figure("誤記載", 96, "人", "うち")
    assert totals(parse_figures("発送漏れ：134人 誤記載：うち96人")).persons == 134
    assert totals(parse_figures("世帯数：47世帯 人数：50人 総額：21,000円")) == totals(parse_figures("人数:50人 世帯数:47世帯 総額:21,000円"))


def test_summary_split() -> None:
    assert split_summary("誤って振込 【人数：1人】") == ("誤って振込", "人数：1人")
    assert split_summary("誤って振込\n【人数：1人】") == ("誤って振込", "人数：1人")
    assert split_summary("【重要】通知の誤送付") == ("【重要】通知の誤送付", None)


def test_measures() -> None:
    assert split_measures("・A。 ・B。") == ["A。", "B。"]
    assert split_measures("・A。\n・B。") == ["A。", "B。"]
    assert split_measures("AとB・Cを確認する。") == ["AとB・Cを確認する。"]
    assert split_measures("") == []


def test_no() -> None:
    assert parse_no("1") == parse_no("１") == parse_no("1.0") == 1
    for bad in ("0", "-1", "1.5", "一"):
        with pytest.raises(ValueProblem):
            parse_no(bad)


PARSERS = [parse_date, parse_dates_cell, parse_period, parse_leak, parse_phone, parse_office, parse_figures, parse_no, split_summary, split_measures]


@settings(max_examples=300)
@given(text=st.text(), parser=st.sampled_from(PARSERS))
def test_arbitrary_text_gives_a_value_or_a_typed_error(text: str, parser) -> None:  # type: ignore[no-untyped-def]
    try:
        parser(text)
    except ValueProblem:
        pass


@given(st.dates(min_value=date(1989, 1, 8), max_value=date(2099, 12, 31)))
def test_a_normalized_date_normalizes_to_itself(day: date) -> None:
    assert parse_date(day.isoformat()) == day
    assert parse_date(f"{day.year}.{day.month}.{day.day}") == day


@given(st.from_regex(r"0[1-9][0-9]{2}-[0-9]{2}-[0-9]{4}", fullmatch=True))
def test_a_normalized_phone_normalizes_to_itself(phone: str) -> None:
    assert parse_phone(parse_phone(phone)) == parse_phone(phone) == phone


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Cc", "Zl", "Zp"], blacklist_characters="・･"), min_size=1), min_size=1, max_size=5))
def test_measures_round_trip(items: list[str]) -> None:
    joined = " ".join("・" + item for item in items)
    assert split_measures(joined) == items


@pytest.mark.parametrize("parse, text", [
    (parse_figures, "人数：" + "9" * 400 + "人"),  # float() would overflow
    (parse_figures, "約9999,9999,9999万円"),  # past what an Arrow int64 holds, once 万 is applied
    (parse_leak, "有(" + "9" * 5000 + "人)"),  # int() refuses strings this long
])
def test_numbers_too_long_to_be_meant_are_a_problem_not_a_crash(parse, text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueProblem, match="15 digits"):
        parse(text)
