"""Rules a Table Schema cannot say, checked column at a time on the incidents table.

- discovered_on lies inside the report's period;
- occurred_on is not after discovered_on, and a range does not end before it starts;
- the municipality code carries a valid check digit (JIS X 0402, modulus 11).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from .checks import _indices


def check_digit(code5: str) -> int:
    """JIS X 0402 check digit of a five-digit municipality code."""
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2)))
    return (11 - total % 11) % 10


def valid_municipality_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit() and check_digit(code[:5]) == int(code[5])


@dataclass(frozen=True)
class RuleBreak:
    index: int  # row in the incidents table
    code: str  # a problem code of errors.CATALOG
    field: str
    value: str
    params: dict[str, str]


def _iso(array: pa.ChunkedArray, i: int) -> str:
    value = array[i].as_py()
    return "" if value is None else value.isoformat()


def check_reports(reports: pa.Table) -> list[RuleBreak]:
    """One finding per report whose municipality code (from configuration) is invalid."""
    found: list[RuleBreak] = []
    codes = reports["municipality_code"]
    bad = [c for c in pc.unique(codes).to_pylist() if c is not None and not valid_municipality_code(c)]
    if bad:
        for i in _indices(pc.is_in(codes, value_set=pa.array(bad, pa.string()))):
            code = codes[i].as_py()
            expected = str(check_digit(code[:5])) if code[:5].isdigit() and len(code) == 6 else "?"
            found.append(RuleBreak(i, "bad-municipality-code", "municipality_code", code, {"expected": expected}))
    return found


def check_incidents(incidents: pa.Table) -> list[RuleBreak]:
    found: list[RuleBreak] = []
    start, end = incidents["report_period_start"], incidents["report_period_end"]
    discovered, occurred, until = incidents["discovered_on"], incidents["occurred_on"], incidents["occurred_until"]

    outside = pc.or_(pc.less(discovered, start), pc.greater(discovered, end))
    for i in _indices(outside):
        found.append(RuleBreak(i, "discovered-outside-period", "discovered_on", _iso(discovered, i), {"start": _iso(start, i), "end": _iso(end, i)}))
    for i in _indices(pc.greater(occurred, discovered)):
        found.append(RuleBreak(i, "occurred-after-discovered", "occurred_on", _iso(occurred, i), {"discovered": _iso(discovered, i)}))
    for i in _indices(pc.less(until, occurred)):
        found.append(RuleBreak(i, "range-reversed", "occurred_until", _iso(until, i), {"start": _iso(occurred, i)}))

    return found
