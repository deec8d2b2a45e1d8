"""Dates as clerks write them: Western and Japanese-era forms, full width.

Each function takes a string and returns a value or raises ValueProblem.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .errors import ValueProblem
from .text import fold_width

# era name -> (first day, abbreviations)
ERAS: dict[str, tuple[date, tuple[str, ...]]] = {
    "明治": (date(1868, 10, 23), ("M", "明")),
    "大正": (date(1912, 7, 30), ("T", "大")),
    "昭和": (date(1926, 12, 25), ("S", "昭")),
    "平成": (date(1989, 1, 8), ("H", "平")),
    "令和": (date(2019, 5, 1), ("R", "令")),
}
_ERA_ORDER = list(ERAS)
_ERA_BY_NAME = {alias: name for name, (_, aliases) in ERAS.items() for alias in (name, *aliases)}
_ERA_ALT = "|".join(sorted(_ERA_BY_NAME, key=len, reverse=True))

_YEAR = rf"(?:(?P<era>{_ERA_ALT})\s*(?P<eyear>元|[0-9]{{1,2}})|(?P<year>[0-9]{{4}}))"
_DATE = re.compile(
    rf"{_YEAR}\s*(?:年|[./\-])\s*(?P<month>[0-9]{{1,2}})\s*(?:月|[./\-])\s*(?P<day>[0-9]{{1,2}})\s*日?"
)
_YEAR_MONTH = re.compile(rf"(?:{_YEAR}\s*年)?\s*(?P<month>[0-9]{{1,2}})\s*月")
RANGE_SEPARATORS = "～~〜"
UNKNOWN_WORDS = ("不明", "不詳", "不明確", "調査中")


def _era_end(era: str) -> date | None:
    i = _ERA_ORDER.index(era)
    return ERAS[_ERA_ORDER[i + 1]][0] if i + 1 < len(_ERA_ORDER) else None


def _western_year(m: re.Match[str]) -> tuple[int, str | None]:
    if m.group("year"):
        return int(m.group("year")), None
    era = _ERA_BY_NAME[m.group("era")]
    eyear = 1 if m.group("eyear") == "元" else int(m.group("eyear"))
    if eyear < 1:
        raise ValueProblem(f"{era}{eyear}年 is not a year", f"{era}{eyear}年という年はありません")
    return ERAS[era][0].year + eyear - 1, era


def _check_era(era: str | None, first: date, last: date, shown: str) -> None:
    if era is None:
        return
    start, end = ERAS[era][0], _era_end(era)
    if last < start or (end is not None and first >= end):
        raise ValueProblem(
            f"{shown} is outside the {era} era",
            f"{shown} は{era}の期間にありません",
        )


def parse_date(text: str) -> date:
    """`2024.4.8`, `2024/4/8`, `2024年4月8日`, `令和6年4月8日`, `R6.4.8` → date."""
    folded = fold_width(text).strip()
    m = _DATE.fullmatch(folded)
    if not m:
        raise ValueProblem(f"{text!r} is not a date", f"「{text}」は日付として読めません")
    year, era = _western_year(m)
    month, day = int(m.group("month")), int(m.group("day"))
    try:
        value = date(year, month, day)
    except ValueError:
        raise ValueProblem(f"{text!r} is not a real date", f"「{text}」は存在しない日付です") from None
    _check_era(era, value, value, text.strip())
    return value


@dataclass(frozen=True)
class DatesCell:
    occurred_on: date | None
    occurred_until: date | None
    discovered_on: date


def parse_dates_cell(text: str) -> DatesCell:
    """The 発生日 (判明日) cell: `2024.4.8 (2024.4.15)`, a range, 不明, or two lines."""
    folded = fold_width(text).strip()
    m = re.fullmatch(r"(?P<occ>.*?)\s*\(\s*(?P<disc>[^()]*?)\s*\)", folded, re.S)
    if m:
        occurred, discovered = m.group("occ"), m.group("disc")
    elif "\n" in folded:
        occurred, discovered = (part.strip() for part in folded.split("\n", 1))
    else:
        raise ValueProblem(
            f"{text!r} has no discovery date; write it as 発生日 (判明日), e.g. 2024.4.8 (2024.4.15)",
            f"「{text}」に判明日がありません。「2024.4.8 (2024.4.15)」のように 発生日 (判明日) と書いてください",
        )
    return parse_dates_columns(occurred, discovered)


def parse_dates_columns(occurred: str, discovered: str) -> DatesCell:
    """発生日 and 判明日 from two cells: the first may be a range or 不明."""
    discovered_on = parse_date(discovered)
    return DatesCell(*parse_occurrence(occurred), discovered_on)


def parse_occurrence(text: str) -> tuple[date | None, date | None]:
    """発生日: a date, a range `2024.4.1～2024.7.10` (first, last), or 不明/不詳/empty (None, None)."""
    occurred = fold_width(text).strip()
    if occurred == "" or occurred in UNKNOWN_WORDS:
        return None, None
    for sep in RANGE_SEPARATORS:
        if sep in occurred:
            first, last = occurred.split(sep, 1)
            return parse_date(first), parse_date(last)
    return parse_date(occurred), None


@dataclass(frozen=True)
class Period:
    start: date
    end: date


@lru_cache(maxsize=256)  # every report's title has one, and an archive's titles share a few dozen
def parse_period(text: str) -> Period:
    """`2024年4月～6月`, `2024年10月～2025年3月`, `令和6年4月～6月` → first and last day."""
    folded = fold_width(text)
    for sep in RANGE_SEPARATORS:
        if sep in folded:
            first_text, last_text = folded.split(sep, 1)
            break
    else:
        raise ValueProblem(f"{text!r} has no range such as 4月～6月", f"「{text}」に「4月～6月」のような期間がありません")
    first = _YEAR_MONTH.search(first_text)
    last = _YEAR_MONTH.search(last_text)
    if not first or not (first.group("year") or first.group("era")) or not last:
        raise ValueProblem(f"{text!r} is not a period such as 2024年4月～6月", f"「{text}」は「2024年4月～6月」のような期間として読めません")
    y1, era1 = _western_year(first)
    m1, m2 = int(first.group("month")), int(last.group("month"))
    if last.group("year") or last.group("era"):
        y2, era2 = _western_year(last)
    else:
        y2, era2 = (y1 + 1 if m2 < m1 else y1), era1
    if not (1 <= m1 <= 12 and 1 <= m2 <= 12):
        raise ValueProblem(f"{text!r} has a month outside 1-12", f"「{text}」の月が1～12の範囲外です")
    start = date(y1, m1, 1)
    end = date(y2, m2, calendar.monthrange(y2, m2)[1])
    _check_era(era1, start, date(y1, m1, calendar.monthrange(y1, m1)[1]), text.strip())
    _check_era(era2, end.replace(day=1), end, text.strip())
    if end < start:
        raise ValueProblem(f"{text!r} ends before it starts", f"「{text}」は終わりが始まりより前です")
    return Period(start, end)
