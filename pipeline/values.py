"""Normalizers for one cell each: a string in, a value out, or ValueProblem.

Pure functions, no I/O; `normalize.py` applies them to a report's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ValueProblem
from .text import clean_text, fold_number, fold_width


def parse_no(text: str) -> int:
    """The report's No: `1`, `１`, or `1.0` as Excel stores numbers."""
    folded = fold_width(text).strip().rstrip(".")
    m = re.fullmatch(r"([0-9]{1,6})(?:\.0+)?", folded)
    if not m or int(m.group(1)) < 1:
        raise ValueProblem(f"No {text!r} is not a whole number from 1", f"No「{text}」は1以上の整数ではありません")
    return int(m.group(1))


@dataclass(frozen=True)
class Leak:
    leaked: bool
    persons: int | None


_LEAK = re.compile(r"(?P<flag>有|無|あり|なし)\s*(?:\(\s*(?:(?P<n>[0-9,]+)\s*(?:人|名|件)?|(?P<unknown>不明|不詳))\s*\))?")


def parse_leak(text: str) -> Leak:
    """個人情報の漏えいの有無: `有(89人)`, `有（不明）`, `無`."""
    m = _LEAK.fullmatch(fold_width(text).strip())
    if not m:
        raise ValueProblem(
            f"{text!r} is not 有 or 無 (e.g. 有(3人), 有(不明), 無)",
            f"「{text}」は 有／無 として読めません（例: 有(3人)、有(不明)、無）",
        )
    leaked = m.group("flag") in ("有", "あり")
    if not leaked and (m.group("n") or m.group("unknown")):
        raise ValueProblem(f"{text!r} says 無 but gives a count", f"「{text}」は「無」なのに人数が書かれています")
    persons = _count(m.group("n"), text) if m.group("n") else None
    return Leak(leaked, persons)


MAX_DIGITS = 15  # 999兆: a count or an amount in yen beyond it is a typing error


def _count(digits: str, text: str) -> int:
    """A whole number written with thousands commas, refused when too long to be meant."""
    plain = digits.replace(",", "")
    if len(plain.split(".")[0]) > MAX_DIGITS:
        raise ValueProblem(f"the number in {text!r} has more than {MAX_DIGITS} digits", f"「{text}」の数が{MAX_DIGITS}桁を超えています")
    return int(plain)


def parse_phone(text: str) -> str:
    """`0796-24-7033`, `０７９６－２４－７０３３`, `0796(24)7033` → `0796-24-7033`."""
    folded = fold_number(text).strip()
    folded = re.sub(r"\s*[-()]\s*|\s+", "-", folded).strip("-")
    m = re.fullmatch(r"0[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}", folded)
    digits = re.sub(r"\D", "", folded)
    if not m or len(digits) not in (10, 11):
        raise ValueProblem(
            f"{text!r} is not a phone number such as 0796-24-7033",
            f"「{text}」は 0796-24-7033 のような電話番号として読めません",
        )
    return folded


@dataclass(frozen=True)
class Office:
    department: str | None
    division: str


def parse_office(text: str) -> Office:
    """所管課: `健康福祉部 社会福祉課` (ASCII or ideographic space), or only `会計課`."""
    parts = fold_width(text).split()
    if not parts:
        raise ValueProblem("the division is empty", "所管課が空欄です")
    if len(parts) == 1:
        return Office(None, parts[0])
    return Office(parts[0], " ".join(parts[1:]))


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    unit: str
    qualifier: str | None


_BLOCK = re.compile(r"(?P<body>.*?)\s*[【\[](?P<block>[^【】\[\]]*)[】\]]\s*", re.S)
_FIGURE = re.compile(
    r"(?P<label>[^0-9:]*?)\s*:?\s*(?P<qual>(?:うち|約)*)\s*(?P<num>[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?P<man>万)?\s*(?P<unit>[^0-9\s]*)"
)


def split_summary(text: str) -> tuple[str, str | None]:
    """概要 → (the text without its trailing 【…】 figures block, the block or None)."""
    cleaned = clean_text(text)
    m = _BLOCK.fullmatch(cleaned)
    if not m or not re.search(r"[0-9:]", fold_width(m.group("block"))):
        return cleaned, None
    return m.group("body"), m.group("block")


def parse_figures(block: str) -> list[Figure]:
    """`人数：1人 金額246,000円`, `発送漏れ：134人 誤記載：うち96人`, `約12万円` → figures."""
    figures: list[Figure] = []
    for token in fold_width(block).split():
        m = _FIGURE.fullmatch(token)
        if not m:
            raise ValueProblem(
                f"the figure {token!r} is not a label, a number and a unit (e.g. 人数：3人)",
                f"「{token}」は「人数：3人」のような 項目・数・単位 として読めません",
            )
        whole = m.group("num").replace(",", "").split(".")[0]
        if len(whole) + (4 if m.group("man") else 0) > MAX_DIGITS:  # before float() can overflow
            raise ValueProblem(f"the figure {token!r} has more than {MAX_DIGITS} digits", f"「{token}」の数が{MAX_DIGITS}桁を超えています")
        number = float(m.group("num").replace(",", "")) * (10_000 if m.group("man") else 1)
        if number != int(number):
            raise ValueProblem(f"the figure {token!r} is not a whole number", f"「{token}」は整数ではありません")
        unit = m.group("unit")
        if not unit:
            raise ValueProblem(f"the figure {token!r} has no unit (人, 世帯, 円 …)", f"「{token}」に単位（人、世帯、円など）がありません")
        qualifiers = m.group("qual")
        qualifier = "".join(q for q in ("うち", "約") if q in qualifiers) or None  # 約うち and うち約 alike
        figures.append(Figure(m.group("label").strip(), int(number), unit, qualifier))
    return figures


@dataclass(frozen=True)
class Totals:
    persons: int | None
    households: int | None
    facilities: int | None
    amount_jpy: int | None


def _sum(figures: list[Figure]) -> int | None:
    counted = [f.value for f in figures if not (f.qualifier and "うち" in f.qualifier)]
    return sum(counted) if counted else None


def totals(figures: list[Figure]) -> Totals:
    """人数 → persons (else the person figures not marked うち, summed); 世帯数, 施設数, 金額/総額.
    arrow_records._block_totals sums the same for a batch in numpy (a test compares them)."""
    persons = [f for f in figures if f.label == "人数"] or [f for f in figures if f.unit in ("人", "名")]
    return Totals(
        persons=_sum(persons),
        households=_sum([f for f in figures if f.label == "世帯数"]),
        facilities=_sum([f for f in figures if f.label == "施設数"]),
        amount_jpy=_sum([f for f in figures if f.label in ("金額", "総額") and f.unit == "円"]),
    )


_BULLET = re.compile(r"(?:^|\s+)[・･]\s*")


def split_measures(text: str) -> list[str]:
    """再発防止策 split on its ・ bullets (at the start or after a space or line break);
    a text with no bullet is one measure; an empty cell is none."""
    cleaned = text.strip()
    if not cleaned:
        return []
    if not _BULLET.match(cleaned) and not re.search(r"\s[・･]", cleaned):
        return [clean_text(cleaned)]
    return [clean_text(part) for part in _BULLET.split(cleaned) if part.strip()]
