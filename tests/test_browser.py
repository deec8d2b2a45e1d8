"""The landing page in a real headless browser: Debian's chromium, driven by Playwright.

The built package is served from 127.0.0.1 (and opened from disk): the page
must load with no console error and no request leaving the package, draw its
three charts, filter and sort the incident table, and carry JSON-LD that
parses. Skipped only when chromium is not installed (CI's .ci/run installs it).
"""

from __future__ import annotations

import csv
import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Config

from .test_landing import archive as make_archive
from .test_landing import archive_page

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver; "
                "CI's .ci/run installs it)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def package(seed_package: Path) -> Path:
    return seed_package


@pytest.fixture(scope="module")
def origin(package: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(package)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    page: Page
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def visit(browser: Browser, url: str) -> Visit:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = Visit(page)
    page.on("console", lambda m: seen.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("requestfailed", lambda r: seen.failed.append(r.url))
    response = page.goto(url, wait_until="load")
    assert response is None or response.ok, url  # file:// has no response
    page.wait_for_selector("#chart-quarters svg")
    return seen


@pytest.fixture()
def served(browser: Browser, origin: str) -> Iterator[Visit]:
    seen = visit(browser, origin + "/index.html")
    yield seen
    seen.page.close()


def incidents(package: Path) -> list[dict[str, str]]:
    with (package / "data" / "incidents.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def visible_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#incident-table tbody tr:not([hidden]) td:first-child",
                                     "cells => cells.map(c => c.textContent.trim())")


def test_page_loads_with_no_console_error_and_fetches_nothing_else(served: Visit, origin: str) -> None:
    assert served.errors == []
    assert [m for m in served.console if m[0] in ("error", "warning")] == []
    assert served.failed == []
    assert served.requests == [origin + "/index.html"]  # everything else is inline


def test_page_works_opened_from_disk(browser: Browser, package: Path) -> None:
    seen = visit(browser, (package / "index.html").as_uri())
    try:
        assert seen.errors == [] and [m for m in seen.console if m[0] == "error"] == []
        assert seen.page.locator("#chart-leaks svg rect").count() > 0
        assert len(visible_ids(seen.page)) == len(incidents(package))
    finally:
        seen.page.close()


def test_charts_render(served: Visit, package: Path) -> None:
    page = served.page
    rows = incidents(package)
    for chart in ("#chart-quarters", "#chart-categories", "#chart-leaks"):
        box = page.locator(f"{chart} svg").first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50, chart
        heights = page.eval_on_selector_all(f"{chart} .bar rect", "rs => rs.map(r => r.getBBox().height)")
        assert heights and all(h > 0 for h in heights), chart
    quarter = page.locator("#chart-quarters .bar .value").all_text_contents()
    assert quarter == [f"{len(rows)} 件"]
    categories = page.locator("#chart-categories .bar .value").all_text_contents()
    assert sorted(int(v.split()[0]) for v in categories) == sorted(
        [sum(1 for r in rows if r["category"] == c) for c in {r["category"] for r in rows}])
    months = page.eval_on_selector_all("#chart-leaks .bar", "gs => gs.map(g => g.querySelectorAll('text')[1].textContent)")
    assert months == ["2024-04", "2024-05", "2024-06"]


def test_table_filters(served: Visit, package: Path) -> None:
    page, rows = served.page, incidents(package)
    shown = ("incident_id", "discovered_on", "occurred_on", "category", "department", "division", "summary")

    def expected(word: str, category: str = "") -> list[str]:
        return [r["incident_id"] for r in rows
                if word.lower() in " ".join(r[k] for k in shown).lower() and (not category or r["category"] == category)]

    assert len(visible_ids(page)) == len(rows)
    page.fill("#filter", "高年介護課")
    assert visible_ids(page) == expected("高年介護課") and len(expected("高年介護課")) == 3
    assert page.text_content("#count").startswith(f"{len(rows)} 件中 3 件を表示")
    page.fill("#filter", "")
    page.select_option("#category", "個人情報の漏えい")
    assert visible_ids(page) == expected("", "個人情報の漏えい")
    page.fill("#filter", "ｂｃｃ")  # full-width letters match the summary's "Bcc"
    assert visible_ids(page) == expected("bcc", "個人情報の漏えい") and len(visible_ids(page)) == 1
    page.fill("#filter", "存在しない言葉")
    assert visible_ids(page) == [] and page.is_visible("#no-match")


def test_table_sorts_by_number_and_date(served: Visit, package: Path) -> None:
    page, rows = served.page, incidents(package)
    persons = {r["incident_id"]: int(r["leaked_persons"] or r["persons_affected"] or -1) for r in rows}
    header = page.locator("#incident-table thead th").nth(7)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    order = [persons[i] for i in visible_ids(page)]
    known = [p for p in order if p >= 0]
    assert known == sorted(known) and order[len(known):] == [-1] * (len(order) - len(known))  # empty last
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    known = [persons[i] for i in visible_ids(page) if persons[i] >= 0]
    assert known == sorted(known, reverse=True)
    page.locator("#incident-table thead th").nth(1).locator("button").click()
    discovered = {r["incident_id"]: r["discovered_on"] for r in rows}
    assert [discovered[i] for i in visible_ids(page)] == sorted(discovered.values())


def test_json_ld_parses_in_the_browser(served: Visit) -> None:
    data = served.page.evaluate("JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)")
    assert data["@type"] == "Dataset" and data["temporalCoverage"] == "2024-04-01/2024-06-30"
    assert len(data["distribution"]) == 13 and all(d["contentUrl"].startswith(data["url"]) for d in data["distribution"])


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, package: Path, config: Config) -> Path:
    """The page of a 10,000-incident archive over ten fiscal years (see test_landing.archive)."""
    out = tmp_path_factory.mktemp("archive")
    (out / "index.html").write_text(archive_page(package, config, make_archive(package, quarters=40, per_quarter=250)),
                                    encoding="utf-8")
    return out


def label_boxes(page: Page, chart: str) -> list[dict[str, float]]:
    """Each bar label's box in the chart's own units, with its line (y)."""
    return page.eval_on_selector_all(f"{chart} .bar text:not(.value)", """ts => ts.map(t => {
        const b = t.getBBox(); return {x: b.x, right: b.x + b.width, y: Math.round(b.y)}; })""")


def test_a_big_archive_draws_readable_charts_and_a_bounded_table(browser: Browser, archive: Path) -> None:
    seen = visit(browser, (archive / "index.html").as_uri())
    page = seen.page
    try:
        assert seen.errors == [] and [m for m in seen.console if m[0] == "error"] == []
        assert page.locator("#chart-quarters .bar").count() == 10  # fiscal years 2015-2024
        assert page.locator("#chart-leaks .bar").count() == 10
        for chart in ("#chart-quarters", "#chart-leaks"):
            boxes = label_boxes(page, chart)
            assert 2 <= len(boxes) < 20, chart  # thinned: not every bar keeps its label
            for line in {b["y"] for b in boxes}:
                row = sorted((b for b in boxes if b["y"] == line), key=lambda b: b["x"])
                assert row[0]["x"] >= 0 and row[-1]["right"] <= 360, (chart, row)
                assert all(a["right"] <= b["x"] for a, b in zip(row, row[1:])), (chart, row)
            ticks = page.eval_on_selector_all(f"{chart} svg > text", "ts => ts.map(t => t.getBBox().x)")
            assert ticks and min(ticks) >= 0, chart  # "12,500" is not cut off at the left
            label = page.get_attribute(f"{chart} svg", "aria-label")
            assert label is not None and "年度" in label
        assert len(visible_ids(page)) == 1000
        assert page.text_content("#count").startswith("1,000 件中 1,000 件を表示")
        page.select_option("#category", "誤支給")
        assert 0 < len(visible_ids(page)) < 1000
    finally:
        page.close()
