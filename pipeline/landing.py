"""``index.html``: the package's landing page, in Japanese first and English.

What the data is, the period, the licence and how to credit it, the
downloads with size and sha256, the data dictionary generated from the
Table Schemas, how to load it (pandas, curl), when it was last updated; three
charts (incidents per quarter, by category, personal-data leaks by month
discovered) and a searchable, sortable table of the incidents; schema.org
``Dataset`` JSON-LD for search engines.

The page's size does not grow with the archive (about 0.8 MB at 100k incidents):

- the page is made from a :class:`~pipeline.digest.Digest` of the tables, not
  from the tables: a summary of bounded size that a build folds part by part,
  so that no step holds every row (the page is the same, byte for byte,
  wherever the parts end);
- the charts are aggregates computed by Arrow (``group_by`` on each part's
  incidents, summed by the digest, never a Python loop over the rows). The
  incidents chart has one bar per report period up to MAX_BARS (12) periods,
  else one per fiscal year (年度, April to March), so it always covers the
  whole archive; the leaks chart counts by month discovered, or by fiscal
  quarter or fiscal year, whichever first gives at most MAX_BARS bars. At most MAX_SERIES (5)
  categories are drawn: with more, the top four and the rest summed;
- the searchable table holds at most TABLE_LIMIT (1,000) incidents, the
  newest by date discovered (then incident_id), newest first, and the source
  reports list at most REPORT_LIMIT (100), the newest by period; a note in
  Japanese and English says how many of how many and points to the
  downloads. A package within the limits (the bundled seed) shows every
  row, in the published order.

One self-contained file: the CSS and JS in ``pipeline/assets/`` are inlined,
the chart data is embedded as JSON and drawn as SVG by that small script; no
CDN, font or request leaves the page, so it works opened from disk and from
any static host. Everything comes from the data and the configuration (no
clock), so it rebuilds byte for byte.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa
import pyarrow.compute as pc

# Digest and the limits are re-exported: the build and the tests take them from here.
from .digest import REPORT_COLUMNS, REPORT_LIMIT, TABLE_COLUMNS, TABLE_LIMIT, Digest  # noqa: F401
from .portal import CATALOG_JSONLD, CATALOG_TTL, CKAN_JSON, DESCRIPTOR, LANDING, Download, Portal, table_titles, write_text
from .schema import TABLES, TableSchema

ASSETS = Path(__file__).resolve().parent / "assets"
TYPE_LABELS = {"string": "文字列 string", "integer": "整数 integer", "number": "数値 number",
               "boolean": "真偽 boolean", "date": "日付 date (YYYY-MM-DD)"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_BARS = 12  # bars of a time chart before a coarser unit (fiscal quarter, fiscal year) is used
MAX_SERIES = 5  # categories drawn by name (one colour each); the last sums the rest when there are more


def period_labels(start: date, end: date) -> tuple[str, str]:
    """2024年4〜6月 / Apr–Jun 2024 (a report's period)."""
    if start.year == end.year:
        ja = f"{start.year}年{start.month}〜{end.month}月"
        en = f"{MONTHS_EN[start.month - 1]}–{MONTHS_EN[end.month - 1]} {end.year}"
    else:
        ja = f"{start.year}年{start.month}月〜{end.year}年{end.month}月"
        en = f"{MONTHS_EN[start.month - 1]} {start.year}–{MONTHS_EN[end.month - 1]} {end.year}"
    return ja, en


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def fiscal_year(day: date) -> int:
    """Japan's fiscal year (年度): April to March, named by the year it starts in."""
    return day.year if day.month >= 4 else day.year - 1


def _bucket(year: int, month: int, unit: str) -> tuple[int, int]:
    """The first month of the month, fiscal quarter or fiscal year (年度) a month falls in."""
    if unit == "month":
        return year, month
    if unit == "quarter":
        return year, month - (month - 1) % 3
    return (year, 4) if month >= 4 else (year - 1, 4)


def _bucket_label(year: int, month: int, unit: str) -> str:
    if unit == "month":
        return f"{year}-{month:02d}"
    if unit == "quarter":
        last = month + 2
        return period_labels(date(year, month, 1), date(year + (last - 1) // 12, (last - 1) % 12 + 1, 1))[0]
    return f"{year}年度"


def _timeline(periods: tuple[tuple[date, date], ...]) -> tuple[str, list[tuple[int, int]]]:
    """The unit (month, fiscal quarter, fiscal year) that gives the leaks chart at most
    MAX_BARS bars over the reports' span (fiscal years if none does), and each bar's first month."""
    if not periods:
        return "month", []
    first, last = periods[0][0], max(end for _, end in periods)
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for unit in ("month", "quarter", "fiscal_year"):
        buckets = list(dict.fromkeys(_bucket(y, m, unit) for y, m in months))
        if len(buckets) <= MAX_BARS:
            break
    return unit, buckets


def _ranked_categories(categories: pa.Table) -> list[tuple[str, int]]:
    """Each category with its count, most frequent first (then by name), from the digest's
    counts per report period and category."""
    grouped = categories.group_by("category").aggregate([("count", "sum")])
    pairs = zip(grouped.column("category").to_pylist(), grouped.column("count_sum").to_pylist())
    return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))


def _series(ranked: list[tuple[str, int]]) -> tuple[list[str], dict[str, int]]:
    """The categories drawn by name (at most MAX_SERIES, the last summing the rest when there
    are more) and, for every category, the index of the series it counts in."""
    if len(ranked) <= MAX_SERIES:
        names = [c for c, _ in ranked]
    else:
        names = [c for c, _ in ranked[:MAX_SERIES - 1]] + [f"上記以外（{len(ranked) - MAX_SERIES + 1}種）"]
    return names, {c: min(i, len(names) - 1) for i, (c, _) in enumerate(ranked)}


def _quarters(categories: pa.Table, periods: tuple[tuple[date, date], ...], names: list[str],
              series: dict[str, int]) -> list[dict[str, Any]]:
    """Incidents per report period by category; per fiscal year when there are more than
    MAX_BARS periods, so that the bars stay readable and still cover the whole archive."""
    keys = ("report_period_start", "category", "count")
    counts: dict[date, list[int]] = {}
    for start, category, n in zip(*(categories.column(k).to_pylist() for k in keys)):
        counts.setdefault(start, [0] * len(names))[series[category]] += n
    bars: list[tuple[str, str, list[int]]] = []
    if chart_units(periods)[0] == "quarter":
        for start, end in periods:
            bars.append((*period_labels(start, end), counts.get(start, [0] * len(names))))
    else:
        years: dict[int, list[int]] = {}
        for start in sorted({start for start, _ in periods}):
            total = years.setdefault(fiscal_year(start), [0] * len(names))
            for i, n in enumerate(counts.get(start, ())):
                total[i] += n
        bars = [(f"{year}年度", f"FY{year}", numbers) for year, numbers in years.items()]
    return [{"label": ja, "label_en": en, "total": sum(numbers), "counts": numbers} for ja, en, numbers in bars]


def _leaks(months: pa.Table, periods: tuple[tuple[date, date], ...]) -> list[dict[str, Any]]:
    """Leaks by month discovered (by fiscal quarter or year over longer spans): incidents,
    persons, and how many of them did not say how many persons; from the digest's counts
    per month discovered."""
    unit, buckets = _timeline(periods)
    totals = {b: [0, 0, 0] for b in buckets}
    names = ("year", "month", "count", "persons", "unknown")
    for year, month, n, persons, unknown in zip(*(months.column(k).to_pylist() for k in names)):
        if year is not None and (bucket := _bucket(year, month, unit)) in totals:  # as before: the span's months only
            total = totals[bucket]
            total[0], total[1], total[2] = total[0] + n, total[1] + persons, total[2] + unknown
    return [{"label": _bucket_label(y, m, unit), "count": n, "persons": persons, "unknown": unknown}
                  for (y, m), (n, persons, unknown) in totals.items()]


def chart_data(digest: Digest, periods: tuple[tuple[date, date], ...]) -> dict[str, Any]:
    """The three charts' numbers (pure; the page's script only draws them), from the digest's
    aggregates: a million incidents cost a few group-bys, not a Python loop per row."""
    ranked = _ranked_categories(digest.categories)
    names, series = _series(ranked)
    by_category = [0] * len(names)
    for category, n in ranked:
        by_category[series[category]] += n
    return {"categories": names, "quarters": _quarters(digest.categories, periods, names, series),
            "by_category": [{"label": c, "count": n} for c, n in zip(names, by_category)],
            "leaks": _leaks(digest.leaks, periods)}


def chart_units(periods: tuple[tuple[date, date], ...]) -> tuple[str, str]:
    """The time unit of the quarters chart ("quarter" or "fiscal_year") and of the leaks
    chart ("month", "quarter" or "fiscal_year"): the page's captions follow them."""
    return ("quarter" if len(periods) <= MAX_BARS else "fiscal_year"), _timeline(periods)[0]


def dictionary(schemas: dict[str, TableSchema], digest: Digest) -> list[dict[str, Any]]:
    """Per table: each field's name, title, type, description and an example (from the
    schema, else the first value published, which the digest keeps)."""
    out = []
    for name in TABLES:
        schema = schemas[name]
        ja, en = table_titles(name, None)
        fields = []
        for f in schema.fields:
            example = f.get("example")
            if example in (None, ""):
                example = digest.example(name, f["name"])
            fields.append({
                "name": f["name"], "title": f.get("title", ""), "type": TYPE_LABELS.get(f["type"], f["type"]),
                "description": f.get("description", ""),
                "example": _display(example),
                "required": bool(f.get("constraints", {}).get("required")),
            })
        out.append({"name": name, "title_ja": ja, "title_en": en, "fields": fields,
                    "primary_key": schema.primary_key})
    return out


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def schema_org(portal: Portal, schemas: dict[str, TableSchema]) -> dict[str, Any]:
    """schema.org ``Dataset`` for search engines (Google Dataset Search reads it)."""
    organization = {"@type": "GovernmentOrganization", "name": portal.publisher, "url": portal.publisher_url}
    place = {"@type": "Place", "name": f"{portal.prefecture}{portal.municipality_name}",
             "identifier": portal.municipality_code,
             "sameAs": f"http://data.e-stat.go.jp/lod/sac/C{portal.municipality_code[:5]}"}
    variables = [
        {"@type": "PropertyValue", "name": f["name"], "alternateName": f.get("title", ""),
         "description": f.get("description", ""), "propertyID": f"{table}.{f['name']}"}
        for table in TABLES for f in schemas[table].fields
    ]
    return {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": portal.base_url + "#dataset",
        "name": portal.title_ja,
        "alternateName": portal.title_en,
        "description": f"{portal.description_ja}\n\n{portal.description_en}".strip(),
        "url": portal.landing_url,
        "identifier": portal.identifier,
        "version": portal.version,
        "keywords": list(portal.keywords),
        "inLanguage": "ja",
        "isAccessibleForFree": True,
        "license": portal.licence_url,
        "creditText": portal.attribution,
        "creator": organization,
        "publisher": organization,
        "datePublished": portal.issued.isoformat(),
        "dateModified": portal.modified.isoformat(),
        "temporalCoverage": f"{portal.period_start.isoformat()}/{portal.period_end.isoformat()}",
        "spatialCoverage": place,
        "distribution": [
            {"@type": "DataDownload", "name": f.title_en, "contentUrl": f.url, "encodingFormat": f.mediatype,
             "contentSize": f"{f.bytes} B", "sha256": f.sha256}
            for f in portal.downloads
        ],
        "variableMeasured": variables,
        "includedInDataCatalog": {"@type": "DataCatalog", "name": f"{portal.title_ja} データカタログ",
                                  "url": portal.url(CATALOG_TTL)},
    }


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no "</" can close it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=_display)
    return text.replace("<", "\\u003c")  # "<" only occurs inside strings, where \u003c means the same


def _downloads(portal: Portal) -> list[dict[str, Any]]:
    return [
        {"path": f.path, "title_ja": f.title_ja, "title_en": f.title_en, "format": f.format.upper(),
         "bytes": f.bytes, "size": human_size(f.bytes), "sha256": f.sha256, "rows": f.rows}
        for f in portal.downloads
    ]


def _rows(table: pa.Table) -> list[dict[str, str]]:
    return [{k: _display(v) for k, v in r.items()} for r in table.to_pylist()]


def context(portal: Portal, digest: Digest, schemas: dict[str, TableSchema]) -> dict[str, Any]:
    """What the template shows. Its size is bounded whatever the package's: the charts are
    aggregates, the incident table holds at most TABLE_LIMIT incidents (the newest by date
    discovered, then incident_id) and the source reports at most REPORT_LIMIT (the newest by
    period); a small package, like the bundled seed, shows every row in the table's order."""
    shown = _rows(digest.shown().select(list(TABLE_COLUMNS)))
    listed = _rows(digest.listed().select(list(REPORT_COLUMNS)))
    csv: dict[str, Download] = {f.table: f for f in portal.downloads if f.format == "csv" and f.table}
    period_ja, period_en = period_labels(portal.period_start, portal.period_end)
    charts = chart_data(digest, portal.periods)
    in_table: dict[str, int] = {}
    for r in shown:
        in_table[r["category"]] = in_table.get(r["category"], 0) + 1
    quarter_unit, leak_unit = chart_units(portal.periods)
    return {
        "p": portal,
        "period": {"start": portal.period_start.isoformat(), "end": portal.period_end.isoformat(),
                   "ja": period_ja, "en": period_en},
        "counts": {"incidents": digest.count("incidents"), "reports": digest.count("reports"),
                   "leaks": pc.sum(digest.leaks.column("count"), min_count=0).as_py(),
                   "persons_leaked": pc.sum(digest.leaks.column("persons"), min_count=0).as_py(),
                   "shown": len(shown), "listed": len(listed)},
        "incidents": shown,
        "reports": listed,
        "categories": sorted(in_table, key=lambda c: (-in_table[c], c)),
        "units": {"quarters": quarter_unit, "leaks": leak_unit},
        "charts_json": script_json(charts),
        "schema_org_json": script_json(schema_org(portal, schemas)),
        "downloads": _downloads(portal),
        "dictionary": dictionary(schemas, digest),
        "csv_url": {table: f.url for table, f in csv.items()},
        "csv_sha": {table: f.sha256 for table, f in csv.items()},
        "metadata_files": [
            (CATALOG_TTL, "DCAT-AP 3（Turtle）", "DCAT-AP 3 catalog (Turtle)"),
            (CATALOG_JSONLD, "DCAT-AP 3（JSON-LD）", "DCAT-AP 3 catalog (JSON-LD)"),
            (CKAN_JSON, "CKAN package_create 用 JSON", "CKAN package_create JSON"),
            (DESCRIPTOR, "Frictionless Data Package", "Frictionless Data Package descriptor"),
        ],
        "css": (ASSETS / "landing.css").read_text(encoding="utf-8"),
        "js": (ASSETS / "landing.js").read_text(encoding="utf-8"),
    }


def render(portal: Portal, digest: Digest, schemas: dict[str, TableSchema]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS), autoescape=True, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = "{:,}".format  # 100,000
    return env.get_template("index.html.j2").render(**context(portal, digest, schemas))


def write_landing_page(folder: Path, portal: Portal, digest: Digest, schemas: dict[str, TableSchema]) -> None:
    """``index.html`` from the portal facts and the digest of the tables (see Digest.of, merge)."""
    write_text(folder, LANDING, render(portal, digest, schemas))
