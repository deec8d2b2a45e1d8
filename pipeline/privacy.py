"""Personal information in published text: find it before anything is published.

:func:`scan_text` finds, in one string, what looks like personal information
and returns :class:`Finding` records (kind, span, masked rendering — never the
value in full). ``privacy_tables.scan_tables`` runs it over every string column
of the tables about to be published.

Kinds and what counts (matched on a copy with full-width digits, letters and
dashes folded to ASCII, so ``０９０－１２３４－５６７８`` is found too):

- ``email``: ``local@domain.tld``.
- ``mobile-phone``: 070/080/090 numbers (also ``+81 90 …``); never an office number.
- ``phone``: any other Japanese number of 10 or 11 digits (``0796-24-7033``,
  ``(0796)24-7033``, ``07962470 33``…) that is not an *office number*. An office
  number is a landline published in ``incidents.contact_phone`` of the same
  build (the office the report names for enquiries), or one recorded as a
  ``phone`` exception. A mobile number is never an office number, even there.
- ``my-number``: 12 digits, contiguous or as 4-4-4 with spaces or dashes,
  whose last digit is the マイナンバー check digit (施行令第8条).
- ``card-number``: 13–19 digits, contiguous or grouped (4-4-4-4, 4-6-5…),
  beginning with 2–6 (the payment networks' ranges; keeps the public 13-digit
  法人番号 beginning with 1 or 7–9 out) and passing the Luhn check.
- ``postal-code``: ``〒123-4567``, ``〒1234567``, ``郵便番号123-4567``, or a bare
  ``123-4567`` not followed by a unit such as 人 or 円.
- ``street-address``: ``1丁目2番3号``, ``1丁目2-3``, ``123番地``, ``12番地の3``,
  ``2番3号`` (digits or kanji numerals), and ``1-2-3`` / ``12-3`` straight after
  a place name ending in 町, 村 or 字. A 丁目 alone (no block number), 第63条,
  amounts and dates do not match.
- ``personal-name``: kanji or katakana before 様, さま, さん or 氏 (山田太郎様,
  田中さん, 佐藤氏), unless it is a generic word (本人様, 対象者様, 皆様, お客様,
  業者さん: see ``GENERIC_EXACT`` and ``GENERIC_ENDINGS``) or the honorific is
  part of a word (様式, 様子, 同様, 仕様, 氏名). Names written in hiragana or
  Latin letters are not found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import ConfigError
from .text import fold_number, fold_width

KINDS: dict[str, tuple[str, str]] = {
    "email": ("an e-mail address", "メールアドレス"),
    "mobile-phone": ("a mobile phone number", "携帯電話の番号"),
    "phone": ("a phone number that is not an office number", "事務所の番号ではない電話番号"),
    "my-number": ("an individual number (マイナンバー)", "個人番号（マイナンバー）"),
    "card-number": ("a payment card number", "クレジットカード等の番号"),
    "postal-code": ("a postal code", "郵便番号"),
    "street-address": ("a street address (block and house number)", "番地などの住所"),
    "personal-name": ("a person's name with an honorific (様/さん/氏)", "敬称の付いた個人の名前"),
}

# Generic words that take an honorific but name nobody: the whole word before it ...
GENERIC_EXACT = frozenset(
    "本人 皆 客 方 相手 先方 各 両 某 彼 彼女 旧 諸 一 有 神 仏 王 殿 父 母 子 息子 娘 夫 妻 奥 兄 姉 弟 妹 "
    "孫 親 祖父 祖母 大家 ユーザー ゲスト オーナー メンバー スタッフ".split()
)
# ... or how it ends (者: 対象者, 利用者, 担当者; 員: 職員, 委員; offices and bodies).
# Single characters that end common surnames (村, 部, 田, 所, 子 …) are not listed.
GENERIC_ENDINGS = tuple(
    "者 員 課 係 局 庁 省 署 同 仕 模 異 態 各位 御中 本人 個人 法人 名義人 代理人 後見人 相続人 保証人 "
    "受取人 差出人 管理人 請求人 申請人 友人 知人 住人 家族 遺族 親族 世帯 住民 市民 町民 村民 県民 "
    "会社 協会 施設 事業所 役所 役場 機関 団体 組合 病院 学校 銀行 委員会 センター".split()
)
# The honorific's character is part of a word when followed by these (様式, 様子, 氏名).
NOT_HONORIFIC_NEXT = {"様": "式子々相態な性化", "さま": "ざ", "氏": "名族"}

KANJI_NUMERALS = "一二三四五六七八九十〇百"  # the numerals a street number may be written in
_NUMERAL = rf"(?:[0-9]{{1,4}}|[{KANJI_NUMERALS}]{{1,4}})"
NAME_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヵヶ\u30a1-\u30fa\u30fc]"
_OPEN = r"(?<![0-9A-Za-z])(?<![0-9]-)"  # a number starts here: no digit or letter, or digit-dash, before
_CLOSE = r"(?![0-9A-Za-z])(?!-[0-9])"
_STRICT_OPEN = r"(?<![0-9A-Za-z])(?<![0-9][- ])"  # 12+ digit numbers: not part of a longer group
_STRICT_CLOSE = r"(?![0-9A-Za-z])(?![- ][0-9])"
_SEP = r"(?: ?- ?| )"
_UNITS = "人件円名回年月日時分秒歳個枚通台箇倍万億千百%％世帯号番条項"

_ANY_DIGIT = re.compile(r"[0-9]")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_GROUP_SEP = r"(?:\)?[- ]?\(?)"
_PHONE = re.compile(
    _OPEN + r"(?:\+81[- ]?(?:\(0\)|0)?[- ]?|\(?(?=0))\d{1,4}" + _GROUP_SEP + r"\d{1,4}" + _GROUP_SEP + r"\d{3,4}" + _CLOSE
)
_MY_NUMBER = re.compile(_STRICT_OPEN + r"\d{4}" + _SEP + r"?\d{4}" + _SEP + r"?\d{4}" + _STRICT_CLOSE)
_CARD = re.compile(
    _STRICT_OPEN + r"(?:[2-6]\d{12,18}|[2-6]\d{3}" + _SEP + r"\d{4,6}" + _SEP + r"\d{4,5}(?:" + _SEP + r"\d{1,4}){0,2})"
    + _STRICT_CLOSE
)
_POSTAL = re.compile(
    r"(?:〒|郵便番号[:： ]?) ?\d{3}-?\d{4}(?![0-9])|" + _OPEN + r"\d{3}-\d{4}" + _CLOSE + rf"(?! ?[{_UNITS}])"
)
_STREET = re.compile(
    rf"{_NUMERAL}丁目 ?{_NUMERAL}(?:番地?|-)(?: ?{_NUMERAL}号?)?"
    rf"|(?<![0-9]){_NUMERAL}番地(?:の?{_NUMERAL})?(?:[-の]{_NUMERAL})?"
    rf"|(?<![0-9第]){_NUMERAL}番{_NUMERAL}号"
    rf"|(?<=[町村字]) ?[0-9]{{1,4}}-[0-9]{{1,4}}(?:-[0-9]{{1,4}})?(?![0-9])(?!-[0-9])"
)
_STREET_MARKS = ("番", "丁目", "町", "村", "字")  # each of _STREET's forms has one: 番地, 番…号, 丁目, 町1-2-3
_NAME = re.compile(rf"((?:(?![様氏]){NAME_CHAR}){{1,8}})(様|さま|さん|氏)")


@dataclass(frozen=True)
class Finding:
    """Something that looks like personal information in one text."""

    kind: str
    start: int  # span in the text as given (folding keeps every character in place)
    end: int
    masked: str  # digits and most of a name replaced by ＊; safe to show in a message

    @property
    def label(self) -> tuple[str, str]:
        return KINDS[self.kind]


@dataclass(frozen=True)
class PrivacyException:
    """A reviewed exception from ``x_pipeline.privacy_exceptions``."""

    kind: str
    reason: str
    reviewed_by: str
    text: str | None = None
    pattern: str | None = None
    table: str | None = None
    field: str | None = None

    def covers(self, kind: str, found: str, table: str, fieldname: str) -> bool:
        if kind != self.kind or (self.table and self.table != table) or (self.field and self.field != fieldname):
            return False
        if self.pattern is not None:
            return re.fullmatch(self.pattern, found) is not None or re.fullmatch(self.pattern, _comparable(found)) is not None
        if self.text is None:
            return False
        if kind in ("phone", "mobile-phone"):
            return national_number(self.text) == national_number(found)
        return _comparable(self.text) == _comparable(found)


def _comparable(text: str) -> str:
    """Width, spaces and dash styles ignored; numbers compared by their digits."""
    folded = fold_number(text)
    if re.fullmatch(r"[0-9+()\- 〒]+", folded):
        return re.sub(r"\D", "", folded)
    return re.sub(r"\s+", "", folded)


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", fold_width(text))


def national_number(text: str) -> str:
    """A phone number as its national digits: `+81 90-1234-5678` → `09012345678`."""
    folded = fold_width(text).strip()
    digits = digits_of(folded)
    if folded.startswith("+81"):
        digits = digits[2:]
        digits = digits if digits.startswith("0") else "0" + digits
    return digits


MOBILE_PREFIXES = ("070", "080", "090")  # a national number that begins so is a mobile's


def is_mobile_national(number: str) -> bool:
    """Whether a number made national (national_number) is a mobile's: its first digits say."""
    return number[:3] in MOBILE_PREFIXES


def my_number_valid(digits: str) -> bool:
    """マイナンバー check digit (施行令第8条): weights 2..7, 2..6 from the right, mod 11."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(d) for d in reversed(digits[:11])]  # P1 is the digit next to the check digit
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, 1))
    remainder = total % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return bool(digits) and total % 10 == 0


def mask(kind: str, found: str) -> str:
    """A rendering that says what was found without repeating it."""
    if kind == "email":
        local, _, domain = found.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    if kind == "personal-name":
        honorific = next(h for h in ("さま", "さん", "様", "氏") if found.endswith(h))
        name = found[: -len(honorific)]
        shown = name[:1] if len(name) > 1 else ""
        return shown + "＊" * (len(name) - len(shown)) + honorific
    digits = [i for i, c in enumerate(found) if c.isdigit() or c in KANJI_NUMERALS]
    keep = set(digits[-2:]) if len(digits) >= 8 else set()
    return "".join(c if i in keep or i not in digits else "*" for i, c in enumerate(found))


def _name_is_generic(name: str) -> bool:
    return name in GENERIC_EXACT or name.endswith(GENERIC_ENDINGS)


def scan_text(text: str, office_phones: Iterable[str] = ()) -> list[Finding]:
    """What in `text` looks like personal information, in order; overlapping matches
    are reported once, as the longest."""
    return scan_national(text, frozenset(national_number(p) for p in office_phones))


def scan_national(text: str, office: frozenset[str]) -> list[Finding]:
    """scan_text with the office numbers already in their national form."""
    view = fold_width(text)
    found: list[tuple[str, int, int]] = []
    if "@" in view:
        found += [("email", m.start(), m.end()) for m in _EMAIL.finditer(view)]
    digit_view = fold_number(view, folded=True)
    if _ANY_DIGIT.search(digit_view) is not None:
        found += _numbers(digit_view, office)
    if any(mark in digit_view for mark in _STREET_MARKS):
        found += [("street-address", m.start() + (m.group()[:1] == " "), m.end()) for m in _STREET.finditer(digit_view)]
    if "様" in view or "さ" in view or "氏" in view:
        found += _names(view)
    kept: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(found, key=lambda f: (f[1], -(f[2] - f[1]))):
        if any(s <= start and end <= e for _, s, e in kept):
            continue
        kept.append((kind, start, end))
    return [Finding(kind, start, end, mask(kind, view[start:end])) for kind, start, end in kept]


def _numbers(digit_view: str, office: frozenset[str]) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for m in _PHONE.finditer(digit_view):
        number = national_number(m.group())
        if len(number) not in (10, 11) or number.startswith("00"):
            continue
        if is_mobile_national(number):
            found.append(("mobile-phone", m.start(), m.end()))
            continue
        if number not in office:
            found.append(("phone", m.start(), m.end()))
    found += [("my-number", m.start(), m.end()) for m in _MY_NUMBER.finditer(digit_view) if my_number_valid(digits_of(m.group()))]
    for m in _CARD.finditer(digit_view):
        digits = digits_of(m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(("card-number", m.start(), m.end()))
    found += [("postal-code", m.start(), m.end()) for m in _POSTAL.finditer(digit_view)]
    return found


def _names(view: str) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for m in _NAME.finditer(view):
        honorific, after = m.group(2), view[m.end() : m.end() + 1]
        if after and after in NOT_HONORIFIC_NEXT.get(honorific, ""):
            continue
        if not _name_is_generic(m.group(1)):
            found.append(("personal-name", m.start(), m.end()))
    return found


def load_exceptions(settings: Mapping[str, Any]) -> list[PrivacyException]:
    """``x_pipeline.privacy_exceptions`` of the root datapackage.json; ConfigError when malformed."""
    entries = settings.get("privacy_exceptions", [])
    where = "datapackage.json x_pipeline.privacy_exceptions"
    if not isinstance(entries, list):
        raise ConfigError(f"{where} must be a list of exceptions")
    out: list[PrivacyException] = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} #{i}: each exception is an object")
        unknown = sorted(set(entry) - {"kind", "text", "pattern", "table", "field", "reason", "reviewed_by"})
        missing = [k for k in ("kind", "reason", "reviewed_by") if not str(entry.get(k) or "").strip()]
        if unknown or missing:
            raise ConfigError(f"{where} #{i}: unknown keys {unknown} / missing {missing}")
        if entry["kind"] not in KINDS:
            raise ConfigError(f"{where} #{i}: kind {entry['kind']!r} is not one of {sorted(KINDS)}")
        if ("text" in entry) == ("pattern" in entry):
            raise ConfigError(f"{where} #{i}: give either the exact text or a pattern, not both or neither")
        if "pattern" in entry:
            try:
                re.compile(entry["pattern"])
            except (re.error, TypeError) as exc:
                raise ConfigError(f"{where} #{i}: the pattern is not a regular expression: {exc}") from None
        out.append(PrivacyException(**{k: (str(v) if v is not None else None) for k, v in entry.items()}))
    return out
