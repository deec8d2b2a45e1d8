"""Most rows take normalize's quick path; a row with anything to report is read again cell
by cell. Both must give the same records, sources and problems, row for row: checked on
every fixture, on synthetic reports and on the seed with text inserted anywhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate
from pipeline.config import Config, load_config
from pipeline.normalize import Memo, Normalized, normalize_report
from pipeline.process import prepare
from pipeline.readers import RawReport, ReadFailed, read_report
from pipeline.sources import find_inputs

from .conftest import ROOT, SEED

CONFIG: Config = load_config(ROOT)
FIXTURES = ROOT / "tests" / "fixtures"


def same_both_ways(report: RawReport, config: Config, memo: Memo | None = None) -> Normalized:
    municipality = config.municipality_of(report.profile)
    quick = normalize_report(report, municipality, memo)
    careful = normalize_report(report, municipality, careful_only=True)
    assert quick.columns == careful.columns
    assert quick.sources == careful.sources
    assert quick.problems == careful.problems
    assert (quick.rows_read, quick.rows_rejected) == (careful.rows_read, careful.rows_rejected)
    return quick


def reports_under(folder: Path, config: Config) -> list[RawReport]:
    reports = []
    for item in find_inputs([folder]).inputs:
        job = prepare(item, config, None, None, {})
        try:
            reports.append(read_report(item.path, job.profile, None, item.name))  # type: ignore[union-attr]
        except ReadFailed:
            continue
    return reports


@pytest.mark.parametrize("folder", ["forms", "invented", "bad"])
def test_fixtures_give_the_same_both_ways(folder: str) -> None:
    reports = reports_under(FIXTURES / folder, CONFIG)
    assert reports
    problems = sum(len(same_both_ways(r, CONFIG).problems) for r in reports)
    if folder == "bad":
        assert problems > 20  # the careful path really ran, on many rows


def test_synthetic_reports_give_the_same_both_ways(tmp_path: Path) -> None:
    generate(tmp_path / "raw", 2_000, municipalities=5, years=5, workers=1)
    reports = reports_under(tmp_path / "raw", load_config(ROOT))
    memo = Memo()  # shared, as a worker shares it over a batch
    rows = sum(len(same_both_ways(r, CONFIG, memo).columns["incidents"].get("incident_id", [])) for r in reports)
    assert rows > 1_500


SEED_TEXT = SEED.read_text(encoding="utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEED_TEXT)), st.text(max_size=30))
def test_the_seed_with_text_inserted_anywhere_gives_the_same_both_ways(at: int, inserted: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.txt"
        path.write_text(SEED_TEXT[:at] + inserted + SEED_TEXT[at:], encoding="utf-8")
        try:
            report = read_report(path, CONFIG.profile)
        except ReadFailed:
            return
        same_both_ways(report, CONFIG)
