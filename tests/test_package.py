"""The published package: valid for frictionless, same values in every format, reproducible."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from frictionless import Package

from pipeline import package as descriptors
from pipeline.build import build
from pipeline.config import Config
from pipeline.schema import load_schemas
from pipeline.readers import read_report
from pipeline.verify import verify_package
from pipeline.writers import FORMATS, WrittenFile

from .conftest import ROOT, SEED, tree_digest


@pytest.fixture(scope="module")
def package(seed_package: Path) -> Path:
    return seed_package


def test_frictionless_validates_the_package(package: Path) -> None:
    report = Package(str(package / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    checked = {task.name for task in report.tasks}
    assert {"incidents", "measures", "figures", "reports", "incidents_parquet", "incidents_json"} <= checked


def test_descriptor_is_self_contained_and_declares_every_file(package: Path) -> None:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    declared = {r["path"] for r in descriptor["resources"]}
    on_disk = {str(p.relative_to(package)) for p in (package / "data").rglob("*") if p.is_file()}
    assert declared >= on_disk
    for resource in descriptor["resources"]:
        assert not resource["path"].startswith(("/", "..")) and "://" not in resource["path"]
        assert resource["hash"].startswith("sha256:") and resource["bytes"] > 0
        assert (resource.get("rows") or resource.get("x_rows")) is not None
    assert descriptor["licenses"][0]["name"] == "PDL-1.0"
    assert any(lic["name"] == "CC-BY-4.0" for lic in descriptor["licenses"])
    assert descriptor["sources"][0]["x_hash"].startswith("sha256:")
    assert "x_pipeline" not in descriptor
    for key in ("name", "title", "description", "version", "contributors"):
        assert descriptor[key]


def csv_frame(package: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(package / "data" / f"{table}.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.mark.parametrize("table", ["reports", "incidents", "measures", "figures"])
def test_parquet_and_json_hold_the_csv_values_with_schema_types(package: Path, table: str) -> None:
    schema = load_schemas()[table]
    parquet = pq.read_table(package / "data" / f"{table}.parquet")
    assert parquet.schema.names == schema.field_names
    types = {f["name"]: f["type"] for f in schema.fields}
    for field in parquet.schema:
        expected = {"string": "string", "integer": "int64", "date": "date32[day]", "boolean": "bool"}[types[field.name]]
        assert str(field.type) == expected, field.name
    csv = csv_frame(package, table).values.tolist()
    assert [as_csv_text(r) for r in parquet.to_pylist()] == csv
    records = json.loads((package / "data" / f"{table}.json").read_text(encoding="utf-8"))
    assert [list(r) for r in records] == [schema.field_names] * len(records)
    assert [as_csv_text(r) for r in records] == csv


def as_csv_text(record: dict[str, object]) -> list[str]:
    """A record's values as the CSV writes them: '' for missing, true/false, ISO dates."""
    return ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in record.values()]


def test_integers_with_missing_values_stay_integers(package: Path) -> None:
    incidents = pq.read_table(package / "data" / "incidents.parquet").to_pandas(types_mapper=pd.ArrowDtype)
    assert str(incidents["amount_jpy"].dtype) == "int64[pyarrow]"
    assert incidents["amount_jpy"].isna().sum() == 5


def test_csv_has_bom_and_crlf_for_excel(package: Path) -> None:
    raw = (package / "data" / "incidents.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 8 and raw.count(b"\n") == 8


def test_building_twice_gives_identical_bytes(config: Config, tmp_path: Path, package: Path) -> None:
    again = tmp_path / "again"
    build([SEED], config, again)
    assert tree_digest(again) == tree_digest(package)


def test_committed_outputs_are_what_the_code_builds(package: Path) -> None:
    assert tree_digest(ROOT / "outputs") == tree_digest(package)


def test_verify_accepts_the_package_and_catches_tampering(package: Path, tmp_path: Path) -> None:
    import shutil

    assert verify_package(package) == []
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    target = copy / "data" / "figures.json"
    target.write_text(target.read_text(encoding="utf-8").replace("134", "135"), encoding="utf-8")
    problems = verify_package(copy)
    assert any("figures.json" in p and "sha256" in p for p in problems)


def reference_json(table) -> bytes:  # type: ignore[no-untyped-def]
    """What writers.write_json must equal: json.dumps of each row."""
    rows = [json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}, ensure_ascii=False, separators=(",", ":"))
            for r in table.to_pylist()]
    return ("[" + "".join(("\n" if i == 0 else ",\n") + r for i, r in enumerate(rows)) + "\n]\n").encode("utf-8")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.integers(-2**62, 2**62)),
                          st.one_of(st.none(), st.booleans()), st.one_of(st.none(), st.dates())), max_size=30))
def test_json_writer_gives_the_bytes_json_dumps_gives(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    import tempfile

    import pyarrow as pa

    from pipeline.writers import write_json

    schema = pa.schema([("s", pa.string()), ("n", pa.int64()), ("b", pa.bool_()), ("d", pa.date32())])
    table = pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema=schema)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.json"
        write_json(table, path, batch_rows=7)
        assert path.read_bytes() == reference_json(table)


def test_past_sources_listed_the_reports_are_one_source_and_those_that_lost_rows_stay_named(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = read_report(SEED, config.profile)
    reports = [replace(seed, file=f"r{i}.txt", bytes=100 + i) for i in (2, 0, 1)]
    monkeypatch.setattr(descriptors, "SOURCES_LISTED", 2)
    sources = descriptors.descriptor({}, [], {}, reports, {"r1.txt": 4})["sources"]
    assert [(s.get("x_reports"), s.get("x_bytes"), s.get("x_file"), s.get("x_rows_rejected")) for s in sources] == [
        (3, 303, None, None), (None, 101, "r1.txt", 4)]
    assert "3 reports" in sources[0]["title"] and "報告 3 件" in sources[0]["title"]
    assert "path" not in sources[0]  # no reports table was written
    written = [WrittenFile(table, fmt, f"data/{table}.{fmt}", 1, "0" * 64, 3) for table in ("incidents", "reports") for fmt in FORMATS]
    schemas = load_schemas()
    assert descriptors.descriptor({}, written, schemas, reports)["sources"][0]["path"] == "data/reports.csv"
    assert descriptors.descriptor({}, written[::-1], schemas, reports)["sources"][0]["path"] == "data/reports.csv"
    no_csv = [f for f in written[::-1] if f.format != "csv"]  # JSON now comes before Parquet
    assert descriptors.descriptor({}, no_csv, schemas, reports)["sources"][0]["path"] == "data/reports.parquet"
    written_json = [f for f in written if f.format == "json"]
    assert descriptors.descriptor({}, written_json, schemas, reports)["sources"][0]["path"] == "data/reports.json"
    monkeypatch.setattr(descriptors, "SOURCES_LISTED", 3)
    sources = descriptors.descriptor({}, [], {}, reports, {"r1.txt": 4})["sources"]
    assert [(s["x_file"], s.get("x_rows_rejected")) for s in sources] == [("r0.txt", None), ("r1.txt", 4), ("r2.txt", None)]
