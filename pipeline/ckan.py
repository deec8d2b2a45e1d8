"""CKAN: a ``package_create``-ready JSON in the package, and publishing it with ckanapi.

``ckan-package.json`` holds the dataset as CKAN's action API takes it: name
(the ASCII package name), Japanese title and notes (English in extras),
licence, tags, the DCAT-AP fields ckanext-dcat uses as extras, and one
resource per published file with its URL, format, size and sha256.

``pipeline publish --ckan URL`` creates the dataset (or patches it when it
exists) and uploads each file, matching resources by name so that a second
run updates instead of duplicating. The API key is read from an environment
variable only; ``--dry-run`` shows every call that would be sent and sends
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .portal import CKAN_JSON, Portal, write_text
from .safety import inside, path_problem
from .writers import sha256_of

SHA256_IRI = "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
API_KEY_ENV = "CKAN_API_KEY"
FORMATS = {"csv": "CSV", "parquet": "Parquet", "json": "JSON"}


class PublishError(Exception):
    """The package cannot be published as it is (missing or altered files)."""


def package_dict(portal: Portal) -> dict[str, Any]:
    """The dataset as ``package_create`` takes it (owner_org is added at publish time)."""
    extras = {
        "uri": portal.base_url + "#dataset",
        "identifier": portal.identifier,
        "title_en": portal.title_en,
        "notes_en": portal.description_en,
        "issued": portal.issued.isoformat(),
        "modified": portal.modified.isoformat(),
        "temporal_start": portal.period_start.isoformat(),
        "temporal_end": portal.period_end.isoformat(),
        "frequency": "http://publications.europa.eu/resource/authority/frequency/QUARTERLY",
        "language": json.dumps(["http://publications.europa.eu/resource/authority/language/JPN"]),
        "theme": json.dumps(["http://publications.europa.eu/resource/authority/data-theme/GOVE"]),
        "spatial_uri": f"http://data.e-stat.go.jp/lod/sac/C{portal.municipality_code[:5]}",
        "spatial_text": f"{portal.prefecture}{portal.municipality_name}",
        "municipality_code": portal.municipality_code,
        "publisher_name": portal.publisher,
        "publisher_url": portal.publisher_url,
        "contact_name": portal.contact_name,
        "contact_url": portal.contact_url,
        "contact_email": portal.contact_email,
        "license_url": portal.licence_url,
        "attribution": portal.attribution,
    }
    resources = [
        {
            "name": f.title_ja,
            "description": f.title_en,
            "url": f.url,
            "format": FORMATS.get(f.format, f.format.upper()) if f.table else "JSON",
            "mimetype": f.mediatype,
            "size": f.bytes,
            "hash": f.sha256,
            "hash_algorithm": SHA256_IRI,
        }
        for f in portal.downloads
    ]
    package = {
        "name": portal.identifier,
        "title": portal.title_ja,
        "notes": f"{portal.description_ja}\n\n{portal.description_en}".strip(),
        "url": portal.landing_url,
        "version": portal.version,
        "license_id": portal.licence_id,
        "author": portal.publisher,
        "maintainer": portal.contact_name,
        "maintainer_email": portal.contact_email,
        "tags": [{"name": keyword} for keyword in portal.keywords],
        "extras": [{"key": k, "value": v} for k, v in extras.items() if v],
        "resources": resources,
    }
    return {k: v for k, v in package.items() if v not in ("", None)}


def local_path(package: dict[str, Any], resource: dict[str, Any]) -> str:
    """The file's path in the package: its URL less the package's base URL (the landing page)."""
    base, url = package["url"], resource["url"]
    relative = url[len(base):] if url.startswith(base) else ""
    if not relative or relative.startswith("/") or ".." in relative.split("/"):
        raise PublishError(f"{url}: not a file under the package's base URL {base}")
    return relative


def write_package(folder: Path, portal: Portal) -> dict[str, Any]:
    package = package_dict(portal)
    write_text(folder, CKAN_JSON, json.dumps(package, ensure_ascii=False, indent=2))
    return package


@dataclass(frozen=True)
class Call:
    """One action API call: what is sent, and the file uploaded with it, if any."""

    action: str
    data: dict[str, Any]
    upload: str | None = None  # path relative to the package folder
    note: str = ""


@dataclass
class Plan:
    calls: list[Call] = field(default_factory=list)

    def describe(self, folder: Path) -> list[dict[str, Any]]:
        out = []
        for call in self.calls:
            entry: dict[str, Any] = {"action": call.action, "data": call.data}
            if call.upload:
                entry["upload"] = {"file": str(folder / call.upload), "bytes": (folder / call.upload).stat().st_size}
            if call.note:
                entry["note"] = call.note
            out.append(entry)
        return out


def _resource_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """What is sent with an upload: CKAN sets the URL to the uploaded file."""
    return {k: v for k, v in resource.items() if k != "url"}


def plan_publish(package: dict[str, Any], existing: dict[str, Any] | None, owner_org: str | None) -> Plan:
    """The calls that make the portal's dataset match the package (pure: no I/O).

    `existing` is what ``package_show`` returned, or None when the dataset is new.
    Resources are matched by name: a resource of that name is updated with the
    new file, others are created. Resources the portal has and the package no
    longer lists are left alone (removing data is a person's decision).
    """
    fields = {k: v for k, v in package.items() if k != "resources"}
    if owner_org:
        fields["owner_org"] = owner_org
    plan = Plan()
    if existing is None:
        plan.calls.append(Call("package_create", fields, note="the dataset is new"))
    else:
        plan.calls.append(Call("package_patch", {"id": existing["id"], **fields}, note="the dataset exists: update it"))
    present = {r.get("name"): r for r in (existing or {}).get("resources", [])}
    for resource in package["resources"]:
        data = _resource_fields(resource)
        if resource["name"] in present:
            plan.calls.append(Call("resource_patch", {"id": present[resource["name"]]["id"], **data}, local_path(package, resource)))
        else:
            plan.calls.append(Call("resource_create", {"package_id": package["name"], **data}, local_path(package, resource)))
    return plan


def load_package(folder: Path) -> dict[str, Any]:
    """Read the folder's ckan-package.json and check every file is there as described."""
    path = folder / CKAN_JSON
    try:
        package = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PublishError(f"{path}: cannot read it ({exc}); build the package first") from None
    for resource in package.get("resources", []):
        relative = local_path(package, resource)
        file = inside(folder, relative)
        if file is None:
            raise PublishError(f"{relative}: {path_problem(folder, relative)[0]}; refusing to upload it")  # type: ignore[index]
        if not file.is_file():
            raise PublishError(f"{file}: missing; the package is incomplete")
        if file.stat().st_size != resource["size"] or sha256_of(file) != resource["hash"]:
            raise PublishError(f"{file}: size or sha256 differs from {CKAN_JSON}; rebuild the package")
    return package


def api_key(env: dict[str, str], name: str = API_KEY_ENV) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def execute(plan: Plan, folder: Path, call_action: Callable[..., Any]) -> list[Any]:
    """Send each call through `call_action(action, data_dict, files=...)` (ckanapi's)."""
    results = []
    for call in plan.calls:
        if call.upload:
            with (folder / call.upload).open("rb") as handle:
                results.append(call_action(call.action, call.data, files={"upload": handle}))
        else:
            results.append(call_action(call.action, call.data))
    return results


def publish(folder: Path, ckan_url: str, key: str, owner_org: str | None = None) -> Plan:
    """Create or update the dataset on the CKAN at `ckan_url` and upload the files."""
    from ckanapi import NotFound, RemoteCKAN

    package = load_package(folder)
    with RemoteCKAN(ckan_url, apikey=key, user_agent="jimu-pipeline (ckanapi)") as remote:
        try:
            existing = remote.call_action("package_show", {"id": package["name"]})
        except NotFound:
            existing = None
        plan = plan_publish(package, existing, owner_org)
        execute(plan, folder, remote.call_action)
    return plan
