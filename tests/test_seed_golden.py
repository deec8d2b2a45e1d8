"""Golden tests: the real seed report, every field of every published table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.build import build
from pipeline.config import Config

from .conftest import ROOT, SEED

GOLDEN = ROOT / "tests" / "golden" / "seed"
TABLES = ("reports", "incidents", "measures", "figures")


@pytest.fixture(scope="module")
def package(seed_package: Path) -> Path:
    return seed_package


def rows(folder: Path, table: str) -> list[dict[str, object]]:
    return json.loads((folder / "data" / f"{table}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("table", TABLES)
def test_tables_match_golden(package: Path, table: str) -> None:
    assert rows(package, table) == json.loads((GOLDEN / f"{table}.json").read_text(encoding="utf-8"))


def by_no(package: Path) -> dict[int, dict[str, object]]:
    return {r["report_no"]: r for r in rows(package, "incidents")}  # type: ignore[misc]


def test_seed_expectations_from_the_issue(package: Path) -> None:
    incidents = by_no(package)
    assert len(incidents) == 7
    assert incidents[4]["occurred_on"] == "2023-11-27"
    assert incidents[4]["discovered_on"] == "2024-06-07"
    assert incidents[4]["facilities_affected"] == 1
    assert incidents[4]["amount_jpy"] == 246000  # 金額246,000円, written without a colon
    assert (incidents[5]["households_affected"], incidents[5]["persons_affected"], incidents[5]["amount_jpy"]) == (47, 50, 21000)
    assert incidents[6]["persons_affected"] == 134  # 発送漏れ 134人; 誤記載 うち96人 is part of it
    assert incidents[2]["personal_data_leaked"] is True and incidents[2]["leaked_persons"] == 89
    figures6 = [f for f in rows(package, "figures") if f["incident_id"] == "282090-202404-006"]
    assert [(f["label"], f["value"], f["unit"], f["qualifier"]) for f in figures6] == [
        ("発送漏れ", 134, "人", None),
        ("誤記載", 96, "人", "うち"),
    ]
    measures = rows(package, "measures")
    assert [m["measure_no"] for m in measures if m["incident_id"] == "282090-202404-007"] == [1]


def test_ids_and_municipality_come_from_configuration(package: Path) -> None:
    incidents = rows(package, "incidents")
    assert [r["incident_id"] for r in incidents] == [f"282090-202404-{n:03d}" for n in range(1, 8)]
    assert {(r["municipality_code"], r["municipality_name"]) for r in incidents} == {("282090", "豊岡市")}
    assert {(r["report_period_start"], r["report_period_end"]) for r in incidents} == {("2024-04-01", "2024-06-30")}


def test_office_split_and_summary_without_figures_block(package: Path) -> None:
    incidents = by_no(package)
    assert (incidents[3]["department"], incidents[3]["division"]) == ("教育委員会", "学校教育課")
    assert incidents[3]["summary"] == "学校運営協議会委員への報酬を団体名義の口座に誤って振込"
    assert all("【" not in str(r["summary"]) for r in incidents.values())


def test_measures_split_on_bullets_only(package: Path) -> None:
    measures = [m for m in rows(package, "measures") if m["incident_id"] == "282090-202404-006"]
    assert [m["measure"] for m in measures] == [
        "業務マニュアルの整備 業務マニュアルへ失念した業務を追加する。",
        "ダブルチェックの徹底 急を要する時でもダブルチェックを徹底する。",
        "年間スケジュール等の確認の徹底 係内会議で年間及び毎月の業務スケジュールの確認の徹底を行う。",
    ]


def test_the_stray_simplified_character_is_kept_and_flagged(config: Config, tmp_path: Path) -> None:
    outcome = build([SEED], config, tmp_path / "out")
    warnings = [p for p in outcome.problems if p.severity == "warning"]
    assert [(p.code, p.row, p.no, p.field, p.header) for p in warnings] == [
        ("unusual-character", 6, "1", "measure", "再発防止策")
    ]
    assert "为" in warnings[0].message()
    measure = [m for m in rows(tmp_path / "out", "measures") if m["incident_id"] == "282090-202404-001"][1]
    assert measure["measure"] == "委託通知書に記載されている個人情報为非表示にする。"


def test_reports_table_ties_data_to_the_source_bytes(package: Path) -> None:
    import hashlib

    (report,) = rows(package, "reports")
    assert report["source_sha256"] == hashlib.sha256(SEED.read_bytes()).hexdigest()
    assert report["incident_count"] == 7
    assert report["title"] == "事務処理誤り等に関する対応状況 【2024年4月～6月判明分】"
