"""Each validation rule: a bad input exits 1, names file, row and field, and publishes nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import ROOT, SEED, tree_digest

DATES, NO, CATEGORY, OFFICE, SUMMARY, LEAK, PHONE = 1, 0, 2, 3, 4, 5, 8




CASES = [
    # (cells to change, expected line, No, header, field, words in the message)
    ({(0, DATES): "2024.4.8 (2024.7.15)"}, 6, "1", "発生日 (判明日)", "discovered_on", "outside the report's period 2024-04-01 to 2024-06-30"),
    ({(2, DATES): "2024.3.28 (2024.3.31)"}, 8, "3", "発生日 (判明日)", "discovered_on", "outside the report's period"),
    ({(1, DATES): "2024.5.30 (2024.5.29)"}, 7, "2", "発生日 (判明日)", "occurred_on", "is after the discovery date 2024-05-29"),
    ({(3, DATES): "2024.2.30 (2024.6.7)"}, 9, "4", "発生日 (判明日)", "discovered_on", "is not a real date"),
    ({(4, DATES): "2024.6.12"}, 10, "5", "発生日 (判明日)", "discovered_on", "has no discovery date"),
    ({(5, NO): "5"}, 11, "5", "No", "report_no", "No 5 is used twice in this report (also on row 10)"),
    ({(6, NO): "seven"}, 12, "seven", "No", "report_no", "is not a whole number"),
    ({(1, LEAK): "多分"}, 7, "2", "個人情報の漏えい の有無", "personal_data_leaked", "is not 有 or 無"),
    ({(2, PHONE): "0796-23"}, 8, "3", "問合せ先 電話番号", "contact_phone", "is not a phone number"),
    ({(3, SUMMARY): "算定誤り 【施設数：一施設】"}, 9, "4", "概要", "figures", "is not a label, a number and a unit"),
    ({(0, CATEGORY): ""}, 6, "1", "発生事案 (事由)", "category", "a value is required"),
]


@pytest.mark.parametrize(("cells", "line", "no", "header", "field", "words"), CASES)
def test_bad_value_exits_1_names_where_and_publishes_nothing(
    make_report: Callable[..., Path], run: Callable[..., Result], published: Path,
    cells: dict[tuple[int, int], str], line: int, no: str, header: str, field: str, words: str,
) -> None:
    before = tree_digest(published)
    report = make_report(cells=cells)
    result = run("build", str(report), "--out", str(published))
    assert result.exit_code == 1
    expected = f"report.txt, row {line} (No {no}): 「{header}」 [{field}]"
    lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert any(expected in l and words in l for l in lines), result.stderr
    assert "nothing published" in result.stderr
    assert tree_digest(published) == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["in", "published"]


def test_every_error_of_a_run_is_reported(make_report: Callable[..., Path], run: Callable[..., Result], tmp_path: Path) -> None:
    report = make_report(cells={(0, DATES): "2024.4.8 (2024.7.15)", (1, LEAK): "?", (6, PHONE): "x"})
    result = run("validate", str(report))
    assert result.exit_code == 1
    errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert [e.split(":")[1].strip() for e in errors] == ["report.txt, row 6 (No 1)", "report.txt, row 7 (No 2)", "report.txt, row 12 (No 7)"]
    assert result.stdout.splitlines()[1].split() == ["report.txt", "7", "4", "3", "0"]  # read, valid, rejected, published


def test_bad_municipality_code_in_configuration(tmp_path: Path, run: Callable[..., Result]) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "profiles", project / "profiles")
    metadata = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
    metadata["municipality"]["code"] = "282091"
    (project / "datapackage.json").write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    result = run("build", str(SEED), "--config", str(project / "datapackage.json"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert errors == [
        "error: jimu-shori-ayamari-2024q1.txt: [municipality_code] value '282091': the municipality code 282091 is not a "
        "valid 6-digit code (check digit should be 0); correct it in the configuration (datapackage.json or the source profile)"
    ]
    assert "check digit should be 0" in result.stderr
    assert not (tmp_path / "out").exists()


def test_two_reports_for_one_period_unless_one_is_the_correction(make_report: Callable[..., Path], run: Callable[..., Result], tmp_path: Path) -> None:
    make_report("a.txt")
    make_report("b.txt", rows=[2])
    result = run("validate", str(tmp_path / "in"))
    assert result.exit_code == 1
    for file, other in (("a.txt", "b.txt"), ("b.txt", "a.txt")):
        assert (f"error: {file}: value '事務処理誤り等に関する対応状況 【2024年4月～6月判明分】': another report is for the same period ({other}); "
                "if one corrects the other, put 訂正版 in its title or file name") in result.stderr
    assert "primary key" not in result.stderr  # the clash is reported once, not as every repeated ID
    assert [line.split()[:5] for line in result.stdout.splitlines()[1:3]] == [["a.txt", "7", "0", "7", "0"], ["b.txt", "1", "0", "1", "0"]]


def test_period_may_span_a_year_end(make_report: Callable[..., Path], run: Callable[..., Result]) -> None:
    report = make_report(title="事務処理誤り等に関する対応状況 【2023年11月～2月判明分】",
                         cells={(0, DATES): "2023.11.8 (2024.2.29)"}, rows=[0])
    result = run("validate", str(report))
    assert result.exit_code == 0, result.stderr


def test_missing_column_is_named(make_report: Callable[..., Path], run: Callable[..., Result], seed_lines: list[str]) -> None:
    report = make_report()
    text = report.read_text(encoding="utf-8").replace("個人情報の漏えい の有無", "漏えい")
    report.write_text(text, encoding="utf-8")
    result = run("validate", str(report))
    assert result.exit_code == 1
    assert "report.txt, row 5: 「個人情報の漏えい の有無」: the column 「個人情報の漏えい の有無」 is missing from the header row" in result.stderr


def test_columns_are_matched_by_header_not_position(make_report: Callable[..., Path], run: Callable[..., Result], tmp_path: Path, seed_lines: list[str]) -> None:
    rows = [line.split("\t") for line in seed_lines[4:] if "\t" in line]
    order = [8, 0, 4, 1, 2, 3, 5, 7, 6]
    swapped = "\n".join(seed_lines[:4] + ["\t".join(r[i] for i in order) for r in rows]) + "\n"
    path = tmp_path / "swapped.txt"
    path.write_text(swapped, encoding="utf-8")
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert run("build", str(path), "--out", str(out_a)).exit_code == 0
    assert run("build", str(SEED), "--out", str(out_b)).exit_code == 0
    for table in ("incidents", "measures", "figures"):
        assert (out_a / "data" / f"{table}.csv").read_bytes() == (out_b / "data" / f"{table}.csv").read_bytes()
