"""index.html: says what the data is, offers every file with size and sha256, documents every
field, embeds schema.org JSON-LD and the chart numbers, fetches nothing, rebuilds byte for byte."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from frictionless import Package

from pipeline.config import Config
from pipeline.landing import REPORT_LIMIT, TABLE_LIMIT, Digest, render, script_json
from pipeline.portal import CATALOG_JSONLD, CATALOG_TTL, CKAN_JSON, LANDING, portal_facts
from pipeline.schema import TABLES, load_schemas

from .conftest import ROOT, SEED

PORTAL_FILES = (CATALOG_TTL, CATALOG_JSONLD, CKAN_JSON, LANDING)


class Page(HTMLParser):
    """The tags with their attributes, the text, and the content of each <script>."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)

    def script(self, **wanted: str) -> str:
        return next(text for attrs, text in self.scripts if all(attrs.get(k) == v for k, v in wanted.items()))

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def package(seed_package: Path) -> Path:
    return seed_package


@pytest.fixture(scope="module")
def page(package: Path) -> Page:
    return Page((package / LANDING).read_text(encoding="utf-8"))


def read_csv(package: Path, table: str) -> list[dict[str, str]]:
    with (package / "data" / f"{table}.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_page_says_what_the_data_is_the_period_licence_credit_and_update(package: Path, page: Page) -> None:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    reports = read_csv(package, "reports")
    assert ("html", {"lang": "ja"}) in page.tags
    text = page.plain
    assert descriptor["title"] in text and descriptor["x_title_en"] in text
    assert "2024年4〜6月" in text and reports[0]["report_period_start"] in text and reports[0]["report_period_end"] in text
    assert descriptor["x_attribution"] in text and "PDL1.0" in text and "CC BY 4.0" in text
    assert "最終更新" in text and "Last updated" in text
    hrefs = {a.get("href") for tag, a in page.tags if tag == "a"}
    assert descriptor["licenses"][0]["path"] in hrefs
    updated = next(a for tag, a in page.tags if tag == "time" and a.get("id") == "last-updated")
    assert updated["datetime"] == max(r["report_period_end"] for r in reports)


def test_every_file_is_offered_with_its_size_and_sha256(package: Path, page: Page) -> None:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    hrefs = {a.get("href") for tag, a in page.tags if tag == "a"}
    text = page.plain
    for resource in descriptor["resources"]:
        assert resource["path"] in hrefs
        assert f"{resource['bytes']} B" in text and resource["hash"].removeprefix("sha256:") in text
    for name in PORTAL_FILES[:3] + ("datapackage.json",):
        assert name in hrefs


def test_data_dictionary_lists_every_field_of_every_table(page: Page) -> None:
    text = page.plain
    for name, schema in load_schemas().items():
        for field in schema.fields:
            assert field["name"] in text and field["title"] in text, (name, field["name"])
            assert " ".join(field["description"].split()) in text, (name, field["name"])
            if field.get("example") not in (None, ""):
                assert str(field["example"]) in text


def test_usage_shows_pandas_and_curl_with_real_urls_and_hash(package: Path, page: Page) -> None:
    data = json.loads((package / CKAN_JSON).read_text(encoding="utf-8"))
    csv_url = data["url"] + "data/incidents.csv"
    digest = next(r["hash"] for r in data["resources"] if r["url"] == csv_url)
    text = html.unescape((package / LANDING).read_text(encoding="utf-8"))  # the <pre> blocks as written
    assert "import pandas as pd" in text and "pd.read_parquet" in text and f'base = "{data["url"]}"' in text
    assert f"curl -fsSLO {csv_url}" in text and f'echo "{digest}  incidents.csv" | sha256sum -c -' in text


def test_incident_table_has_every_incident(package: Path, page: Page) -> None:
    incidents = read_csv(package, "incidents")
    rows = [a for tag, a in page.tags if tag == "tr" and "data-category" in a]
    assert Counter(a["data-category"] for a in rows) == Counter(r["category"] for r in incidents)
    for r in incidents:
        assert r["incident_id"] in page.plain and " ".join(r["summary"].split()) in page.plain


def test_chart_numbers_equal_the_published_tables(package: Path, page: Page) -> None:
    charts = json.loads(page.script(id="chart-data"))
    incidents = read_csv(package, "incidents")
    reports = read_csv(package, "reports")
    assert [q["total"] for q in charts["quarters"]] == [int(r["incident_count"]) for r in reports]
    assert {c["label"]: c["count"] for c in charts["by_category"]} == dict(Counter(r["category"] for r in incidents))
    leaks = [r for r in incidents if r["personal_data_leaked"] == "true"]
    by_month = Counter(r["discovered_on"][:7] for r in leaks)
    assert {m["label"]: m["count"] for m in charts["leaks"]} == {m: by_month.get(m, 0) for m in ("2024-04", "2024-05", "2024-06")}
    assert sum(m["persons"] for m in charts["leaks"]) == sum(int(r["leaked_persons"] or 0) for r in leaks)


def test_schema_org_dataset(package: Path, page: Page) -> None:
    data = json.loads(page.script(type="application/ld+json"))
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert data["@context"] == "https://schema.org" and data["@type"] == "Dataset"
    assert data["name"] == descriptor["title"] and len(data["description"]) >= 50
    assert data["license"] == descriptor["licenses"][0]["path"]
    assert data["creator"]["name"] == "豊岡市" and data["temporalCoverage"] == "2024-04-01/2024-06-30"
    assert data["spatialCoverage"]["name"] == "兵庫県豊岡市"
    urls = {d["contentUrl"]: d["encodingFormat"] for d in data["distribution"]}
    assert len(urls) == len(descriptor["resources"]) + 1
    for resource in descriptor["resources"]:
        assert urls[data["url"] + resource["path"]] == resource["mediatype"]
    fields = {f["name"] for table in TABLES for f in load_schemas()[table].fields}
    assert {v["name"] for v in data["variableMeasured"]} == fields


def test_the_page_loads_nothing_from_elsewhere(package: Path, page: Page) -> None:
    for tag, attrs in page.tags:
        assert not (tag == "script" and attrs.get("src")), attrs
        assert tag not in ("img", "iframe", "object", "embed"), tag
        if tag == "link":  # metadata links, and an empty inline icon (so no /favicon.ico is requested)
            assert attrs.get("rel") in ("alternate", "describedby", "icon") and "://" not in (attrs.get("href") or "")
            assert attrs.get("rel") != "icon" or attrs.get("href") == "data:,"
    html = (package / LANDING).read_text(encoding="utf-8")
    assert "@import" not in html and "url(" not in html and "fetch(" not in html and "XMLHttpRequest" not in html


def test_embedded_json_cannot_close_its_script_element() -> None:
    text = script_json({"summary": "誤送付</script><script>alert(1)</script><!--"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text)["summary"].endswith("</script><!--")


def test_portal_files_are_not_resources_and_the_package_stays_valid(package: Path) -> None:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert not {r["path"] for r in descriptor["resources"]} & set(PORTAL_FILES)
    assert all((package / name).is_file() for name in PORTAL_FILES)
    report = Package(str(package / "datapackage.json")).validate()
    assert report.valid


def test_portal_files_rebuild_byte_for_byte_whatever_the_hash_seed(package: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "LANG": "C.UTF-8"}
    done = subprocess.run([sys.executable, "-m", "pipeline", "build", str(SEED), "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in PORTAL_FILES:
        assert (out / name).read_bytes() == (package / name).read_bytes(), name


# A national archive: the seed's rows repeated over many quarters, municipalities and categories.

CATEGORIES = (["事務処理誤り"] * 5 + ["個人情報の漏えい"] * 3 + ["誤支給"] * 2 + ["書類の紛失", "誤送付", "その他"]) * 2 + ["誤送付"]


def quarter_start(q: int) -> date:
    """Fiscal quarter q after April 2015 (q1 of FY2015)."""
    month = 3 + 3 * q
    return date(2015 + month // 12, month % 12 + 1, 1)


def archive(package: Path, quarters: int, per_quarter: int, reports_per_quarter: int = 5) -> dict[str, pa.Table]:
    """`quarters` × `per_quarter` incidents made from the seed's (ids, dates, categories and
    leaks varied, the text kept) and `reports_per_quarter` reports a quarter."""
    seed = pq.read_table(package / "data" / "incidents.parquet")
    n = quarters * per_quarter
    rows = seed.take(pa.array([i % seed.num_rows for i in range(n)]))
    starts = [quarter_start(i // per_quarter) for i in range(n)]
    ends = [quarter_start(i // per_quarter + 1) - timedelta(days=1) for i in range(n)]
    leaked = [i % 3 == 0 for i in range(n)]
    changed = {
        "incident_id": pa.array([f"{100000 + i % 500:06d}-{s.year}{s.month:02d}-{i // 500 % 1000:03d}"
                                 for i, s in enumerate(starts)]),
        "report_period_start": pa.array(starts, pa.date32()),
        "report_period_end": pa.array(ends, pa.date32()),
        "discovered_on": pa.array([s + timedelta(days=(i * 37) % 90) for i, s in enumerate(starts)], pa.date32()),
        "category": pa.array([CATEGORIES[(i * 7) % len(CATEGORIES)] for i in range(n)]),
        "personal_data_leaked": pa.array(leaked),
        "leaked_persons": pa.array([(i % 5 or None) if leak else None for i, leak in enumerate(leaked)], pa.int64()),
    }
    for name, column in changed.items():
        rows = rows.set_column(rows.schema.get_field_index(name), name, column)
    seed_reports = pq.read_table(package / "data" / "reports.parquet")
    m = quarters * reports_per_quarter
    reports = seed_reports.take(pa.array([0] * m))
    report_starts = [quarter_start(i // reports_per_quarter) for i in range(m)]
    for name, column in {
        "report_id": pa.array([f"{100000 + i % reports_per_quarter:06d}-{s.year}{s.month:02d}" for i, s in enumerate(report_starts)]),
        "report_period_start": pa.array(report_starts, pa.date32()),
        "report_period_end": pa.array([quarter_start(i // reports_per_quarter + 1) - timedelta(days=1) for i in range(m)],
                                      pa.date32()),
    }.items():
        reports = reports.set_column(reports.schema.get_field_index(name), name, column)
    return {"incidents": rows, "reports": reports}


def archive_page(package: Path, config: Config, tables: dict[str, pa.Table]) -> str:
    """The page of `tables`, as a digest made in one part, with `package`'s descriptor."""
    digest = Digest.of(tables)
    descriptor = (package / "datapackage.json").read_bytes()
    site = portal_facts(json.loads(descriptor), descriptor, digest.periods, config.options)
    return render(site, digest, load_schemas())


def fiscal(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def test_a_big_archive_gives_a_bounded_page_with_the_right_counts(package: Path, config: Config) -> None:
    tables = archive(package, quarters=40, per_quarter=1250)  # 50,000 incidents, 200 reports, FY2015-2024
    text = archive_page(package, config, tables)
    page = Page(text)
    assert len(text.encode("utf-8")) < 2_000_000  # the seed's text at 1M incidents was ~750 MB
    incidents = tables["incidents"].to_pylist()

    # the table: the newest TABLE_LIMIT by date discovered, then incident_id; a note says so
    rows = [a for tag, a in page.tags if tag == "tr" and "data-category" in a]
    newest = sorted(incidents, key=lambda r: (-r["discovered_on"].toordinal(), r["incident_id"]))[:TABLE_LIMIT]
    table = text.split('<table id="incident-table"')[1].split("</table>")[0]
    shown = re.findall(r"<td><code>(\d{6}-\d{6}-\d{3})</code></td>", table)
    assert len(rows) == TABLE_LIMIT and shown == [r["incident_id"] for r in newest]
    assert "全 50,000 件のうち、判明日の新しい 1,000 件" in page.plain
    assert "the 1,000 most recently discovered of all 50,000 incidents" in page.plain
    assert "ダウンロード" in page.plain and ("a", {"href": "#downloads"}) in page.tags
    assert "全 200 件の報告のうち" in page.plain  # and the newest REPORT_LIMIT of them are listed
    listed = text.split('id="reports-shown"')[1].split("</table>")[0]
    reports = sorted(tables["reports"].to_pylist(), key=lambda r: (-r["report_period_end"].toordinal(), r["report_id"]))
    assert re.findall(r"<td>(\S+) – (\S+)</td>", listed) == [
        (r["report_period_start"].isoformat(), r["report_period_end"].isoformat()) for r in reports[:REPORT_LIMIT]]
    options = [a["value"] for tag, a in page.tags if tag == "option" and a.get("value")]
    assert sorted(options) == sorted({r["category"] for r in newest})

    # the facts and the charts count every incident
    leaks = [r for r in incidents if r["personal_data_leaked"]]
    assert "50,000 件" in page.plain and f"{len(leaks):,} 件" in page.plain
    assert f"{sum(r['leaked_persons'] or 0 for r in leaks):,} 人分" in page.plain
    charts = json.loads(page.script(id="chart-data"))
    ranked = Counter(r["category"] for r in incidents).most_common()
    top = [c for c, _ in ranked[:4]]
    assert charts["categories"] == top + [f"上記以外（{len(ranked) - 4}種）"]
    series = {c: top.index(c) if c in top else 4 for c, _ in ranked}
    assert [c["count"] for c in charts["by_category"]] == [n for _, n in ranked[:4]] + [sum(n for _, n in ranked[4:])]
    by_year: dict[int, list[int]] = {}
    for r in incidents:
        by_year.setdefault(fiscal(r["report_period_start"]), [0] * 5)[series[r["category"]]] += 1
    assert [(q["label"], q["label_en"], q["counts"], q["total"]) for q in charts["quarters"]] == [
        (f"{y}年度", f"FY{y}", counts, sum(counts)) for y, counts in sorted(by_year.items())]
    assert sum(q["total"] for q in charts["quarters"]) == len(incidents)
    leak_years: dict[str, list[int]] = {}
    for r in leaks:
        total = leak_years.setdefault(f"{fiscal(r['discovered_on'])}年度", [0, 0, 0])
        total[0], total[1], total[2] = total[0] + 1, total[1] + (r["leaked_persons"] or 0), total[2] + (r["leaked_persons"] is None)
    assert {m["label"]: [m["count"], m["persons"], m["unknown"]] for m in charts["leaks"]} == leak_years
    assert "年度ごとの事案数" in page.plain and "判明した年度別" in page.plain


@pytest.mark.parametrize(("quarters", "unit", "leak_labels", "caption"), [
    (2, "quarter", ["2015-04", "2015-05", "2015-06", "2015-07", "2015-08", "2015-09"], "判明した月別"),
    (8, "quarter", ["2015年4〜6月", "2015年7〜9月", "2015年10〜12月", "2016年1〜3月",
                    "2016年4〜6月", "2016年7〜9月", "2016年10〜12月", "2017年1〜3月"], "判明した四半期別"),
    (13, "fiscal_year", ["2015年度", "2016年度", "2017年度", "2018年度"], "判明した年度別"),
])
def test_the_time_charts_have_at_most_12_bars(package: Path, config: Config, quarters: int, unit: str,
                                              leak_labels: list[str], caption: str) -> None:
    tables = archive(package, quarters=quarters, per_quarter=30)
    page = Page(archive_page(package, config, tables))
    charts = json.loads(page.script(id="chart-data"))
    incidents = tables["incidents"].to_pylist()
    if unit == "quarter":  # one bar per report period, labelled as before
        per_start = Counter(r["report_period_start"] for r in incidents)
        assert [q["total"] for q in charts["quarters"]] == [per_start[quarter_start(q)] for q in range(quarters)]
        assert charts["quarters"][0]["label"] == "2015年4〜6月" and "四半期ごとの事案数" in page.plain
    else:
        assert [q["label_en"] for q in charts["quarters"]] == ["FY2015", "FY2016", "FY2017", "FY2018"]
    assert [m["label"] for m in charts["leaks"]] == leak_labels and caption in page.plain
    assert sum(m["count"] for m in charts["leaks"]) == sum(1 for r in incidents if r["personal_data_leaked"])
    assert len([a for tag, a in page.tags if tag == "tr" and "data-category" in a]) == len(incidents)  # all shown
    assert "incidents-shown" not in {a.get("id") for _, a in page.tags}
