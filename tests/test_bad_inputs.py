"""The bad-input corpus (tests/fixtures/bad/, made by make_fixtures.py): each input exits 1
with a message naming file, row and field in a clerk's words, and publishes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import SEED, tree_digest

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"

# file -> the start of the located message ("file, row N (No n): 「header」 [field]") and what it says
EXPECTED: dict[str, tuple[str, str]] = {
    "01-empty.txt": ("01-empty.txt", "the file is empty"),
    "02-whitespace-only.txt": ("02-whitespace-only.txt", "the file is empty"),
    "03-header-only.txt": ("03-header-only.txt, row 5", "the report has a header but no incident rows"),
    "04-binary.txt": ("04-binary.txt", "it is a binary file, not text"),
    "05-undecodable.txt": ("05-undecodable.txt", "neither UTF-8 nor Shift_JIS (CP932); save it as UTF-8 or name its encoding with --encoding"),
    "06-semicolons.csv": ("06-semicolons.csv", "no header row was found"),
    "07-missing-column.txt": ("07-missing-column.txt, row 5: 「個人情報の漏えい の有無」", "is missing from the header row"),
    "08-renamed-column.txt": ("08-renamed-column.txt, row 5: 「概要」", "the column 「概要」 is missing from the header row"),
    "09-duplicate-column.txt": ("09-duplicate-column.txt, row 5: 「概要」", "appears more than once in the header row"),
    "10-ragged-long-row.txt": ("10-ragged-long-row.txt, row 8", "the row has 10 cells but the header has 9"),
    "11-ragged-short-row.txt": ("11-ragged-short-row.txt, row 8", "the row has 4 cells but the header has 9"),
    "12-unbalanced-quote.csv": ("12-unbalanced-quote.csv, row 8", "a quoted cell starting on this line is not closed properly"),
    "13-impossible-date.txt": ("13-impossible-date.txt, row 6 (No 1): 「発生日 (判明日)」 [discovered_on]", "'2024.2.30' is not a real date"),
    "14-impossible-era-date.txt": ("14-impossible-era-date.txt, row 7 (No 2): 「発生日 (判明日)」 [discovered_on]", "令和元年4月1日 is outside the 令和 era"),
    "15-era-past-its-end.txt": ("15-era-past-its-end.txt, row 8 (No 3): 「発生日 (判明日)」 [discovered_on]", "平成32年4月25日 is outside the 平成 era"),
    "16-discovered-after-period.txt": ("16-discovered-after-period.txt, row 9 (No 4): 「発生日 (判明日)」 [discovered_on]", "2024-07-01 is outside the report's period 2024-04-01 to 2024-06-30"),
    "17-discovered-before-period.txt": ("17-discovered-before-period.txt, row 10 (No 5): 「発生日 (判明日)」 [discovered_on]", "2024-03-31 is outside the report's period"),
    "18-occurred-after-discovered.txt": ("18-occurred-after-discovered.txt, row 11 (No 6): 「発生日 (判明日)」 [occurred_on]", "2024-06-14 is after the discovery date 2024-06-13"),
    "19-range-reversed.txt": ("19-range-reversed.txt, row 12 (No 7): 「発生日 (判明日)」 [occurred_until]", "ends (2024-06-01) before it starts (2024-06-19)"),
    "20-no-discovery-date.txt": ("20-no-discovery-date.txt, row 6 (No 1): 「発生日 (判明日)」 [discovered_on]", "has no discovery date"),
    "21-duplicate-no.txt": ("21-duplicate-no.txt, row 12 (No 6): 「No」 [report_no]", "No 6 is used twice in this report (also on row 11)"),
    "22-same-period-twice": ("b.txt", "another report is for the same period (a.txt); if one corrects the other, put 訂正版"),
    "23-control-character.txt": ("23-control-character.txt, row 7 (No 2): 「概要」 [summary]", "invisible control characters (U+0007)"),
    "24-bidi-override.txt": ("24-bidi-override.txt, row 8 (No 3): 「概要」 [summary]", "invisible control characters (U+202E)"),
    "25-oversized-cell.txt": ("25-oversized-cell.txt, row 9 (No 4): 「再発防止策」 [measure]", "more than the 10,000 a report cell may have"),
    "26-no-title.txt": ("26-no-title.txt", "no title line with the period"),
    "27-bad-period.txt": ("27-bad-period.txt, row 3", "has a month outside 1-12"),
    "28-leak-flag.txt": ("28-leak-flag.txt, row 9 (No 4): 「個人情報の漏えい の有無」 [personal_data_leaked]", "is not 有 or 無"),
    "29-no-not-a-number.txt": ("29-no-not-a-number.txt, row 10 (No 五): 「No」 [report_no]", "is not a whole number from 1"),
    "30-bad-phone.txt": ("30-bad-phone.txt, row 11 (No 6): 「問合せ先 電話番号」 [contact_phone]", "is not a phone number such as 0796-24-7033"),
    "31-bad-figures.txt": ("31-bad-figures.txt, row 12 (No 7): 「概要」 [figures]", "is not a label, a number and a unit"),
    "32-missing-required-value.txt": ("32-missing-required-value.txt, row 6 (No 1): 「所管課」 [division]", "the cell is empty but a value is required"),
    "33-leak-count-with-none.txt": ("33-leak-count-with-none.txt, row 8 (No 3): 「個人情報の漏えい の有無」 [personal_data_leaked]", "says 無 but gives a count"),
    "34-really-html.xlsx": ("34-really-html.xlsx", "it is named .xlsx but is really a web page (HTML); save it from Excel as a workbook (.xlsx)"),
    "35-not-a-report.pdf": ("35-not-a-report.pdf", ".pdf is not a report form this pipeline reads; use .txt, .tsv, .csv or .xlsx"),
}


def test_the_corpus_is_complete() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 30




@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_is_refused_with_a_located_message(name: str, run: Callable[..., Result], published: Path) -> None:
    before = tree_digest(published)
    result = run("build", str(BAD / name), "--out", str(published), "--lang", "en")
    assert result.exit_code == 1
    where, what = EXPECTED[name]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(line.startswith(f"error: {where}") and what in line for line in errors), result.stderr
    assert "nothing published" in result.stderr
    assert tree_digest(published) == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["published"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_same_in_japanese(name: str, run: Callable[..., Result]) -> None:
    """--lang ja: every message is Japanese; only values, names and codes stay as written."""
    import re

    result = run("validate", str(BAD / name), "--lang", "ja")
    assert result.exit_code == 1
    errors = [l for l in result.stderr.splitlines() if l.startswith("エラー: ")]
    assert errors, result.stderr
    for line in errors:
        message = line.rsplit("」: ", 1)[-1] if "」: " in line else line.split(": ", 2)[-1]
        message = re.sub(r"\[[a-z_,]+\]|\.(txt|tsv|csv|xlsx|pdf)\b|「[^」]*」|'[^']*'|\([^)]*\)|[\w.\-]+\.(txt|csv|xlsx|pdf|json)|--encoding|U\+[0-9A-F]+|No|UTF-8|Shift_JIS|CP932|Excel|profile\.json|sheet|x_pipeline\S*|[a-z_]+\.[a-z_,]+", "", message)
        english = re.findall(r"\b[a-z]{3,}\b", message)
        assert not english, f"English words {english} in: {line}"


def test_an_oversized_file(tmp_path: Path, run: Callable[..., Result]) -> None:
    big = tmp_path / "huge.txt"
    with big.open("wb") as handle:
        handle.write(SEED.read_bytes())
        handle.truncate(65 * 1024 * 1024)  # a sparse tail of NULs
    result = run("validate", str(big))
    assert result.exit_code == 1
    assert "error: huge.txt: cannot read the file: it is 68,157,440 bytes, more than the 67,108,864 a quarterly report may have" in result.stderr
