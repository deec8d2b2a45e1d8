"""The privacy scan of the tables about to be published (privacy.py finds what looks
like personal information in one text).

:func:`scan_tables` runs privacy's detectors over every string column of a part's
tables and returns :class:`~pipeline.errors.Problem` records located by file, row,
No and field, unless a reviewed exception in the configuration covers the finding.
Each column's distinct values are screened in Arrow first (PREFILTER, _not_office),
so that the detectors, in Python, read only the few values that may hold a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import Problem
from .normalize import Normalized, locate
from .privacy import (KANJI_NUMERALS, MOBILE_PREFIXES, NAME_CHAR, Finding, PrivacyException, is_mobile_national, national_number,
                      scan_national)
from .text import char_class, folds_into, unfolded


def office_phones(tables: Mapping[str, pa.Table]) -> set[str]:
    """The contact phones the build publishes (office_numbers keeps the landlines)."""
    incidents = tables.get("incidents")
    if incidents is None or "contact_phone" not in incidents.column_names:
        return set()
    return {p for p in pc.unique(incidents.column("contact_phone")).to_pylist() if p}


def office_numbers(phones: Iterable[str]) -> frozenset[str]:
    """The landlines among contact phones, in the national form the scan compares."""
    return frozenset(_landlines(phones).values())


def _landlines(phones: Iterable[str]) -> dict[str, str]:
    """Each distinct contact phone that is a landline, and its national number (each made
    national once: a file repeats its office's phones, and an office's files theirs)."""
    return {p: n for p in set(phones) if p and not is_mobile_national(n := national_number(p))}


def office_numbers_of(incidents: pa.Table) -> dict[str, frozenset[str]]:
    """Each file's office numbers (office_numbers of its contact phones), from incidents
    with their sources: the distinct pairs found by Arrow (a phone never holds a line
    break; group_by would load Arrow's query engine, 0.3 s in each worker process). Made
    where the batch is parsed, so that the build's process only gathers them."""
    pairs = pc.unique(pc.drop_null(pc.binary_join_element_wise(incidents["_source_file"], incidents["contact_phone"], "\n")))
    phones: dict[str, list[str]] = {}
    for pair in pairs.to_pylist():
        file, phone = pair.rsplit("\n", 1)
        phones.setdefault(file, []).append(phone)
    national = _landlines(chain.from_iterable(phones.values()))
    return {file: numbers for file, found in phones.items() if (numbers := frozenset(national[p] for p in found if p in national))}


# A superset of what scan_text can find, in RE2 syntax for Arrow: a value that does not match
# cannot hold a finding, so only the few that do are scanned in Python. scan_text reads the
# text folded (text.fold_number); each character here stands for all that fold into it
# (text.unfolded), so the values are matched as they are, unfolded. A hypothesis test
# (tests/test_privacy_prefilter.py) checks it against scan_text itself.
# digits: what folds into 0-9, and every other digit Python's \\d takes (the detectors use it)
_D = char_class(folds_into("0123456789") | {chr(c) for c in range(0x110000) if chr(c).isdecimal()})
_S, _SPACE = unfolded("-() +"), unfolded(" ")
_NAME_CLASS = re.sub(r"\\u([0-9a-f]{4})", r"\\x{\1}", NAME_CHAR)  # privacy.NAME_CHAR in RE2's syntax
PREFILTER = (
    f"{unfolded('@')}|〒|丁目|郵便"  # e-mail, postal mark, 丁目 addresses
    f"|(?:{_D}|[{KANJI_NUMERALS}])番"  # 番地 and 番…号 follow a numeral (privacy._STREET)
    f"|{_NAME_CLASS}(?:[様氏]|さま|さん)"  # an honorific after a name's character (privacy._NAME; fold_width changes none of them)
    f"|{unfolded('+')}{unfolded('8')}{unfolded('1')}{unfolded('-() ')}{{0,4}}"  # a phone from abroad: +81 ...
    f"{_D}{{0,4}}{_S}{{0,3}}{_D}{{1,4}}{_S}{{0,3}}{_D}{{3,4}}"
    # a phone at home: privacy._PHONE's three groups of 0…, 10 or 11 digits in all, so the first two have 2 or more each
    f"|{unfolded('0')}{_D}{{1,3}}{_S}{{0,3}}{_D}{{2,4}}{_S}{{0,3}}{_D}{{3,4}}"
    f"|{_D}{{4}}{_S}{{0,3}}{_D}{{4,6}}{_S}{{0,3}}{_D}{{4,5}}"  # my-number (4-4-4), card (4-4-4-4, 4-6-5) groups
    f"|{_D}{{3}}{unfolded('-')}?{_D}{{4}}"  # postal code
    f"|[町村字]{_SPACE}?{_D}{{1,4}}{_S}{{1,3}}{_D}"  # 町1-2-3
)


# An office number as parse_phone writes it. Such a text holds no finding when its digits are
# an office number (10 or 11 of them, no mobile): privacy._PHONE reads it whole, and that is all
# it finds; _MY_NUMBER needs 12 digits, _CARD 13. _POSTAL's bare form needs 3 digits with
# no digit and no "digit-" before them, so only the first group, whole, and then the group
# after it, whole, with no "-digit" after it: that is the middle group, and the last
# follows it. No other detector has its characters. A hypothesis test
# (tests/test_privacy.py) checks it against scan_text.
_OFFICE_FORM = r"^0[0-9]{1,3}-[0-9]{1,4}-[0-9]{3,4}$"


def _not_office(values: pa.Array, office: pa.Array) -> pa.Array:
    """The values but those in _OFFICE_FORM whose digits are an office number (`office`,
    as Arrow): most of the candidates of contact_phone, left out of the scan in Arrow."""
    if not len(office) or not len(values):
        return values
    form = pc.match_substring_regex(values, _OFFICE_FORM)
    known = pc.is_in(pc.replace_substring(values, "-", ""), value_set=office)
    return values.filter(pc.invert(pc.and_(form, known)))


# Made by the pipeline from configuration and arithmetic, never copied from a clerk's text.
GENERATED = frozenset({"incident_id", "report_id", "municipality_code", "source_sha256"})


SEEN_CHARS = 4_000_000  # characters of text whose findings a run remembers, at most (see Seen)


@dataclass
class Seen:
    """What the scan found in the texts a run has scanned with these office numbers: the
    parts of an archive share many dates and summaries. Forgotten when they come to more
    than SEEN_CHARS characters, so that it stays small."""

    office: frozenset[str]
    found: dict[str, list[Finding]] = field(default_factory=dict)
    chars: int = 0
    office_values: pa.Array = field(init=False)  # as Arrow, those _not_office may leave out: 10 or 11 digits, no mobile

    def __post_init__(self) -> None:
        # national numbers already (office_numbers): a mobile is told by its first digits; a text
        # of anything but ASCII digits could never equal what _not_office compares. Picked out
        # by Arrow: an archive has some 60,000 of them, a tenth of a second in Python.
        numbers = pa.array(list(self.office), pa.string())
        mobile = pc.is_in(pc.utf8_slice_codeunits(numbers, 0, 3), value_set=pa.array(sorted(MOBILE_PREFIXES), pa.string()))
        self.office_values = numbers.filter(pc.and_(pc.match_substring_regex(numbers, "^[0-9]{10,11}$"), pc.invert(mobile)))

    def scan(self, text: str) -> list[Finding]:
        found = self.found.get(text)
        if found is None:
            if self.chars + len(text) > SEEN_CHARS:
                self.found.clear()
                self.chars = 0
            found = self.found[text] = scan_national(text, self.office)
            self.chars += len(text)
        return found


def scan_tables(tables: Mapping[str, pa.Table], normalized: Normalized, exceptions: Sequence[PrivacyException] = (),
                office: frozenset[str] | None = None, seen: Seen | None = None) -> list[Problem]:
    """Every string cell of the tables about to be published; one Problem per finding.
    Each column's distinct values are pre-filtered with one vectorized regex; only the
    candidates are scanned, and only the rows holding a finding are located. `seen`: what
    earlier scans of the run found, used when made with the same office numbers."""
    if office is None:  # else the whole archive's office numbers (office_numbers), when `tables` is one part of it
        office = office_numbers(office_phones(tables))
    if seen is None or seen.office != office:
        seen = Seen(office)
    problems: list[Problem] = []
    texts = [(name, fieldname, table.column(fieldname)) for name, table in tables.items() for fieldname in table.column_names
             if fieldname not in GENERATED and _is_text(table.schema.field(fieldname).type)]
    matched = _prefiltered([pc.drop_null(pc.unique(column)) for _, _, column in texts])
    for (name, fieldname, column), matching in zip(texts, matched):
        flagged: dict[str, list[Finding]] = {}
        for value in _not_office(matching, seen.office_values).to_pylist():
            found = [f for f in seen.scan(value) if not any(e.covers(f.kind, value[f.start:f.end], name, fieldname) for e in exceptions)]
            if found:
                flagged[value] = found
        if not flagged:
            continue
        rows = pc.indices_nonzero(pc.is_in(column, value_set=pa.array(list(flagged), column.type))).to_pylist()
        for index, value in zip(rows, column.take(rows).to_pylist()):
            for finding in flagged[value]:
                problems.append(_problem(normalized, name, index, fieldname, finding))
    return problems


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _prefiltered(values: list[pa.Array]) -> list[pa.Array]:
    """Each array's values that PREFILTER matches, searched for in one pass over them all:
    Arrow compiles a pattern at each search, and compiling this one (its classes come to
    16,000 characters) took longer than searching most columns of a part."""
    if not values:
        return []
    joined = pa.concat_arrays([v.cast(pa.large_string()) for v in values])
    matches = pc.match_substring_regex(joined, PREFILTER)
    ends = np.cumsum([len(v) for v in values])
    return [joined.slice(end - len(v), len(v)).filter(matches.slice(end - len(v), len(v))) for v, end in zip(values, ends.tolist())]


def _problem(normalized: Normalized, table: str, index: int, fieldname: str, finding: Finding) -> Problem:
    """Located as the schema checks are; never with the cell as written: it holds what was found."""
    source, header = locate(normalized, table, index, fieldname)
    en, ja = finding.label
    return Problem("personal-information", source.file, source.row, source.no, fieldname, header, finding.masked,
                   params={"kind": en, "kind_ja": ja, "table": table})
