"""Table Schema constraints checked on Arrow tables, column at a time.

The checks derive from the descriptors in ``schema/`` (required, pattern, enum,
minimum, maximum, unique, primaryKey, foreignKeys), so the schema stays the one
contract; types are already guaranteed by the typed Arrow build. The verdicts
match ``frictionless validate`` of the published CSV (see
``tests/test_checks_differential.py``), at a fraction of its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .schema import TableSchema


@dataclass(frozen=True)
class Violation:
    table: str
    index: int  # 0-based row index in the table
    field: str  # a field name, or the key's fields joined with ","
    check: str  # required | pattern | enum | minimum | maximum | unique | primary-key | foreign-key
    value: str | None
    reason: str
    reason_ja: str = ""


def _indices(mask: pa.ChunkedArray | pa.Array) -> list[int]:
    return pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()


def _as_text(table: pa.Table, names: list[str]) -> pa.ChunkedArray:
    """One text key per row for one or more columns (null when any part is null)."""
    parts = [pc.cast(table[n], pa.string()) for n in names]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, ",")


def _repeats(key: pa.ChunkedArray) -> list[int]:
    """Rows whose non-null key already appeared on an earlier row."""
    counts = pc.value_counts(pc.drop_null(key))
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return []
    seen: set[Any] = set()
    out: list[int] = []
    candidates = _indices(pc.is_in(key, value_set=repeated))
    values = key.take(candidates).to_pylist()
    for index, value in zip(candidates, values):
        if value in seen:
            out.append(index)
        seen.add(value)
    return out


def in_key_order(table: pa.Table, key: list[str]) -> bool:
    """Whether the rows are as sort_indices by `key` (a stable sort) puts them, when none
    of the key's values is null: each row's key no greater than the next's, compared
    column by column. A build's parts come in key order: checked in one pass, where
    sorting took ten times as long (validation.to_tables), and their repeats are
    neighbours (_sorted_repeats). False with a null in the key: the sort decides."""
    if table.num_rows < 2 or not key:
        return True
    if any(table[k].null_count for k in key):
        return False
    ordered = None  # row i's key, from this column on, is no greater than row i + 1's
    for k in reversed(key):
        column = table[k]
        this, following = column.slice(0, len(column) - 1), column.slice(1)
        ordered = pc.less_equal(this, following) if ordered is None else pc.or_(
            pc.less(this, following), pc.and_(pc.equal(this, following), ordered))
    return bool(pc.all(ordered).as_py())


def _sorted_repeats(table: pa.Table, key: list[str]) -> list[int] | None:
    """_repeats of the key, when the rows are in key order with no null in it (a build's
    parts are, by validation.to_tables): each row whose key equals the row's before, no
    hashing needed. None when they are not, or a key has a null (even in one row: the
    checks say so there): _repeats then."""
    if any(table[k].null_count for k in key) or not in_key_order(table, key):
        return None
    if table.num_rows < 2:
        return []
    same = None
    for k in key:
        column = table[k]
        equal = pc.equal(column.slice(0, len(column) - 1), column.slice(1))
        same = equal if same is None else pc.and_(same, equal)
    return [i + 1 for i in _indices(same)]


def _value(table: pa.Table, name: str, index: int) -> str | None:
    value = table[name][index].as_py()
    return None if value is None else str(value)


_JA = {
    "required": "値が必要です",
    "unique": "値が重複しています（前の行に同じ値があります）",
    "primary-key": "主キーが欠けているか、前の行と重複しています",
}


def check_table(table: pa.Table, schema: TableSchema, tables: dict[str, pa.Table]) -> list[Violation]:
    """Every constraint of `schema` on `table`; `tables` resolves foreign keys."""
    found: list[Violation] = []
    sorted_repeats: dict[tuple[str, ...], list[int] | None] = {}  # a unique field is often the whole key as well

    def repeats_of(key: list[str]) -> list[int] | None:
        if tuple(key) not in sorted_repeats:
            sorted_repeats[tuple(key)] = _sorted_repeats(table, key)
        return sorted_repeats[tuple(key)]

    def add(indices: list[int], name: str, check: str, reason: str, value_of: str | None = None, ja: str = "") -> None:
        column = value_of or name
        for i in indices:
            value = _value(table, column, i) if column in table.column_names else None
            found.append(Violation(schema.name, i, name, check, value, reason, ja or _JA[check]))

    for spec in schema.fields:
        name, constraints = spec["name"], spec.get("constraints", {})
        column = table[name]
        if constraints.get("required"):
            missing = pc.is_null(column)
            if pa.types.is_string(column.type):
                missing = pc.or_kleene(missing, pc.equal(column, ""))  # Kleene: a null string is missing too
            add(_indices(missing), name, "required", "a value is required")
        if "pattern" in constraints:
            pattern = constraints["pattern"]
            ok = pc.match_substring_regex(column, f"^(?:{pattern})$")
            add(_indices(pc.invert(ok)), name, "pattern", f"does not match the pattern {pattern}", ja=f"形式 ({pattern}) に合いません")
        if "enum" in constraints:
            allowed = pa.array(constraints["enum"], column.type)
            ok = pc.is_in(column, value_set=allowed)
            listed = "、".join(map(str, constraints["enum"]))
            add(_indices(pc.and_(pc.is_valid(column), pc.invert(ok))), name, "enum", f"is not one of {', '.join(map(str, constraints['enum']))}",
                ja=f"{listed} のいずれでもありません")
        for bound, compare, word in (("minimum", pc.less, "less than"), ("maximum", pc.greater, "greater than")):
            if bound in constraints:
                limit = pa.scalar(constraints[bound], column.type)
                add(_indices(compare(column, limit)), name, bound, f"is {word} the {bound} {constraints[bound]}",
                    ja=f"{'最小値' if bound == 'minimum' else '最大値'} {constraints[bound]} の範囲外です")
        if constraints.get("unique"):
            repeats = repeats_of([name])
            add(_repeats(column) if repeats is None else repeats, name, "unique", "is not unique: an earlier row has the same value")

    key = schema.primary_key
    repeats = repeats_of(key) if key else None
    if repeats is not None:
        add(repeats, ",".join(key), "primary-key", f"the primary key ({', '.join(key)}) repeats an earlier row", key[0])
    elif key:
        # as frictionless: a key whose every part is missing is an error, and a part missing
        # from only some is compared like a value (the key fields are required anyway)
        parts = [pc.cast(table[n], pa.string()) for n in key]
        empty = pc.is_null(parts[0])
        for part in parts[1:]:
            empty = pc.and_(empty, pc.is_null(part))
        text = parts[0] if len(key) == 1 else pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x00")
        add(_indices(empty), ",".join(key), "primary-key", f"the primary key ({', '.join(key)}) is missing", key[0])
        add(_repeats(pc.if_else(empty, pa.scalar(None, pa.string()), text)), ",".join(key), "primary-key",
            f"the primary key ({', '.join(key)}) repeats an earlier row", key[0])
    for fk in schema.foreign_keys:
        ref = fk["reference"]
        parent = tables.get(ref["resource"])
        if parent is None:
            continue
        child_key = _as_text(table, fk["fields"])
        parent_key = _as_text(parent, ref["fields"]).combine_chunks() if parent.num_rows else pa.array([], pa.string())
        missing = pc.and_(pc.is_valid(child_key), pc.invert(pc.is_in(child_key, value_set=parent_key)))
        add(_indices(missing), ",".join(fk["fields"]), "foreign-key", f"has no matching row in {ref['resource']}", fk["fields"][0],
            ja=f"{ref['resource']} に対応する行がありません")
    return found
