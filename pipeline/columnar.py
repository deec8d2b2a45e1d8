"""normalize's quick path for a whole batch of reports at once, column by column.

`normalize._quick` vouches for one row at a time in Python (~50 µs a row). Here the
rows of many reports become Arrow columns: screens (blank, hidden or unusual
characters, odd whitespace, line breaks) and the splitting of the dates,
summary and measures cells run over a whole column in C++, and each distinct
No, date, office, leak cell, phone, category and figures block is parsed once,
by the very functions normalize.py uses. A row is vouched for only when every
screen proves that the Python reading would give the same values; any other row
is left to normalize (its quick path, then its careful path), so messages never
change. The screens may refuse more rows than `_quick` does, never fewer: the
tests compare both on every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dates import DatesCell, parse_date, parse_occurrence
from .errors import ValueProblem
from .normalize import MAX_CELL_CHARS, Memo, RowValues
from .readers import RawReport, RawRow
from .text import HIDDEN_RANGES, clean_text, unusual_characters
from .values import parse_figures, parse_leak, parse_no, parse_office, parse_phone

REQUIRED = ("no", "dates", "office", "summary", "leak", "category")
FREE_TEXT = ("category", "summary", "response", "measures")  # checked for characters CP932 lacks


def _char_class(codes: Sequence[int], negate: bool = False) -> str:
    """An RE2 character class of the code points, as ranges."""
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges)
    return f"[{'^' if negate else ''}{body}]"


@lru_cache(maxsize=1)
def patterns() -> dict[str, str]:
    """RE2 character classes derived from Python's own definitions, so that they cannot
    drift apart: str.isspace (what strip() and \\s take away) and text.HIDDEN_RANGES."""
    spaces = [c for c in range(0x110000) if chr(c).isspace()]
    return {
        "blank": f"^{_char_class(spaces)}*$",  # what str.strip() leaves empty
        "odd_space": _char_class([c for c in spaces if c not in (0x20, 0x09)]),  # line breaks, U+3000, NBSP ...
        "hidden": _char_class([c for lo, hi in HIDDEN_RANGES for c in range(lo, hi + 1)]),
    }


def _cp932_lacks(texts: list[str]) -> np.ndarray:
    """Which texts hold a character CP932 cannot encode (normalize warns of those)."""
    try:
        "".join(texts).encode("cp932")
        return np.zeros(len(texts), bool)  # the common case: the whole column at C speed
    except UnicodeEncodeError:
        return np.fromiter((bool(unusual_characters(t)) for t in texts), bool, len(texts))


def _any_matches(columns: list[pa.Array], pattern: str) -> np.ndarray:
    """Rows where any of the columns matches: one regex pass over them all."""
    return _matches(pa.concat_arrays(columns), pattern).reshape(len(columns), -1).any(axis=0)


def _flags(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _matches(column: pa.Array, pattern: str) -> np.ndarray:
    return _flags(pc.match_substring_regex(column, pattern))


def _distinct(column: pa.Array, parser: Callable[[str], Any], memo: Memo) -> list[Any]:
    """parser(text) for each row, each distinct text parsed once (a ValueProblem when it fails)."""
    encoded = pc.dictionary_encode(column)
    parsed = [memo.call(parser, text) for text in encoded.dictionary.to_pylist()]
    return [parsed[i] for i in encoded.indices.to_numpy(zero_copy_only=False).tolist()]


def _failed(values: list[Any]) -> np.ndarray:
    return np.fromiter((isinstance(v, ValueProblem) for v in values), bool, len(values))


_DATES = r"(?s)^(?P<occ>.*?)[ \t]*\([ \t]*(?P<disc>[^()]*?)[ \t]*\)$"
_BLOCK = r"(?s)^(?P<body>.*?)[ \t]*[【\[](?P<block>[^【】\[\]]*)[】\]][ \t]*$"
_TRIM = " \t\u3000\r\n"


def quick_values(rows: Sequence[RawRow], memo: Memo) -> list[RowValues | None]:
    """What `normalize._quick` gives for each row, or None where a screen cannot vouch
    for the row (then normalize reads it itself). Rows of reports with one 発生日 (判明日)
    column only."""
    n = len(rows)
    if n == 0:
        return []
    p = patterns()
    keys = sorted({key for row in rows for key in row.cells})
    texts = {key: [row.cells.get(key, "") for row in rows] for key in keys}
    cells = {key: pa.array(values, pa.string()) for key, values in texts.items()}
    empty = pa.array([""] * n, pa.string())
    col = {key: cells.get(key, empty) for key in (*REQUIRED, "phone", "response", "measures")}

    bad = _any_matches(list(cells.values()), p["hidden"])
    bad |= np.stack([pc.utf8_length(c).to_numpy() > MAX_CELL_CHARS for c in cells.values()]).any(axis=0)
    bad |= _any_matches([col[key] for key in REQUIRED], p["blank"])
    for key in FREE_TEXT:
        if key in texts:
            bad |= _cp932_lacks(texts[key])
    bad |= _any_matches([col[key] for key in ("dates", "summary", "response", "measures")], p["odd_space"])

    no = _distinct(col["no"], parse_no, memo)
    office = _distinct(col["office"], parse_office, memo)
    leak = _distinct(col["leak"], parse_leak, memo)
    category = _distinct(col["category"], clean_text, memo)
    has_phone = ~_matches(col["phone"], p["blank"])
    phone = _distinct(col["phone"], parse_phone, memo)
    bad |= _failed(no) | _failed(office) | _failed(leak) | (_failed(phone) & has_phone)

    # 発生日 (判明日): split where normalize would after folding width (only （ ） matter here)
    dates_text = pc.utf8_trim(pc.replace_substring(pc.replace_substring(col["dates"], "（", "("), "）", ")"), " \t")
    split = pc.extract_regex(dates_text, _DATES)
    bad |= ~_flags(split.is_valid())
    occurred = _distinct(pc.fill_null(split.field("occ"), ""), parse_occurrence, memo)
    discovered = _distinct(pc.fill_null(split.field("disc"), ""), parse_date, memo)
    bad |= _failed(occurred) | _failed(discovered)
    blank_column = [""] * n
    # texts are trimmed in Python where that is all there is to do: str.strip gives back the
    # very string when nothing is trimmed, so the records share it with the raw row
    dates_written = [t.strip(_TRIM) for t in texts.get("dates", blank_column)]

    summary_text = pc.utf8_trim(col["summary"], _TRIM)
    block_split = pc.extract_regex(summary_text, _BLOCK)
    block = pc.fill_null(block_split.field("block"), "")
    has_block = _flags(block_split.is_valid()) & _matches(block, "[0-9:０-９：]")
    bodies = block_split.field("body").to_pylist()
    summary = [body if has else t.strip(_TRIM) for body, has, t in zip(bodies, has_block.tolist(), texts.get("summary", blank_column))]
    figures = _distinct(block, parse_figures, memo)
    bad |= _failed(figures) & has_block

    has_response = ~_matches(col["response"], p["blank"])
    response = [t.strip(_TRIM) for t in texts.get("response", blank_column)]
    measures = _measures(col["measures"], texts.get("measures", blank_column))

    out: list[RowValues | None] = []
    for i in range(n):
        if bad[i]:
            out.append(None)
            continue
        occ = occurred[i]
        out.append(RowValues(
            no[i], DatesCell(occ[0], occ[1], discovered[i]), dates_written[i], office[i], summary[i], leak[i],
            phone[i] if has_phone[i] else None, category[i] or None, (response[i] or None) if has_response[i] else None,
            measures[i], figures[i] if has_block[i] else [],
        ))
    return out


def _measures(column: pa.Array, texts: list[str]) -> list[list[str]]:
    """split_measures for cells without line breaks or odd spaces: a leading ・ and each
    ・ after spaces start a measure; a cell without such a bullet is one measure."""
    text = pc.utf8_trim(column, " \t")
    bulleted = _flags(pc.match_substring_regex(text, "^[・･]|[ \t][・･]"))
    stripped = pc.replace_substring_regex(text, "^[・･][ \t]*", "", max_replacements=1)
    parts = pc.split_pattern_regex(stripped, "[ \t]+[・･][ \t]*").to_pylist()
    whole = [t.strip(" \t") for t in texts]
    return [
        [q for q in (part.strip(" \t") for part in parts[i]) if q] if bulleted[i] else ([whole[i]] if whole[i] else [])
        for i in range(len(whole))
    ]


def quick_by_report(reports: Sequence[RawReport], memo: Memo) -> list[list[RowValues | None] | None]:
    """quick_values over the rows of all the reports at once, handed back report by report
    (None for a report with separate 発生日 and 判明日 columns)."""
    eligible = [r for r in reports if "discovered" not in r.headers]
    found = quick_values([row for r in eligible for row in r.rows], memo)
    out: list[list[RowValues | None] | None] = []
    at = 0
    for report in reports:
        if "discovered" in report.headers:
            out.append(None)
            continue
        out.append(found[at : at + len(report.rows)])
        at += len(report.rows)
    return out
