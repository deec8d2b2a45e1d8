"""Every form a report arrives in gives the same records, or a clear error."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import Result

from pipeline import package

from .conftest import SEED

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FORMS = FIXTURES / "forms"
INVENTED = FIXTURES / "invented"


def table(folder: Path, name: str) -> list[dict[str, object]]:
    return json.loads((folder / "data" / f"{name}.json").read_text(encoding="utf-8"))


def built(run: Callable[..., Result], out: Path, *inputs: Path) -> Path:
    result = run("build", *map(str, inputs), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out




@pytest.mark.parametrize("form", ["seed-utf8-bom.tsv", "seed-cp932.csv", "seed.xlsx"])
def test_every_form_of_the_seed_gives_the_same_tables(run: Callable[..., Result], tmp_path: Path, seed_package: Path, form: str) -> None:
    out = built(run, tmp_path / "out", FORMS / form)
    for name in ("incidents", "figures"):
        assert table(out, name) == table(seed_package, name)
    expected = table(seed_package, "measures")
    if form.endswith(".csv"):
        # CP932 cannot hold the seed's stray simplified 为: Excel saved it as "?"
        expected[1] = {**expected[1], "measure": expected[1]["measure"].replace("为", "?")}  # type: ignore[union-attr]
    assert table(out, "measures") == expected
    (report,) = table(out, "reports")
    assert report["source_file"] == form and report["incident_count"] == 7


def test_hidden_rows_and_sheets_are_not_read(run: Callable[..., Result], tmp_path: Path) -> None:
    out = built(run, tmp_path / "out", FORMS / "seed.xlsx")
    published = "".join(p.read_text(encoding="utf-8-sig") for p in (out / "data").glob("*.csv"))
    assert "非表示の行" not in published and "山田太郎" not in published
    assert len(table(out, "incidents")) == 7


def test_the_invented_second_quarter_normalizes_every_clerical_form(run: Callable[..., Result], tmp_path: Path) -> None:
    out = built(run, tmp_path / "out", INVENTED / "INVENTED-2024q2.txt")
    incidents = {r["report_no"]: r for r in table(out, "incidents")}
    assert (incidents[1]["report_period_start"], incidents[1]["report_period_end"]) == ("2024-07-01", "2024-09-30")
    assert (incidents[1]["occurred_on"], incidents[1]["discovered_on"]) == ("2024-07-01", "2024-07-03")
    assert (incidents[1]["department"], incidents[1]["division"]) == ("市民部", "市民課")
    assert incidents[1]["contact_phone"] == "0796-23-1111"
    assert (incidents[1]["personal_data_leaked"], incidents[1]["leaked_persons"]) == (True, 1)
    assert (incidents[2]["occurred_on"], incidents[2]["discovered_on"]) == ("2024-07-10", "2024-07-12")
    assert (incidents[2]["department"], incidents[2]["division"], incidents[2]["amount_jpy"]) == (None, "会計課", 120000)
    assert (incidents[3]["occurred_on"], incidents[3]["occurred_until"]) == ("2024-04-01", "2024-07-10")
    assert (incidents[3]["department"], incidents[3]["division"]) == ("税務部", "税務課")
    assert (incidents[3]["households_affected"], incidents[3]["persons_affected"], incidents[3]["amount_jpy"]) == (3, 5, 15300)
    assert (incidents[4]["occurred_on"], incidents[4]["dates_as_written"]) == (None, "不明 (2024.8.20)")
    assert (incidents[4]["personal_data_leaked"], incidents[4]["leaked_persons"], incidents[4]["persons_affected"]) == (True, None, 12)
    assert (incidents[5]["occurred_on"], incidents[5]["discovered_on"], incidents[5]["facilities_affected"]) == ("2024-09-02", "2024-09-30", 2)
    figures = [(f["label"], f["value"], f["unit"], f["qualifier"]) for f in table(out, "figures")]
    assert ("金額", 120000, "円", "約") in figures and ("うち再送", 4, "人", "うち") in figures and ("件数", 3, "件", None) in figures
    measures = {(m["incident_id"], m["measure_no"]): m["measure"] for m in table(out, "measures")}
    assert measures[("282090-202407-001", 2)] == "二人で確認する。"
    assert measures[("282090-202407-005", 1)] == "①宛名を確認する。"  # ① is kept: width is folded selectively


def test_two_quarters_build_into_one_package(run: Callable[..., Result], tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(SEED, inputs)
    shutil.copy(INVENTED / "INVENTED-2024q2.txt", inputs)
    out = built(run, tmp_path / "out", inputs)
    reports = table(out, "reports")
    assert [(r["report_id"], r["incident_count"]) for r in reports] == [("282090-202404", 7), ("282090-202407", 5)]
    ids = [r["incident_id"] for r in table(out, "incidents")]
    assert len(ids) == len(set(ids)) == 12
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert [s["x_file"] for s in descriptor["sources"]] == ["jimu-shori-ayamari-2024q1.txt", "INVENTED-2024q2.txt"]


def test_a_large_archive_names_its_reports_in_the_reports_table(run: Callable[..., Result], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SOURCES_LISTED reports, `sources` is one entry pointing to the reports table,
    which names every report with its sha256."""
    monkeypatch.setattr(package, "SOURCES_LISTED", 1)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    files = [Path(shutil.copy(SEED, inputs)), Path(shutil.copy(INVENTED / "INVENTED-2024q2.txt", inputs))]
    out = built(run, tmp_path / "out", inputs)
    (source,) = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))["sources"]
    assert (source["x_reports"], source["x_bytes"], source["path"]) == (2, sum(f.stat().st_size for f in files), "data/reports.csv")
    assert (out / source["path"]).is_file()
    named = {(r["source_file"], r["source_sha256"]) for r in table(out, "reports")}
    assert named == {(f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files}


def test_a_correction_replaces_its_period(run: Callable[..., Result], tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("INVENTED-2024q2.txt", "INVENTED-2024q2-訂正版.txt"):
        shutil.copy(INVENTED / name, inputs)
    result = run("build", str(inputs), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert "INVENTED-2024q2.txt: value '事務処理誤り等に関する対応状況 【令和6年7月～9月判明分】': replaced by the corrected report INVENTED-2024q2-訂正版.txt" in result.stderr
    assert result.stdout.splitlines()[2].split() == ["INVENTED-2024q2.txt", "5", "0", "0", "0", "5"]
    incidents = table(tmp_path / "out", "incidents")
    assert len(incidents) == 5 and incidents[1]["amount_jpy"] == 130000
    (report,) = table(tmp_path / "out", "reports")
    assert report["source_file"] == "INVENTED-2024q2-訂正版.txt"


def test_another_citys_layout_through_its_profile(run: Callable[..., Result], tmp_path: Path) -> None:
    out = built(run, tmp_path / "out", INVENTED / "kaku-shi")
    incidents = table(out, "incidents")
    assert [r["incident_id"] for r in incidents] == ["990019-202410-001", "990019-202410-002"]
    assert {r["municipality_name"] for r in incidents} == {"架空市"}
    assert (incidents[0]["occurred_on"], incidents[0]["discovered_on"]) == ("2024-09-30", "2024-10-02")
    assert (incidents[1]["occurred_on"], incidents[1]["discovered_on"], incidents[1]["dates_as_written"]) == (None, "2024-11-05", "不明 (2024-11-05)")
    assert (incidents[1]["personal_data_leaked"], incidents[1]["leaked_persons"], incidents[1]["report_no"]) == (True, 3, 2)
    assert [m["measure"] for m in table(out, "measures")][:2] == ["確認を徹底する。", "手順書を改める。"]
    assert "山田" not in (out / "data" / "incidents.csv").read_text(encoding="utf-8-sig")  # a cell comment


def test_two_cities_in_one_build(run: Callable[..., Result], tmp_path: Path) -> None:
    out = built(run, tmp_path / "out", SEED, INVENTED / "kaku-shi")
    assert {r["municipality_code"] for r in table(out, "reports")} == {"282090", "990019"}


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("binary.txt", bytes(range(256)) * 4, "it is a binary file"),
        ("empty.txt", b"", "the file is empty"),
        ("latin1.txt", "事務処理".encode("utf-8")[:-1] + b"\xff\xfe\x81", "neither UTF-8 nor Shift_JIS"),
        ("report.pdf", b"%PDF-1.4 ...", "is not a report form this pipeline reads"),
        ("fake.xlsx", b"<html><body>not a workbook</body></html>", "xlsx"),
    ],
)
def test_unreadable_files_exit_1_naming_the_file_and_what_to_do(run: Callable[..., Result], tmp_path: Path, name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run("build", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert f"error: {name}: " in result.stderr and words in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_undecodable_text_suggests_encoding_and_encoding_option_works(run: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(SEED.read_text(encoding="utf-8").replace("为", "を").replace("～", "〜").encode("euc_jp"))
    result = run("validate", str(path))
    assert result.exit_code == 1 and "--encoding" in result.stderr
    assert run("validate", str(path), "--encoding", "euc_jp").exit_code == 0


def test_wrong_sheet_is_named(run: Callable[..., Result], tmp_path: Path) -> None:
    city = tmp_path / "city"
    shutil.copytree(INVENTED / "kaku-shi", city)
    profile = json.loads((city / "profile.json").read_text(encoding="utf-8"))
    profile["sheet"] = "存在しないシート"
    (city / "profile.json").write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    result = run("validate", str(city))
    assert result.exit_code == 1
    assert "there is no visible sheet named 「存在しないシート」 (sheets: 表紙、公表用)" in result.stderr


def test_a_formula_without_a_saved_value_is_rejected(run: Callable[..., Result], tmp_path: Path, seed_lines: list[str]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([seed_lines[2]])
    sheet.append(seed_lines[4].split("\t"))
    row = seed_lines[5].split("\t")
    sheet.append(["=1+0"] + row[1:])
    path = tmp_path / "formula.xlsx"
    book.save(path)
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "cell A3 holds a formula with no saved value" in result.stderr


def test_hidden_folders_are_not_read(run: Callable[..., Result], tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    (inputs / ".ipynb_checkpoints").mkdir(parents=True)
    shutil.copy(SEED, inputs)
    shutil.copy(SEED, inputs / ".ipynb_checkpoints" / "jimu-checkpoint.txt")
    result = run("validate", str(inputs))
    assert result.exit_code == 0, result.stderr


def test_a_file_marked_before_correction_is_the_original(run: Callable[..., Result], tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(INVENTED / "INVENTED-2024q2.txt", inputs / "2024q2_訂正前.txt")
    shutil.copy(INVENTED / "INVENTED-2024q2-訂正版.txt", inputs / "2024q2_訂正版.txt")
    result = run("build", str(inputs), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert "2024q2_訂正前.txt: value" in result.stderr and "replaced by the corrected report 2024q2_訂正版.txt" in result.stderr


def test_a_replaced_reports_own_faults_do_not_block_its_correction(run: Callable[..., Result], tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    original = (INVENTED / "INVENTED-2024q2.txt").read_text(encoding="utf-8")
    (inputs / "2024q2.txt").write_text(original + "6\t余分な\t行\n", encoding="utf-8")  # a ragged row
    shutil.copy(INVENTED / "INVENTED-2024q2-訂正版.txt", inputs)
    result = run("build", str(inputs), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr


def test_names_stay_unique_whatever_the_inputs(run: Callable[..., Result], tmp_path: Path) -> None:
    for folder in ("d1/sub", "d2", "sub"):
        (tmp_path / folder).mkdir(parents=True)
    shutil.copy(SEED, tmp_path / "d1" / "sub" / "x.txt")
    shutil.copy(INVENTED / "INVENTED-2024q2.txt", tmp_path / "d2" / "x.txt")
    shutil.copy(INVENTED / "INVENTED-2024q2-訂正版.txt", tmp_path / "sub" / "x.txt")
    from pipeline.sources import find_inputs

    names = [i.name for i in find_inputs([tmp_path / "d1", tmp_path / "d2", tmp_path / "sub" / "x.txt"]).inputs]
    assert len(names) == len(set(names)) == 3


def test_a_cell_past_the_csv_field_limit_is_refused_with_or_without_quotes(tmp_path: Path) -> None:
    import csv

    from pipeline.config import load_config
    from pipeline.readers import ReadFailed, read_report

    from .conftest import ROOT

    text = SEED.read_text(encoding="utf-8")
    huge = text.replace("日常生活用具給付事業", "あ" * 2_000, 1)
    before = csv.field_size_limit(1_000)  # process-wide, and some libraries raise it on import
    try:
        for name, body in (("plain.txt", huge), ("quoted.txt", huge.replace("\t0796-24-7033", '\t"0796-24-7033"', 1))):
            (tmp_path / name).write_text(body, encoding="utf-8")
            with pytest.raises(ReadFailed, match="field larger than field limit"):
                read_report(tmp_path / name, load_config(ROOT).profile)
    finally:
        csv.field_size_limit(before)


def test_a_folder_that_cannot_be_listed_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from pipeline import sources

    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.txt").write_text("x", encoding="utf-8")
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    real = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(sources.os, "scandir", scandir)
    assert [i.name for i in sources.find_inputs([tmp_path]).inputs] == ["a.txt"]  # as rglob does


def test_inputs_and_skipped_files_come_in_the_order_of_their_paths(tmp_path: Path) -> None:
    """Path order (part by part), not string order: a folder `a` comes before `a b.txt`, `a!`,
    `a-b.txt` and `a.txt`, whose next characters sort before "/"."""
    from pipeline.sources import find_inputs

    reports = ["a.txt", "a/b.txt", "a/c/d.csv", "a-b.txt", "a b.txt", "a!/x.tsv", "a0.txt", "ab/x.xlsx", "a.b/x.txt"]
    others = ["a/n.pdf", "a-n.pdf", "a.pdf", "a!/n.pdf"]
    for name in reports + others:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert sorted(reports) != sorted(reports, key=lambda n: Path(n).parts)  # the two orders differ here
    found = find_inputs([tmp_path])
    assert [i.path for i in found.inputs] == sorted(tmp_path / n for n in reports)
    assert [i.name for i in found.inputs] == [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path / n for n in reports)]
    assert [p.file for p in found.skipped] == [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path / n for n in others)]


def test_which_files_under_a_folder_are_read_skipped_or_passed_over(tmp_path: Path) -> None:
    import os

    from pipeline.sources import find_inputs

    raw = tmp_path / "raw"
    for name in ["q1.TXT", "q2.xlsm", "sub/q3.csv", "~$q2.xlsm", ".q4.txt", ".checkpoints/q5.txt", "~$old/q6.tsv",
                 "notes.pdf", "b.", "noext", "c.tar.gz", "README.md", "profile.json", "sub/profile.json"]:
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_text("x", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "q7.txt").write_text("x", encoding="utf-8")
    os.symlink(raw / "q1.TXT", raw / "z.txt")  # the same report twice: read once, where first found
    os.symlink(tmp_path / "elsewhere", raw / "linked")  # like rglob: a link to a folder is not followed
    os.symlink(tmp_path / "missing.txt", raw / "broken.txt")
    found = find_inputs([raw, raw / "notes.pdf", raw / "sub" / "q3.csv"])
    assert [(i.name, i.path, i.top) for i in found.inputs] == [
        ("q1.TXT", raw / "q1.TXT", raw), ("q2.xlsm", raw / "q2.xlsm", raw), ("sub/q3.csv", raw / "sub" / "q3.csv", raw),
        ("~$old/q6.tsv", raw / "~$old" / "q6.tsv", raw),  # a folder's name is not a lock file's
        ("notes.pdf", raw / "notes.pdf", raw / "notes.pdf"),  # named directly: read whatever its kind
    ]
    assert [(p.code, p.file, p.severity, p.params) for p in found.skipped] == [
        ("file-skipped", "b.", "warning", {"suffix": "(none)"}), ("file-skipped", "c.tar.gz", "warning", {"suffix": ".gz"}),
        ("file-skipped", "noext", "warning", {"suffix": "(none)"}), ("file-skipped", "notes.pdf", "warning", {"suffix": ".pdf"}),
    ]


def test_inputs_found_from_a_relative_folder_are_named_within_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.sources import find_inputs

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x", encoding="utf-8")
    (tmp_path / "y.txt").write_text("x", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    found = find_inputs([Path("."), Path("d")])
    assert [(str(i.path), str(i.top), i.name) for i in found.inputs] == [("d/x.txt", ".", "d/x.txt"), ("y.txt", ".", "y.txt")]
