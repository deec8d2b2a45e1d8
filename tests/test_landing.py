"""index.html: says what the data is, offers every file with size and sha256, documents every
field, embeds schema.org JSON-LD and the chart numbers, fetches nothing, rebuilds byte for byte."""

from __future__ import annotations

import csv
import html
import json
import os
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from frictionless import Package

from pipeline.build import build
from pipeline.config import Config
from pipeline.landing import script_json
from pipeline.portal import CATALOG_JSONLD, CATALOG_TTL, CKAN_JSON, LANDING
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
def package(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Path:
    out = tmp_path_factory.mktemp("landing") / "package"
    assert build([SEED], config, out).published == out
    return out


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
