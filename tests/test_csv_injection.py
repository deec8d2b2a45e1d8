"""Published CSV cannot run in a spreadsheet (OWASP CSV injection), while Parquet and
JSON keep the exact text, `pipeline verify` still passes and the run counts the cells."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result
from frictionless import Package

from pipeline.verify import verify_package
from pipeline.writers import neutralise_formulas, write_table

SUMMARY, RESPONSE, MEASURES = 4, 6, 7
FORMULA = '=HYPERLINK("https://example.com/","詳細")と記載した通知書を誤送付'


@pytest.fixture()
def package(tmp_path: Path, make_report: Callable[..., Path], run: Callable[..., Result]) -> tuple[Path, Result]:
    report = make_report(cells={
        (0, SUMMARY): FORMULA,
        (1, RESPONSE): "+1件の再送付とお詫び",
        (2, MEASURES): "・@SUM(1+1)の入力を禁止する。 ・-確認を徹底する。",
    })
    out = tmp_path / "out"
    result = run("build", str(report), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out, result


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def test_csv_cells_are_neutralised(package: tuple[Path, Result]) -> None:
    out, _ = package
    incidents = {r["report_no"]: r for r in csv_rows(out / "data" / "incidents.csv")}
    assert incidents["1"]["summary"] == "'" + FORMULA
    assert incidents["2"]["response"] == "'+1件の再送付とお詫び"
    measures = [r["measure"] for r in csv_rows(out / "data" / "measures.csv") if r["incident_id"].endswith("-003")]
    assert measures == ["'@SUM(1+1)の入力を禁止する。", "'-確認を徹底する。"]
    # nothing else changed: other text, and numbers, stay as they were
    assert incidents["3"]["summary"] == "学校運営協議会委員への報酬を団体名義の口座に誤って振込"
    assert not any(v.startswith("'") for r in incidents.values() for k, v in r.items() if k not in ("summary", "response"))


def test_parquet_and_json_keep_the_exact_text(package: tuple[Path, Result]) -> None:
    out, _ = package
    parquet = pq.read_table(out / "data" / "incidents.parquet").to_pylist()
    as_json = json.loads((out / "data" / "incidents.json").read_text(encoding="utf-8"))
    for rows in (parquet, as_json):
        by_no = {r["report_no"]: r for r in rows}
        assert by_no[1]["summary"] == FORMULA
        assert by_no[2]["response"] == "+1件の再送付とお詫び"
    measures = [r["measure"] for r in pq.read_table(out / "data" / "measures.parquet").to_pylist()
                if r["incident_id"].endswith("-003")]
    assert measures == ["@SUM(1+1)の入力を禁止する。", "-確認を徹底する。"]


def test_package_verifies_and_documents_the_rule(package: tuple[Path, Result]) -> None:
    out, _ = package
    assert verify_package(out) == []
    assert Package(str(out / "datapackage.json")).validate().valid
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    for res in descriptor["resources"]:
        if res["format"] == "csv":
            assert "OWASP" in res["description"] and "Parquet and JSON files hold the exact text" in res["description"]


def test_run_summary_counts_the_cells(package: tuple[Path, Result]) -> None:
    _, result = package
    assert "CSV: 4 cell(s) beginning with =, +, -, @, tab or CR got a leading '" in result.stdout


def test_the_seed_needs_no_neutralising(tmp_path: Path, run: Callable[..., Result]) -> None:
    result = run("build", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0 and "CSV:" not in result.stdout


def test_verify_still_catches_a_changed_value(package: tuple[Path, Result]) -> None:
    out, _ = package
    path = out / "data" / "incidents.json"
    path.write_text(path.read_text(encoding="utf-8").replace("=HYPERLINK", "=WEBSERVICE"), encoding="utf-8")
    descriptor_path = out / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    for res in descriptor["resources"]:
        if res["path"] == "data/incidents.json":
            res["bytes"], res["hash"] = path.stat().st_size, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    descriptor_path.write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    assert verify_package(out) == ["data/incidents.json: values differ from incidents.csv"]


def test_writer_neutralises_every_owasp_start_and_only_text(tmp_path: Path) -> None:
    texts = ["=1+1", "+81", "-5", "@A1", "\tx", "\ry", "a=b", " =c", "'=d", "＝全角", None, ""]
    table = pa.table({"t": pa.array(texts, pa.string()), "n": pa.array([-5] * len(texts), pa.int64())})
    safe, count = neutralise_formulas(table)
    assert count == 6
    assert safe.column("t").to_pylist() == ["'=1+1", "'+81", "'-5", "'@A1", "'\tx", "'\ry", "a=b", " =c", "'=d", "＝全角", None, ""]
    assert safe.column("n") == table.column("n")
    written = {f.format: f for f in write_table("t", table, tmp_path)}
    assert written["csv"].neutralised == 6 and written["parquet"].neutralised == 0 and written["json"].neutralised == 0
    text = (tmp_path / "data" / "t.csv").read_bytes().decode("utf-8-sig")
    assert '"\'=1+1",-5\r\n' in text and '"\'\tx",-5\r\n' in text and '"\'\ry",-5\r\n' in text
    assert pq.read_table(tmp_path / "data" / "t.parquet").column("t").to_pylist() == texts
