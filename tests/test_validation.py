"""validation.to_tables puts each table in primary-key order; a build's parts come in
that order already, which in_key_order tells in one pass instead of a sort, and then a
repeated key is the row's before (checks._sorted_repeats), found without hashing."""

from __future__ import annotations

from unittest.mock import patch

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import checks
from pipeline.checks import in_key_order
from pipeline.normalize import Normalized, Source
from pipeline.schema import load_schemas
from pipeline.validation import to_tables

TEXTS = st.sampled_from(["", "a", "ab", "b", "é", "\u3000", "282090-202404-001", "282090-202404-010"])
ROWS = st.lists(st.tuples(TEXTS, st.integers(-3, 12)), max_size=8)


def _sorted_already(table: pa.Table, key: list[str]) -> bool:
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in key])
    return order.to_pylist() == list(range(table.num_rows))


@settings(max_examples=400, deadline=None)
@given(ROWS)
def test_in_key_order_says_what_a_stable_sort_says(rows: list[tuple[str, int]]) -> None:
    table = pa.table({"text": pa.array([r[0] for r in rows], pa.string()), "number": pa.array([r[1] for r in rows], pa.int64())})
    for key in (["text"], ["number"], ["text", "number"], ["number", "text"]):
        assert in_key_order(table, key) == _sorted_already(table, key)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), TEXTS), st.integers(-3, 3)), max_size=10), st.booleans())
def test_repeats_of_rows_in_key_order_are_those_hashing_finds(rows: list[tuple[str | None, int]], in_order: bool) -> None:
    table = pa.table({"text": pa.array([r[0] for r in rows], pa.string()), "number": pa.array([r[1] for r in rows], pa.int64())})
    for key in (["text"], ["number"], ["text", "number"], ["number", "text"]):
        rows_of = table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in key])) if in_order else table
        found = checks._sorted_repeats(rows_of, key)
        nulls = any(rows_of[k].null_count for k in key)
        if found is None:
            assert nulls or not in_order
            continue
        joined = pc.binary_join_element_wise(*(pc.cast(rows_of[k], pa.string()) for k in key), "\x1f")
        assert found == checks._repeats(joined)


IDS = st.sampled_from([None, "282090-202404-001", "282090-202404-002", "bad"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(IDS, st.one_of(st.none(), st.integers(0, 3)), st.sampled_from(["", "x"])), max_size=6), st.booleans())
def test_check_table_finds_what_it_found_by_hashing_alone(rows: list[tuple[str | None, int | None, str]], in_order: bool) -> None:
    """The measures schema (a two-field primary key, required, pattern, minimum): whether
    repeats are found between neighbours or by hashing, the same violations in the same order."""
    schema = load_schemas()["measures"]
    table = pa.table({"incident_id": pa.array([r[0] for r in rows], pa.string()), "measure_no": pa.array([r[1] for r in rows], pa.int64()),
                      "measure": pa.array([r[2] for r in rows], pa.string())})
    if in_order:
        table = table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in schema.primary_key]))
    found = checks.check_table(table, schema, {})
    with patch.object(checks, "_sorted_repeats", lambda table, key: None):
        assert found == checks.check_table(table, schema, {})


def test_a_null_in_the_key_leaves_it_to_the_sort() -> None:
    table = pa.table({"text": pa.array(["a", None], pa.string())})
    assert not in_key_order(table, ["text"])  # sort_indices puts the null last: in order, but the sort says so


def test_to_tables_sorts_what_is_out_of_order_and_keeps_the_sources_alongside() -> None:
    schemas = load_schemas()
    normalized = Normalized()
    ids = ["282090-202404-002", "282090-202404-001", "282090-202404-010"]
    fields = [f.name for f in schemas["incidents"].arrow_schema()]
    for i in ids:
        normalized.add("incidents", {**dict.fromkeys(fields), "incident_id": i}, Source("a.txt", int(i[-3:]), None))
    tables = to_tables(normalized, schemas)
    assert tables["incidents"]["incident_id"].to_pylist() == sorted(ids)
    assert [s.row for s in normalized.sources["incidents"]] == [1, 2, 10]
