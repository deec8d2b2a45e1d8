"""The published ``datapackage.json``: the team's metadata plus one resource per file.

CSV files are tabular resources with their Table Schema, so ``frictionless
validate`` checks their content, row count, size and hash. Parquet and JSON
files are ``"type": "file"`` resources (frictionless 5 cannot read an empty
Parquet integer, and does not read JSON as a table): it checks their size and
hash, and ``pipeline verify`` checks their content against the same schema.
Their row count is ``x_rows``, since frictionless cannot count them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .readers import RawReport
from .schema import TableSchema
from .writers import FORMATS, MEDIA_TYPES, WrittenFile

SOURCES_LISTED = 1_000  # reports named one by one in `sources`; a larger archive's are in its reports table
FORMAT_TITLES = {"csv": "CSV (UTF-8 BOM, CRLF)", "parquet": "Parquet", "json": "JSON"}
TABLE_TITLES = {"reports": "報告 Reports", "incidents": "事案 Incidents", "measures": "再発防止策 Prevention measures",
                "figures": "数値 Figures"}
CSV_NOTE = (
    "CSV 版では、=、+、-、@、タブ、復帰 (CR) で始まる文字列のセルの先頭に ' を付けています"
    "（表計算ソフトが数式として実行しないための、OWASP の CSV インジェクション対策）。Parquet 版と JSON 版は原文のままです。"
    " In this CSV, a text cell beginning with =, +, -, @, a tab or a carriage return has a ' put in front"
    " (OWASP CSV-injection guidance), so that a spreadsheet shows it as text instead of running it as a formula;"
    " the Parquet and JSON files hold the exact text."
)


def resource(file: WrittenFile, schema: TableSchema) -> dict[str, Any]:
    name = file.table if file.format == "csv" else f"{file.table}_{file.format}"
    described: dict[str, Any] = {
        "name": name,
        "path": file.path,
        "title": f"{TABLE_TITLES.get(file.table, file.table)} ({FORMAT_TITLES[file.format]})",
        "format": file.format,
        "mediatype": MEDIA_TYPES[file.format],
        "bytes": file.bytes,
        "hash": f"sha256:{file.sha256}",
    }
    if file.format == "csv":
        described.update(
            {
                "type": "table",
                "description": CSV_NOTE,
                "encoding": "utf-8-sig",
                "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "header": True},
                "rows": file.rows,
                "schema": {k: v for k, v in schema.descriptor.items() if k not in ("title", "description")},
            }
        )
    else:
        described.update({"type": "file", "x_rows": file.rows, "x_table": file.table})
    return described


def descriptor(metadata: dict[str, Any], files: list[WrittenFile], schemas: dict[str, TableSchema], reports: list[RawReport],
               rejected: dict[str, int] | None = None) -> dict[str, Any]:
    """`rejected`: rows left out per source file (--keep-going), so a partial package says so.
    Each report is a source of its own up to SOURCES_LISTED; beyond, `sources` says how many
    there are and where they are listed (sources_in_table), then names again those of
    them that lost rows (their bytes are in the first entry's x_bytes too)."""
    rejected = rejected or {}
    package = {k: v for k, v in metadata.items() if not k.startswith("x_pipeline")}
    listed = reports if len(reports) <= SOURCES_LISTED else [r for r in reports if rejected.get(r.file)]
    package["sources"] = [] if listed is reports else [sources_in_table(reports, files)]
    for r in sorted(listed, key=lambda r: (r.period.start, r.file)):
        source: dict[str, Any] = {"title": f"{r.title} ({r.file})", "x_file": r.file, "x_bytes": r.bytes, "x_hash": f"sha256:{r.sha256}"}
        if rejected.get(r.file):
            source["x_rows_rejected"] = rejected[r.file]
        package["sources"].append(source)
    package["resources"] = [resource(f, schemas[f.table]) for f in files]
    return package


def sources_in_table(reports: list[RawReport], files: list[WrittenFile]) -> dict[str, Any]:
    """The one source standing for many reports: the `reports` table lists each (source_file,
    source_sha256); `path` is its file in the first of FORMATS written (the CSV), whatever
    the order of `files`. 66,680 reports listed here made a 20 MB datapackage.json, which
    every portal harvesting it and every tool opening it would have to read whole."""
    source: dict[str, Any] = {
        "title": f"報告 {len(reports):,} 件（各報告のファイル名と sha256 は reports 表の source_file と source_sha256）"
                 f" / {len(reports):,} reports, each listed in the reports table (source_file, source_sha256)",
        "x_reports": len(reports),
        "x_bytes": sum(r.bytes for r in reports),
    }
    listings = [f for f in files if f.table == "reports"]
    if listings:
        source["path"] = min(listings, key=lambda f: FORMATS.index(f.format)).path
    return source


def write_descriptor(package: dict[str, Any], folder: Path) -> None:
    text = json.dumps(package, ensure_ascii=False, indent=2) + "\n"
    (folder / "datapackage.json").write_text(text, encoding="utf-8", newline="\n")
