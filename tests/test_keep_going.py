"""--keep-going publishes the valid rows; every input row is published or reported."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import SEED

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
DATES, LEAK, SUMMARY = 1, 5, 4


def summary_rows(stdout: str) -> dict[str, list[int]]:
    lines = stdout.splitlines()
    header = lines[0].split()
    rows = {}
    for line in lines[1:]:
        if "error(s)" in line:
            break
        parts = line.split()
        if len(parts) == len(header) and parts[1].isdigit():
            rows[parts[0]] = [int(v) for v in parts[1:]]
    return rows


def rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_valid_rows_are_published_and_rejected_ones_set_aside(make_report: Callable[..., Path], run: Callable[..., Result], tmp_path: Path) -> None:
    report = make_report(cells={(0, DATES): "2024.4.8 (2024.7.15)", (2, LEAK): "たぶん",
                                (4, SUMMARY): "連絡先 yamada.taro@example.jp に誤送信"})
    out, rejected = tmp_path / "out", tmp_path / "private" / "rejects.csv"
    result = run("build", str(report), "--out", str(out), "--keep-going", "--rejects", str(rejected))
    assert result.exit_code == 1  # published, but rows were rejected
    assert summary_rows(result.stdout)["report.txt"] == [7, 4, 3, 4]  # read, valid, rejected, published
    incidents = json.loads((out / "data" / "incidents.json").read_text(encoding="utf-8"))
    assert [r["report_no"] for r in incidents] == [2, 4, 6, 7]
    measures = json.loads((out / "data" / "measures.json").read_text(encoding="utf-8"))
    assert {m["incident_id"][-3:] for m in measures} == {"002", "004", "006", "007"}
    assert "yamada.taro" not in "".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".parquet")
    found = rejects(rejected)
    assert [(r["file"], r["row"], r["no"]) for r in found] == [("report.txt", "6", "1"), ("report.txt", "8", "3"), ("report.txt", "10", "5")]
    assert "outside the report's period" in found[0]["reasons"]
    assert json.loads(found[1]["raw_cells"])["個人情報の漏えい の有無"] == "たぶん"
    assert "e-mail" in found[2]["reasons"].lower() or "mail" in found[2]["reasons"]
    assert not rejected.is_relative_to(out)
    sources = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))["sources"]
    assert [s.get("x_rows_rejected") for s in sources] == [3]  # the package says it is partial
    (report,) = json.loads((out / "data" / "reports.json").read_text(encoding="utf-8"))
    assert report["incident_count"] == 7  # as the report lists them, whichever check dropped a row


def test_the_rejects_file_may_not_be_published(run: Callable[..., Result], tmp_path: Path) -> None:
    result = run("build", str(SEED), "--out", str(tmp_path / "out"), "--keep-going", "--rejects", str(tmp_path / "out" / "r.csv"))
    assert result.exit_code == 2


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.iterdir()))
def test_row_accounting_holds_for_every_bad_input(name: str, run: Callable[..., Result], tmp_path: Path) -> None:
    out, rejected = tmp_path / "out", tmp_path / "rejects.csv"
    result = run("build", str(BAD / name), "--out", str(out), "--keep-going", "--rejects", str(rejected))
    assert result.exit_code == 1
    reported = rejects(rejected)
    assert reported, "every failing input leaves at least one line in the rejects file"
    assert {r["file"] for r in reported} <= set(summary_rows(result.stdout))
    published = len(json.loads((out / "data" / "incidents.json").read_text(encoding="utf-8"))) if out.exists() else 0
    summary = summary_rows(result.stdout)
    assert summary, "every input file is accounted for"
    for file, (read, valid, bad, pub, *superseded) in summary.items():
        assert read == valid + bad + sum(superseded), file
        assert pub in (0, valid)
        lines = [r for r in reported if r["file"] == file]
        assert lines or bad == 0, file
        whole_file = valid == 0 and bad == read
        if not whole_file:  # each rejected row is in the rejects file with its reasons
            assert bad == len({r["row"] for r in lines}), file
    assert published == sum(v[3] for v in summary.values())


def test_a_result_lets_its_cells_go_and_reads_them_back_only_from_the_same_file(tmp_path: Path) -> None:
    from pipeline.config import load_config
    from pipeline.readers import read_report

    from .conftest import ROOT

    copy = tmp_path / SEED.name
    copy.write_bytes(SEED.read_bytes())
    report = read_report(copy, load_config(ROOT).profile)
    slim = report.without_cells()
    assert slim.rows == () and slim.lines == report.lines and slim.rows_read == report.rows_read == 7
    assert slim.rows_again() == report.rows  # what the rejects file shows
    copy.write_bytes(SEED.read_bytes().replace("豊岡".encode(), "豊丘".encode()))
    assert slim.rows_again() == ()  # changed since: its cells would not be the ones checked
    copy.unlink()
    assert slim.rows_again() == ()


def test_rejected_rows_keep_their_cells_when_the_cache_knew_the_report_elsewhere(make_report: Callable[..., Path], tmp_path: Path) -> None:
    from pipeline.build import Options, build
    from pipeline.config import load_config
    from pipeline.rejects import rejected_rows

    from .conftest import ROOT

    config, options = load_config(ROOT), Options(cache_dir=tmp_path / "cache")
    report = make_report(cells={(2, LEAK): "たぶん"})
    first = build([report], config, tmp_path / "a", options, keep_going=True)
    moved = tmp_path / "moved"
    moved.mkdir()
    report.rename(moved / report.name)  # the same bytes found elsewhere: a cache hit
    again = build([moved / report.name], config, tmp_path / "b", options, keep_going=True)
    assert not first.ok and not again.ok
    (row,) = rejected_rows(again)
    assert json.loads(row.cells)["個人情報の漏えい の有無"] == "たぶん"
