"""What does CKAN's DCAT harvester read from our catalog? (run by ckan_harvest_check.sh)

Runs inside a virtual environment that has ``ckan`` and ``ckanext-dcat``
(not the project's). Parses the package's ``catalog.ttl`` and
``catalog.jsonld`` with ``ckanext.dcat.processors.RDFParser`` and the
``euro_dcat_ap_3`` profile, as the DCAT RDF harvester does, once as an
English-locale CKAN and once as a Japanese one with a licence list that
has PDL1.0 (as Japanese portals do). Prints what CKAN read and checks it
against the package itself (datapackage.json, the files and their sha256).

Usage: python scripts/ckan_harvest_check.py PACKAGE_FOLDER
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SHA256 = "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
FAILURES: list[str] = []


def check(condition: bool, what: str) -> None:
    if not condition:
        FAILURES.append(what)
        print(f"  FAIL: {what}")


def extras(dataset: dict[str, Any]) -> dict[str, str]:
    return {e["key"]: e["value"] for e in dataset.get("extras", [])}


def parse(catalog: Path, rdf_format: str) -> list[dict[str, Any]]:
    from ckanext.dcat.processors import RDFParser

    parser = RDFParser(profiles=["euro_dcat_ap_3"])
    parser.parse(catalog.read_text(encoding="utf-8"), _format=rdf_format)
    return list(parser.datasets())


def expected_files(folder: Path) -> dict[str, tuple[int, str]]:
    """path -> (bytes, sha256) for every file the catalog must offer, from the files themselves."""
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    paths = [r["path"] for r in descriptor["resources"]] + ["datapackage.json"]
    out = {}
    for path in paths:
        data = (folder / path).read_bytes()
        out[path] = (len(data), hashlib.sha256(data).hexdigest())
    return out


def show(dataset: dict[str, Any]) -> None:
    from ckan.lib.munge import munge_title_to_name

    ex = extras(dataset)
    print(f"  title:       {dataset.get('title')}")
    print(f"  name CKAN would derive from the title: {munge_title_to_name(dataset.get('title', ''))!r}")
    print(f"  identifier:  {ex.get('identifier')}   uri: {ex.get('uri')}")
    print(f"  licence:     license_id={dataset.get('license_id')!r}")
    print(f"  temporal:    {ex.get('temporal_start')} .. {ex.get('temporal_end')}   issued {ex.get('issued')}  modified {ex.get('modified')}")
    print(f"  publisher:   {ex.get('publisher_name')} ({ex.get('publisher_type')})   spatial: {ex.get('spatial_uri')}")
    print(f"  tags:        {', '.join(sorted(t['name'] for t in dataset.get('tags', [])))}")
    print(f"  resources:   {len(dataset.get('resources', []))}")
    for r in sorted(dataset.get("resources", []), key=lambda r: r.get("url", "")):
        algorithm = "sha256" if r.get("hash_algorithm") == SHA256 else r.get("hash_algorithm")
        print(f"    {r.get('url', '').rsplit('/', 1)[-1]:<22} {r.get('format', '').rsplit('/', 1)[-1]:<8} "
              f"{r.get('size', ''):>6} B  {algorithm}:{r.get('hash', '')}  {r.get('name', '')}")


def verify(dataset: dict[str, Any], folder: Path, title: str, licence_id: str) -> None:
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    ex = extras(dataset)
    check(dataset.get("title") == title, f"title is {dataset.get('title')!r}, expected {title!r}")
    check(ex.get("identifier") == descriptor["name"], f"identifier is {ex.get('identifier')!r}")
    check(str(ex.get("identifier", "")).isascii(), "the identifier is not ASCII")
    check(dataset.get("license_id") == licence_id, f"license_id is {dataset.get('license_id')!r}, expected {licence_id!r}")
    with (folder / "data" / "reports.csv").open(encoding="utf-8-sig", newline="") as handle:
        reports = list(csv.DictReader(handle))
    start = min(r["report_period_start"] for r in reports)
    end = max(r["report_period_end"] for r in reports)
    check((ex.get("temporal_start"), ex.get("temporal_end")) == (start, end),
          f"temporal {ex.get('temporal_start')}..{ex.get('temporal_end')}, expected {start}..{end}")
    check(bool(ex.get("issued")) and bool(ex.get("modified")), "issued/modified missing")
    tags = {t["name"] for t in dataset.get("tags", [])}
    check(set(descriptor.get("keywords", [])) <= tags, f"keywords missing from tags: {set(descriptor['keywords']) - tags}")
    files = expected_files(folder)
    resources = {r.get("download_url", "").removeprefix(dataset["url"]): r for r in dataset.get("resources", [])}
    check(set(resources) == set(files), f"resources {sorted(resources)} differ from the files {sorted(files)}")
    licence_url = descriptor["licenses"][0]["path"]
    for path, (size, digest) in files.items():
        r = resources.get(path)
        if r is None:
            continue
        check(r.get("size") == size, f"{path}: size {r.get('size')} != {size}")
        check(r.get("hash") == digest, f"{path}: hash {r.get('hash')} != {digest}")
        check(r.get("hash_algorithm") == SHA256, f"{path}: hash algorithm {r.get('hash_algorithm')}")
        check(r.get("license") == licence_url, f"{path}: licence {r.get('license')}")
        check(bool(r.get("name")) and bool(r.get("format")) and bool(r.get("mimetype")), f"{path}: name/format/mimetype missing")


def main(folder: Path) -> int:
    from ckan.common import config
    from ckan.lib.munge import munge_title_to_name

    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    licence = descriptor["licenses"][0]
    with tempfile.TemporaryDirectory() as tmp:
        # a Japanese portal's licence list: PDL1.0 is on it (CKAN's default list has no PDL)
        licences = Path(tmp) / "licenses.json"
        licences.write_text(json.dumps([{"id": licence["name"], "title": licence["title"], "url": licence["path"],
                                         "od_conformance": "approved"}]), encoding="utf-8")
        runs = [
            ("en", None, descriptor.get("x_title_en", descriptor["title"]), ""),
            ("ja", f"file://{licences}", descriptor["title"], licence["name"]),
        ]
        for locale, licence_list, title, licence_id in runs:
            config["ckan.locale_default"] = locale
            config["licenses_group_url"] = licence_list or ""
            for name, rdf_format in (("catalog.ttl", "turtle"), ("catalog.jsonld", "json-ld")):
                print(f"== {name} as a CKAN with locale {locale!r}"
                      f"{' and a licence list with ' + licence['name'] if licence_list else ' and its default licence list'}")
                datasets = parse(folder / name, rdf_format)
                check(len(datasets) == 1, f"{name}: {len(datasets)} datasets, expected 1")
                if datasets:
                    show(datasets[0])
                    verify(datasets[0], folder, title, licence_id)
                    derived = munge_title_to_name(datasets[0].get("title", ""))
                    if locale == "en":
                        check(len(derived.strip("-_")) >= 8, f"name from the English title is {derived!r}")
                    else:
                        print(f"  note: a harvester with locale {locale!r} names the dataset {derived!r} from the "
                              f"Japanese title; give it the ASCII identifier {descriptor['name']!r} instead "
                              "(ckan-package.json and `pipeline publish` do)")
    if FAILURES:
        print(f"\nckan harvest check FAILED: {len(FAILURES)} problem(s)")
        return 1
    print("\nckan harvest check passed: CKAN (ckanext-dcat, euro_dcat_ap_3) read the title, every file "
          "with its size and sha256, and the licence")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
