"""``index.html``: the package's landing page, in Japanese first and English.

What the data is, the period, the licence and how to credit it, the
downloads with size and sha256, the data dictionary generated from the
Table Schemas, how to load it (pandas, curl), when it was last updated; three
charts (incidents per quarter, by category, personal-data leaks by month
discovered) and a searchable, sortable table of the incidents; schema.org
``Dataset`` JSON-LD for search engines.

One self-contained file: the CSS and JS in ``pipeline/assets/`` are inlined,
the chart data is embedded as JSON and drawn as SVG by that small script; no
CDN, font or request leaves the page, so it works opened from disk and from
any static host. Everything comes from the data and the configuration (no
clock), so it rebuilds byte for byte.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa

from .portal import CATALOG_JSONLD, CATALOG_TTL, CKAN_JSON, DESCRIPTOR, LANDING, Download, Portal, table_titles, write_text
from .schema import TABLES, TableSchema

ASSETS = Path(__file__).resolve().parent / "assets"
TYPE_LABELS = {"string": "文字列 string", "integer": "整数 integer", "number": "数値 number",
               "boolean": "真偽 boolean", "date": "日付 date (YYYY-MM-DD)"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


def _months(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def chart_data(incidents: list[dict[str, Any]], periods: tuple[tuple[date, date], ...]) -> dict[str, Any]:
    """The three charts' numbers (pure; the page's script only draws them)."""
    categories = [c for c, _ in sorted(Counter(r["category"] for r in incidents).items(), key=lambda kv: (-kv[1], kv[0]))]
    quarters = []
    for start, end in periods:
        rows = [r for r in incidents if r["report_period_start"] == start]
        ja, en = period_labels(start, end)
        counts = Counter(r["category"] for r in rows)
        quarters.append({"label": ja, "label_en": en, "total": len(rows),
                         "counts": [counts.get(c, 0) for c in categories]})
    by_category = [{"label": c, "count": sum(1 for r in incidents if r["category"] == c)} for c in categories]
    leaks = []
    if periods:
        for month in _months(periods[0][0], max(end for _, end in periods)):
            rows = [r for r in incidents if r["discovered_on"].isoformat()[:7] == month and r["personal_data_leaked"]]
            leaks.append({"label": month, "count": len(rows), "persons": sum(r["leaked_persons"] or 0 for r in rows),
                          "unknown": sum(1 for r in rows if r["leaked_persons"] is None)})
    return {"categories": categories, "quarters": quarters, "by_category": by_category, "leaks": leaks}


def dictionary(schemas: dict[str, TableSchema], tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
    """Per table: each field's name, title, type, description and an example (from the
    schema, else the first value published)."""
    out = []
    for name in TABLES:
        schema = schemas[name]
        ja, en = table_titles(name, None)
        fields = []
        for f in schema.fields:
            example = f.get("example")
            if example in (None, "") and name in tables and tables[name].num_rows:
                values = [v for v in tables[name].column(f["name"]).to_pylist() if v is not None]
                example = values[0] if values else ""
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


def context(portal: Portal, tables: dict[str, pa.Table], schemas: dict[str, TableSchema]) -> dict[str, Any]:
    incidents = tables["incidents"].to_pylist()
    reports = tables["reports"].to_pylist()
    csv: dict[str, Download] = {f.table: f for f in portal.downloads if f.format == "csv" and f.table}
    period_ja, period_en = period_labels(portal.period_start, portal.period_end)
    leaks = [r for r in incidents if r["personal_data_leaked"]]
    charts = chart_data(incidents, portal.periods)
    return {
        "p": portal,
        "period": {"start": portal.period_start.isoformat(), "end": portal.period_end.isoformat(),
                   "ja": period_ja, "en": period_en},
        "counts": {"incidents": len(incidents), "leaks": len(leaks), "reports": len(reports),
                   "persons_leaked": sum(r["leaked_persons"] or 0 for r in leaks)},
        "incidents": [{k: _display(v) for k, v in r.items()} for r in incidents],
        "reports": [{k: _display(v) for k, v in r.items()} for r in reports],
        "categories": charts["categories"],
        "charts_json": script_json(charts),
        "schema_org_json": script_json(schema_org(portal, schemas)),
        "downloads": _downloads(portal),
        "dictionary": dictionary(schemas, tables),
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


def render(portal: Portal, tables: dict[str, pa.Table], schemas: dict[str, TableSchema]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS), autoescape=True, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    return env.get_template("index.html.j2").render(**context(portal, tables, schemas))


def write_landing_page(folder: Path, portal: Portal, tables: dict[str, pa.Table], schemas: dict[str, TableSchema]) -> None:
    write_text(folder, LANDING, render(portal, tables, schemas))
