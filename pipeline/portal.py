"""The facts every portal file is made from: one place for URLs, dates, titles and files.

A build writes, beside ``datapackage.json``, the files portals and people read:
``catalog.ttl`` and ``catalog.jsonld`` (DCAT-AP 3, :mod:`pipeline.dcat`),
``ckan-package.json`` (:mod:`pipeline.ckan`) and ``index.html``
(:mod:`pipeline.landing`). They all derive from :class:`Portal`, built here from
the published descriptor, the distinct report periods (:func:`periods_of` of the
reports table, or a build's digest of it, which never holds every row) and the
``x_pipeline`` settings:

- ``base_url``: where the package folder is served; every download URL is
  ``base_url`` + the file's path in the package, and the landing page is
  ``base_url`` itself (``index.html``).
- ``issued`` / ``modified`` (``YYYY-MM-DD``): when the dataset was first
  published and last updated. When not set, the end of the earliest and of
  the latest report's period (the data is current as of that day), so the
  files never depend on the clock and rebuild byte for byte.
- ``contact``: optional ``{"name", "email", "url"}`` for the contact point;
  by default the publisher's name and homepage.

These files are not resources of ``datapackage.json``: they describe the
package, including the descriptor's own size and sha256, so listing them
there would make each depend on the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from .config import ConfigError

CATALOG_TTL = "catalog.ttl"
CATALOG_JSONLD = "catalog.jsonld"
CKAN_JSON = "ckan-package.json"
LANDING = "index.html"
DESCRIPTOR = "datapackage.json"

# Tables' names in Japanese and English, unless the Table Schema gives a title/description.
TABLE_TITLES = {
    "reports": ("報告", "Reports"),
    "incidents": ("事案", "Incidents"),
    "measures": ("再発防止策", "Prevention measures"),
    "figures": ("概要の数値", "Figures from the summaries"),
}
FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet", "json": "JSON"}


@dataclass(frozen=True)
class Download:
    """One published file with what a portal needs to offer it."""

    name: str  # the resource name in datapackage.json (or "datapackage")
    path: str  # relative to the package folder
    url: str
    format: str  # csv, parquet, json
    mediatype: str
    bytes: int
    sha256: str
    table: str | None  # the table it holds; None for datapackage.json
    rows: int | None
    title_ja: str
    title_en: str


@dataclass(frozen=True)
class Portal:
    base_url: str
    identifier: str  # ASCII: the package name, also the CKAN name
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    keywords: tuple[str, ...]
    version: str
    publisher: str
    publisher_url: str
    contact_name: str
    contact_email: str
    contact_url: str
    municipality_code: str
    municipality_name: str
    prefecture: str
    licence_url: str
    licence_title: str
    licence_id: str
    compatible_url: str  # CC BY 4.0, which PDL1.0 is compatible with
    attribution: str
    issued: date
    modified: date
    period_start: date
    period_end: date
    periods: tuple[tuple[date, date], ...]  # each report's period, in order
    downloads: tuple[Download, ...]

    @property
    def landing_url(self) -> str:
        return self.base_url

    def url(self, relative: str) -> str:
        return self.base_url + relative


def check_base_url(value: Any) -> str:
    """An absolute http(s) URL ending in ``/`` (added when missing)."""
    text = str(value or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"x_pipeline.base_url must be the absolute http(s) URL the package folder is served from, got {text!r}"
        )
    return text if text.endswith("/") else text + "/"


def _date_option(options: dict[str, Any], key: str, default: date) -> date:
    value = options.get(key)
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"x_pipeline.{key} must be a date YYYY-MM-DD, got {value!r}") from None


def split_languages(text: str) -> tuple[str, str]:
    """The description's Japanese and English paragraphs (a paragraph of ASCII only is English)."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    english = [p for p in paragraphs if p.isascii()]
    japanese = [p for p in paragraphs if not p.isascii()]
    return "\n\n".join(japanese), "\n\n".join(english)


def table_titles(table: str, schema: dict[str, Any] | None = None) -> tuple[str, str]:
    ja, en = TABLE_TITLES.get(table, (table, table))
    if schema:
        ja = schema.get("title", ja)
        en = schema.get("x_title_en", en)
    return ja, en


def _download(resource: dict[str, Any], base_url: str) -> Download:
    table = resource.get("x_table", resource["name"])
    ja, en = table_titles(table)
    label = FORMAT_LABELS.get(resource["format"], resource["format"])
    return Download(
        name=resource["name"],
        path=resource["path"],
        url=base_url + resource["path"],
        format=resource["format"],
        mediatype=resource["mediatype"],
        bytes=int(resource["bytes"]),
        sha256=str(resource["hash"]).removeprefix("sha256:"),
        table=table,
        rows=resource.get("rows", resource.get("x_rows")),
        title_ja=f"{ja}（{label}）",
        title_en=f"{en} ({label})",
    )


def descriptor_download(data: bytes, base_url: str) -> Download:
    return Download(
        name="datapackage",
        path=DESCRIPTOR,
        url=base_url + DESCRIPTOR,
        format="json",
        mediatype="application/json",
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        table=None,
        rows=None,
        title_ja="データパッケージ記述（datapackage.json）",
        title_en="Data Package descriptor (datapackage.json)",
    )


def periods_of(reports: pa.Table) -> tuple[tuple[date, date], ...]:
    """The distinct report periods, in order: one per quarter however many municipalities
    report it (Arrow finds them, so thousands of reports cost no Python loop)."""
    keys = ["report_period_start", "report_period_end"]
    distinct = reports.select(keys).group_by(keys).aggregate([])
    return tuple(sorted(zip(distinct.column(keys[0]).to_pylist(), distinct.column(keys[1]).to_pylist())))


def _publisher(metadata: dict[str, Any]) -> tuple[str, str]:
    for contributor in metadata.get("contributors", []):
        if contributor.get("role") == "publisher":
            return str(contributor.get("title", "")), str(contributor.get("path", ""))
    return str(metadata["municipality"]["name"]), str(metadata.get("homepage", ""))


def portal_facts(descriptor: dict[str, Any], descriptor_bytes: bytes, periods: tuple[tuple[date, date], ...],
                 options: dict[str, Any]) -> Portal:
    """Everything the portal files say, from the published descriptor, the distinct report
    periods in order (as :func:`periods_of` gives them: the facts need nothing else of the
    rows, so a build passes them without holding the reports table) and the settings."""
    if "base_url" not in options:
        raise ConfigError("datapackage.json: set x_pipeline.base_url, the URL the package folder is served from")
    base_url = check_base_url(options["base_url"])
    periods = tuple(periods)
    if not periods:
        raise ConfigError("no report period: nothing to describe")
    licences = descriptor.get("licenses", [])
    if not licences:
        raise ConfigError("datapackage.json: licenses is empty")
    main, compatible = licences[0], (licences[1] if len(licences) > 1 else licences[0])
    publisher, publisher_url = _publisher(descriptor)
    contact = options.get("contact", {}) or {}
    description_ja, description_en = split_languages(descriptor.get("description", ""))
    muni = descriptor["municipality"]
    downloads = [_download(r, base_url) for r in descriptor.get("resources", [])]
    downloads.append(descriptor_download(descriptor_bytes, base_url))
    return Portal(
        base_url=base_url,
        identifier=str(descriptor["name"]),
        title_ja=str(descriptor["title"]),
        title_en=str(descriptor.get("x_title_en", descriptor["title"])),
        description_ja=description_ja or str(descriptor.get("description", "")),
        description_en=description_en or str(descriptor.get("x_title_en", "")),
        keywords=tuple(descriptor.get("keywords", [])),
        version=str(descriptor.get("version", "")),
        publisher=publisher,
        publisher_url=publisher_url,
        contact_name=str(contact.get("name", publisher)),
        contact_email=str(contact.get("email", "")),
        contact_url=str(contact.get("url", publisher_url)),
        municipality_code=str(muni["code"]),
        municipality_name=str(muni["name"]),
        prefecture=str(muni.get("prefecture", "")),
        licence_url=str(main["path"]),
        licence_title=str(main.get("title", main.get("name", ""))),
        licence_id=str(main.get("name", "")),
        compatible_url=str(compatible["path"]),
        attribution=str(descriptor.get("x_attribution", "")),
        issued=_date_option(options, "issued", periods[0][1]),
        modified=_date_option(options, "modified", max(end for _, end in periods)),
        period_start=min(start for start, _ in periods),
        period_end=max(end for _, end in periods),
        periods=periods,
        downloads=tuple(downloads),
    )


def write_text(folder: Path, name: str, text: str) -> None:
    """UTF-8, ``\\n`` line ends, a final newline: the same bytes on every platform."""
    if not text.endswith("\n"):
        text += "\n"
    (folder / name).write_text(text, encoding="utf-8", newline="\n")
