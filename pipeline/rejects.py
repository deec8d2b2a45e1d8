"""Keep-going mode: publish the valid rows, set the rejected ones aside with their reasons.

A row with any error is dropped with its measures and figures; a file-level
error (an unreadable file, a bad municipality code) drops the whole report.
What remains is checked again (dropping rows can break nothing, but the
check proves it). Rejected rows go to a CSV file kept outside the published
folder: it holds the raw cells, which may be what must not be public.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from .errors import Problem, errors_in
from .normalize import Normalized

if TYPE_CHECKING:
    from .build import Outcome

Validate = Callable[[Normalized], tuple[dict[str, pa.Table], list[Problem]]]


def _without(part: Normalized, errors: list[Problem]) -> Normalized | None:
    """`part` (records from the spool) without the rows and files `errors` reject; None when
    that drops nothing (the errors were about rows the normalizer had already left out)."""
    rows = {(p.file, p.row) for p in errors if p.row is not None}
    files = {p.file for p in errors if p.row is None}
    positions = {t: sources.positions_without(rows, files) for t, sources in part.sources.items()}  # type: ignore[attr-defined]
    if all(len(positions[t]) == len(part.sources[t]) for t in positions):
        return None
    kept = Normalized(problems=list(part.problems), headers=dict(part.headers), rows_read=part.rows_read,
                      rows_rejected=part.rows_rejected, columns={t: dict(c) for t, c in part.columns.items()},
                      sources=dict(part.sources))
    for table, keep in positions.items():
        kept.keep(table, keep)
    return kept


def keep_valid_rows(part: Normalized, tables: dict[str, pa.Table], errors: list[Problem], validate: Validate
                    ) -> tuple[Normalized, dict[str, pa.Table], list[Problem], bool]:
    """`part` (checked into `tables`) without every row (or file) `errors` reject, validated
    again: the records kept, their tables, the errors the new checks found, and whether
    what is left is clean. The build calls it part by part (a part holds whole reports, so
    dropping a row cannot break another part's keys)."""
    known = set(errors)
    new: list[Problem] = []
    for _ in range(3):
        kept = _without(part, errors)
        if kept is None:  # nothing to drop: `tables` hold no error (one would name a row of theirs)
            return part, tables, new, True
        part = kept
        tables, found = validate(part)
        if not errors_in(found):
            return part, tables, new, True
        fresh = [p for p in errors_in(found) if p not in known]
        known.update(fresh)
        new += fresh
        errors = errors + fresh
    return part, tables, new, False


@dataclass(frozen=True)
class RejectedRow:
    file: str
    row: int | None
    no: str | None
    reasons: str
    cells: str  # the row's cells as JSON, keyed by the source's column headers


def rejected_rows(outcome: Outcome, lang: str = "en") -> list[RejectedRow]:
    """One entry per rejected row (or file), with every reason and the raw cells."""
    grouped: dict[tuple[str, int | None], list[Problem]] = {}
    for problem in errors_in(outcome.problems):
        grouped.setdefault((problem.file, problem.row), []).append(problem)
    files = {file for file, _ in grouped}
    raw = {(r.file, row.line): (r.headers, row.cells)
           for r in outcome.read_reports if r.file in files for row in (*r.rows_again(), *r.ragged)}
    out = []
    for (file, row), problems in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        headers, cells = raw.get((file, row or -1), ({}, {}))
        by_header = {headers.get(key, key): value for key, value in cells.items()}
        reasons = " / ".join(
            (f"[{p.field}] " if p.field else "") + p.message(lang) for p in problems
        )
        out.append(RejectedRow(file, row, problems[0].no, reasons, json.dumps(by_header, ensure_ascii=False)))
    return out


def write_rejects(path: Path, rows: list[RejectedRow]) -> None:
    """CSV in UTF-8 with a BOM (opens in Excel), one line per rejected row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["file", "row", "no", "reasons", "raw_cells"])
        for r in rows:
            writer.writerow([r.file, "" if r.row is None else r.row, r.no or "", r.reasons, r.cells])
