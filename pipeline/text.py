"""Text helpers shared by the normalizers.

Width is folded selectively: NFKC would also turn ``①`` into ``1`` and ``～``
into ``~``, so only full-width ASCII digits, letters and the punctuation that
numbers, dates and phones use are folded, and only where a value is parsed.
Free text (summary, measures) keeps the characters the clerk wrote.
"""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Iterable

_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
del _FULLWIDTH[0xFF5E]  # ～ stays: it separates ranges, and is not a tilde in Japanese text
_FOLD = str.maketrans(
    {
        **{chr(k): chr(v) for k, v in _FULLWIDTH.items()},
        "\u3000": " ",  # ideographic space
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",  # hyphens, dashes, minus sign
        "\uff64": ",",  # halfwidth ideographic comma
    }
)
_LINEBREAK = re.compile(r"[ \t\u3000]*(?:\r\n|\r|\n)+[ \t\u3000]*")


def fold_width(text: str) -> str:
    """Full-width digits, letters and ASCII punctuation to half width; ～ is kept."""
    return text.translate(_FOLD)


# Where numbers are read (phones, codes), ー and ｰ typed for a dash are dashes too, and
# no-break, thin and tab spaces are spaces; in prose they are not, so fold_width keeps them.
_NUMBER = str.maketrans({"ー": "-", "ｰ": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " "})


def fold_number(text: str, folded: bool = False) -> str:
    """fold_width, plus the dash and space stand-ins clerks type inside numbers; `folded`:
    the text is fold_width's already."""
    return (text if folded else text.translate(_FOLD)).translate(_NUMBER)


def folds_into(chars: str) -> set[str]:
    """Every character fold_number turns into one of `chars`, those included."""
    folding = {chr(k) for k in _FOLD} | {chr(k) for k in _NUMBER}
    return set(chars) | {c for c in folding if fold_number(c) in chars}


@lru_cache(maxsize=1)
def whitespace() -> tuple[str, ...]:
    """Every character str.isspace() holds for (what strip() and re's \\s take), found in
    one pass of re over every code point instead of a million calls."""
    return tuple(re.findall(r"\s", "".join(map(chr, range(0x110000)))))


def width_folds() -> dict[str, str]:
    """Every character fold_width changes, and what it becomes."""
    return {chr(code): folded for code, folded in _FOLD.items() if folded != chr(code)}


def char_class(chars: Iterable[str], negate: bool = False) -> str:
    """An RE2 character class of the characters, as ranges of code points."""
    ranges: list[tuple[int, int]] = []
    for code in sorted(set(map(ord, chars))):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges)
    return f"[{'^' if negate else ''}{body}]"


def unfolded(chars: str) -> str:
    """An RE2 character class of every character fold_number turns into one of `chars`
    (those included): a pattern built of these matches a text where the pattern of
    `chars` matches the text folded, so the text need not be folded first."""
    return char_class(folds_into(chars))


def _join(match: re.Match[str]) -> str:
    """Lines of Japanese text join without a space (a sentence wrapped in a cell);
    anything else, e.g. two bullets or Latin words, with one."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return "" if _is_cjk(before) and _is_cjk(after) and after not in "・･【" else " "


def _is_cjk(ch: str) -> bool:
    return bool(ch) and ("\u3000" < ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")


def clean_text(text: str) -> str:
    """Strip surrounding whitespace; join the lines a cell was wrapped over (see _join)."""
    return _LINEBREAK.sub(_join, text.replace("\u00a0", " ")).strip(" \t\u3000\r\n")


_SPACES = re.compile(r"\s+")


def squash_spaces(text: str) -> str:
    """Header text compared without any whitespace: `個人情報の漏えい の有無` == `個人情報の漏えいの有無`."""
    return _SPACES.sub("", fold_width(text))


def unusual_characters(text: str) -> list[str]:
    """Characters Shift_JIS (CP932) cannot hold: in a Japanese report, usually a typo
    such as the simplified 为 typed for を by a Chinese input method."""
    try:
        text.encode("cp932")
        return []  # the common case, at C speed
    except UnicodeEncodeError:
        pass
    found: list[str] = []
    for ch in text:
        if ch in found or ch.isascii():
            continue
        try:
            ch.encode("cp932")
        except UnicodeEncodeError:
            found.append(ch)
    return found


@lru_cache(maxsize=1)
def cp932_characters() -> str:
    """Every character Shift_JIS (CP932) can hold (all in the Basic Multilingual Plane):
    a text holds one unusual_characters finds exactly when it holds a character not here."""
    held = []
    for ch in map(chr, range(0x10000)):
        try:
            ch.encode("cp932")
        except UnicodeEncodeError:
            continue
        held.append(ch)
    return "".join(held)


# control characters other than tab and line breaks, C1 controls, bidirectional marks and overrides
HIDDEN_RANGES = ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F), (0x061C, 0x061C), (0x200E, 0x200F),
                 (0x202A, 0x202E), (0x2066, 0x2069))
HIDDEN_CHARS = frozenset(chr(c) for lo, hi in HIDDEN_RANGES for c in range(lo, hi + 1))
_HIDDEN = re.compile("[" + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in HIDDEN_RANGES) + "]")


def hidden_characters(text: str) -> list[str]:
    """Control characters (other than tab and line breaks) and bidirectional overrides:
    invisible in a spreadsheet, they can hide or reorder what a reader sees."""
    if not _HIDDEN.search(text):
        return []
    found: list[str] = []
    for ch in text:
        if ch in HIDDEN_CHARS and ch not in found:
            found.append(ch)
    return found
