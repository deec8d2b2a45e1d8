"""The landing page from a Digest folded part by part is the page of the whole tables.

A build streams the package in parts and never holds every row; the page it
writes must not depend on where the parts end. These tests cut tables at
arbitrary rows (hypothesis picks the cuts; a part may be empty, and each table
is cut on its own, which is harder than the build's whole reports) and check
the fold against the digest of the whole, byte for byte on the rendered page:
for the committed package (whose index.html is what the code built from its
tables) and for synthetic archives within, at and above TABLE_LIMIT and
REPORT_LIMIT, where the page switches from every row in table order to the
newest, newest first.
"""

from __future__ import annotations

import json
from functools import reduce
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Config
from pipeline.digest import Digest, fold
from pipeline.landing import REPORT_LIMIT, TABLE_LIMIT, render, write_landing_page
from pipeline.portal import LANDING, periods_of, portal_facts
from pipeline.schema import TABLES, load_schemas

from .conftest import ROOT
from .test_landing import archive

PUBLISHED = ROOT / "outputs"  # the committed package: test_package checks that it is what the code builds
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def published_tables() -> dict[str, pa.Table]:
    return {name: pq.read_table(PUBLISHED / "data" / f"{name}.parquet") for name in TABLES}


def page(config: Config, digest: Digest) -> str:
    descriptor = (PUBLISHED / "datapackage.json").read_bytes()
    site = portal_facts(json.loads(descriptor), descriptor, digest.periods, config.options)
    return render(site, digest, load_schemas())


def cut(tables: dict[str, pa.Table], cuts: dict[str, list[int]]) -> list[dict[str, pa.Table]]:
    """The tables in parts, in order: part i of a table runs from its i-th cut to the next."""
    parts = []
    for i in range(len(next(iter(cuts.values()))) + 1):
        part = {}
        for name, table in tables.items():
            edges = [0, *sorted(cuts[name]), table.num_rows]
            part[name] = table.slice(edges[i], edges[i + 1] - edges[i])
        parts.append(part)
    return parts


@st.composite
def cuts_of(draw: st.DrawFn, tables: dict[str, pa.Table]) -> dict[str, list[int]]:
    """As many cuts in every table (1 to 7 parts), anywhere, empty parts included."""
    n = draw(st.integers(0, 6))
    return {name: draw(st.lists(st.integers(0, t.num_rows), min_size=n, max_size=n)) for name, t in tables.items()}


def untidy(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """An archive with what the seed lacks: unknown dates (every 97th incident) and a first
    non-null division that is "" after nulls (the dictionary's example must stay "")."""
    incidents = tables["incidents"]
    n = incidents.num_rows
    unknown = pa.array([i % 97 == 5 for i in range(n)])
    days = pc.if_else(unknown, pa.scalar(None, pa.date32()), incidents.column("discovered_on").combine_chunks())
    division = pa.array([None, None, ""][:n] + incidents.column("division").to_pylist()[3:], pa.string())
    for name, column in {"discovered_on": days, "division": division}.items():
        incidents = incidents.set_column(incidents.schema.get_field_index(name), name, column)
    return {**tables, "incidents": incidents}


def test_the_published_page_is_what_a_digest_of_the_published_tables_gives(config: Config, tmp_path: Path) -> None:
    digest = Digest.of(published_tables())
    descriptor = (PUBLISHED / "datapackage.json").read_bytes()
    site = portal_facts(json.loads(descriptor), descriptor, digest.periods, config.options)
    write_landing_page(tmp_path, site, digest, load_schemas())
    assert (tmp_path / LANDING).read_bytes() == (PUBLISHED / LANDING).read_bytes()
    assert page(config, digest) == (PUBLISHED / LANDING).read_text(encoding="utf-8")  # as rendered, so as below


@SETTINGS
@given(data=st.data())
def test_the_published_page_is_the_same_wherever_the_parts_end(config: Config, data: st.DataObject) -> None:
    tables = published_tables()
    parts = cut(tables, data.draw(cuts_of(tables)))
    assert page(config, fold(parts)) == (PUBLISHED / LANDING).read_text(encoding="utf-8")


# (quarters, incidents a quarter, reports a quarter): within both limits, at both, above
# TABLE_LIMIT only, above REPORT_LIMIT only, above both
SIZES = [(8, 30, 5), (20, 50, 5), (12, 100, 5), (21, 40, 5), (24, 60, 5)]


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0] * s[1]}-incidents-{s[0] * s[2]}-reports")
def synthetic(request: pytest.FixtureRequest, config: Config) -> tuple[dict[str, pa.Table], Digest, str]:
    quarters, per_quarter, reports = request.param
    tables = untidy(archive(PUBLISHED, quarters=quarters, per_quarter=per_quarter, reports_per_quarter=reports))
    whole = Digest.of(tables)
    return tables, whole, page(config, whole)


@SETTINGS
@given(data=st.data())
def test_a_synthetic_archive_gives_the_same_page_wherever_the_parts_end(
        config: Config, synthetic: tuple[dict[str, pa.Table], Digest, str], data: st.DataObject) -> None:
    tables, whole, expected = synthetic
    digests = [Digest.of(part) for part in cut(tables, data.draw(cuts_of(tables)))]
    left = reduce(Digest.merge, digests, Digest.empty())
    right = reduce(lambda later, earlier: earlier.merge(later), reversed(digests), Digest.empty())
    assert left == whole and right == whole  # associative, and empty() changes nothing
    assert page(config, left) == expected


def test_the_shown_rows_switch_from_table_order_to_newest_at_the_limits(
        synthetic: tuple[dict[str, pa.Table], Digest, str]) -> None:
    tables, whole, _ = synthetic
    for table, picked, limit, key, newest in (("incidents", whole.shown(), TABLE_LIMIT, "incident_id", "discovered_on"),
                                              ("reports", whole.listed(), REPORT_LIMIT, "report_id", "report_period_end")):
        rows = tables[table]
        if rows.num_rows > limit:
            rows = rows.sort_by([(newest, "descending"), (key, "ascending")]).slice(0, limit)
        assert picked.column(key).to_pylist() == rows.column(key).to_pylist(), table


def test_a_digest_does_not_grow_with_the_rows() -> None:
    tables = archive(PUBLISHED, quarters=40, per_quarter=250)  # 10,000 incidents, 200 reports, 40 quarters
    digest = fold(cut(tables, {name: [t.num_rows * i // 20 for i in range(1, 20)] for name, t in tables.items()}))
    assert digest.count("incidents") == 10_000 and digest.count("reports") == 200
    assert digest.periods == periods_of(tables["reports"]) and len(digest.periods) == 40
    assert digest.incidents.num_rows == TABLE_LIMIT and digest.reports.num_rows == REPORT_LIMIT
    categories = len(set(tables["incidents"].column("category").to_pylist()))
    months = {(d.year, d.month) for d in tables["incidents"].column("discovered_on").to_pylist()}
    assert digest.categories.num_rows <= 40 * categories and digest.leaks.num_rows <= len(months)
    assert set(digest.incidents.column_names) < set(tables["incidents"].column_names)
    assert digest == Digest.of(tables)
