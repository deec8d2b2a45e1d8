"""The DCAT catalog: conforms to the DCAT-AP 3.0.1 SHACL shapes in ../shared, and says true things.

The shapes are read from ``../shared/dcat-ap-3.0.1/`` beside the project and
validated with pyshacl, no inference (its README, defect 3: RDFS inference
makes a conforming catalog fail). Its two other known defects are handled as
the README says: the checksum-algorithm pattern wants ``https://spdx.org``
while SPDX terms are ``http://`` (defect 1), so exactly those results are
excused and the algorithm is checked here; ``sh:shape`` written for
``sh:node`` leaves dataset dates unchecked (defect 2), so the dates are
checked here. A second run with both corrected in memory must conform
outright.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS as DCT
from rdflib.namespace import RDF

from pipeline.build import build
from pipeline.config import Config, ConfigError
from pipeline.portal import check_base_url

from .conftest import SEED, SHARED

SHAPES_DIR = SHARED / "dcat-ap-3.0.1"
SHAPE_FILES = ("shapes.ttl", "range.ttl", "shapes_recommended.ttl", "mdr-vocabularies.shape.ttl", "deprecateduris.ttl")
SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")  # open namespace (the closed one warns under pytest)
SHA256 = SPDX.checksumAlgorithm_sha256
DATE_TYPES = {XSD.date, XSD.dateTime, XSD.gYear, XSD.gYearMonth}


@pytest.fixture(scope="module")
def package(seed_package: Path) -> Path:
    return seed_package


@pytest.fixture(scope="module")
def catalog(package: Path) -> Graph:
    return Graph().parse(package / "catalog.ttl", format="turtle")


@pytest.fixture(scope="module")
def shapes() -> Graph:
    if not SHAPES_DIR.is_dir():
        pytest.fail(f"the DCAT-AP 3.0.1 shapes are missing: expected them in {SHAPES_DIR}")
    graph = Graph()
    for name in SHAPE_FILES:
        graph.parse(SHAPES_DIR / name, format="turtle")
    return graph


def corrected(shapes: Graph) -> Graph:
    """The shapes with defects 1 and 2 fixed (in memory; the shared files stay as they are)."""
    fixed = Graph()
    for s, p, o in shapes:
        if p == SH.pattern and str(o) == "^https://spdx.org/rdf/terms":
            o = Literal("^http://spdx.org/rdf/terms#")
        if p == SH.shape:
            p = SH.node
        fixed.add((s, p, o))
    return fixed


def results(data: Graph, shapes: Graph) -> list[tuple[str, str, str, str]]:
    """Top-level results as (severity, focus node, path, value); nested details left out."""
    _, report, _ = validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    out = []
    for r in report.objects(None, SH.result):
        out.append((str(report.value(r, SH.resultSeverity)).rsplit("#", 1)[-1], str(report.value(r, SH.focusNode)),
                    str(report.value(r, SH.resultPath)), str(report.value(r, SH.value))))
    return sorted(out)


def distributions(catalog: Graph) -> list[URIRef]:
    return sorted(catalog.subjects(RDF.type, DCAT.Distribution))


def expected_warning(result: tuple[str, str, str, str], catalog: Graph) -> bool:
    """Warnings a Japanese municipality cannot avoid: its publisher is not in the EU
    corporate-body table, its place not in an EU place table, and no geometry is given."""
    _, focus, path, value = result
    publisher = catalog.value(URIRef(focus), DCT.publisher) if path == str(DCT.publisher) else None
    if path == str(DCT.publisher) and str(publisher) == value:
        return True
    if path == str(DCT.spatial) and value.startswith("http://data.e-stat.go.jp/lod/sac/C"):
        return True
    return path in (str(DCAT.bbox), str(DCAT.centroid)) and (URIRef(focus), RDF.type, DCT.Location) in catalog


def test_catalog_conforms_to_the_shared_dcat_ap_shapes(catalog: Graph, shapes: Graph) -> None:
    found = results(catalog, shapes)
    violations = [r for r in found if r[0] == "Violation"]
    # defect 1 only: one result per checksum, on its (correct) SPDX sha256 algorithm IRI
    checksums = {str(c) for c in catalog.subjects(RDF.type, SPDX.Checksum)}
    assert {(f, p, v) for _, f, p, v in violations} == {(c, str(SPDX.algorithm), str(SHA256)) for c in checksums}
    assert len(violations) == len(distributions(catalog)) == 13
    warnings = [r for r in found if r[0] == "Warning"]
    assert [w for w in warnings if not expected_warning(w, catalog)] == []
    assert [r for r in found if r[0] not in ("Violation", "Warning")] == []


def test_catalog_conforms_outright_once_the_known_defects_are_corrected(catalog: Graph, shapes: Graph) -> None:
    conforms, _, text = validate(catalog, shacl_graph=corrected(shapes), inference="none", allow_warnings=True)
    assert conforms, text


def test_a_broken_catalog_does_not_conform(catalog: Graph, shapes: Graph) -> None:
    broken = Graph()
    for triple in catalog:
        broken.add(triple)
    dataset = next(broken.subjects(RDF.type, DCAT.Dataset))
    broken.remove((dataset, DCT.title, None))
    first = distributions(broken)[0]
    broken.set((first, DCAT.byteSize, Literal("3 KB")))
    broken.set((dataset, DCT.issued, Literal("June 2024")))
    found = {(f, p) for severity, f, p, _ in results(broken, corrected(shapes)) if severity == "Violation"}
    assert (str(dataset), str(DCT.title)) in found
    assert (str(first), str(DCAT.byteSize)) in found
    assert (str(dataset), str(DCT.issued)) in found  # caught once defect 2 is corrected


def test_checksums_sizes_and_urls_match_the_published_files(package: Path, catalog: Graph) -> None:
    """Defect 1 means the shapes cannot check the algorithm: check it, and the values, here."""
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    base = json.loads((package / "ckan-package.json").read_text(encoding="utf-8"))["url"]
    offered = {}
    for node in distributions(catalog):
        url = str(catalog.value(node, DCAT.downloadURL))
        assert url.startswith(base) and catalog.value(node, DCAT.accessURL) == URIRef(url)
        checksum = catalog.value(node, SPDX.checksum)
        assert catalog.value(checksum, SPDX.algorithm) == SHA256
        value = catalog.value(checksum, SPDX.checksumValue)
        assert value.datatype == XSD.hexBinary
        size = catalog.value(node, DCAT.byteSize)
        assert size.datatype == XSD.nonNegativeInteger
        offered[url.removeprefix(base)] = (int(size), str(value))
    files = [r["path"] for r in descriptor["resources"]] + ["datapackage.json"]
    assert sorted(offered) == sorted(files)
    for path in files:
        data = (package / path).read_bytes()
        assert offered[path] == (len(data), hashlib.sha256(data).hexdigest()), path


def test_formats_are_iana_and_eu_file_types(catalog: Graph) -> None:
    seen = set()
    for node in distributions(catalog):
        media = str(catalog.value(node, DCAT.mediaType))
        file_type = str(catalog.value(node, DCT["format"]))
        assert media.startswith("https://www.iana.org/assignments/media-types/")
        assert file_type.startswith("http://publications.europa.eu/resource/authority/file-type/")
        seen.add((media.rsplit("media-types/", 1)[1], file_type.rsplit("/", 1)[1]))
    assert seen == {("text/csv", "CSV"), ("application/vnd.apache.parquet", "PARQUET"), ("application/json", "JSON")}


def test_dates_are_typed_and_come_from_the_data(package: Path, catalog: Graph) -> None:
    """Defect 2 means the shapes do not check dataset dates: check them here."""
    reports = json.loads((package / "data" / "reports.json").read_text(encoding="utf-8"))
    start = min(r["report_period_start"] for r in reports)
    end = max(r["report_period_end"] for r in reports)
    for kind in (DCAT.Catalog, DCAT.Dataset, DCAT.DatasetSeries):
        node = next(catalog.subjects(RDF.type, kind))
        for prop in (DCT.issued, DCT.modified):
            values = list(catalog.objects(node, prop))
            assert len(values) == 1 and values[0].datatype in DATE_TYPES, (kind, prop)
    dataset = next(catalog.subjects(RDF.type, DCAT.Dataset))
    assert str(catalog.value(dataset, DCT.modified)) == end  # no x_pipeline.modified: the latest period's end
    period = catalog.value(dataset, DCT.temporal)
    assert catalog.value(period, DCAT.startDate) == Literal(start, datatype=XSD.date)
    assert catalog.value(period, DCAT.endDate) == Literal(end, datatype=XSD.date)


def test_dataset_is_bilingual_in_a_series_with_an_ascii_identifier(package: Path, catalog: Graph) -> None:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    dataset = next(catalog.subjects(RDF.type, DCAT.Dataset))
    titles = {t.language: str(t) for t in catalog.objects(dataset, DCT.title)}
    assert titles == {"ja": descriptor["title"], "en": descriptor["x_title_en"]}
    descriptions = {d.language for d in catalog.objects(dataset, DCT.description)}
    assert descriptions == {"ja", "en"}
    for node in distributions(catalog):
        assert {t.language for t in catalog.objects(node, DCT.title)} == {"ja", "en"}
    assert str(catalog.value(dataset, DCT.identifier)) == descriptor["name"] and descriptor["name"].isascii()
    series = catalog.value(dataset, DCAT.inSeries)
    assert (series, RDF.type, DCAT.DatasetSeries) in catalog
    assert str(catalog.value(series, DCT.accrualPeriodicity)).endswith("/frequency/QUARTERLY")
    assert catalog.value(dataset, DCT.license) is None  # DCAT-AP puts the licence on each distribution
    licences = {str(catalog.value(d, DCT.license)) for d in distributions(catalog)}
    assert licences == {descriptor["licenses"][0]["path"]}


def test_turtle_and_jsonld_hold_the_same_graph(package: Path, catalog: Graph) -> None:
    jsonld = Graph().parse(package / "catalog.jsonld", format="json-ld")
    assert len(jsonld) == len(catalog) and isomorphic(jsonld, catalog)


def test_download_urls_follow_the_configured_base_url(tmp_path: Path, config: Config) -> None:
    moved = dataclasses.replace(config, options={**config.options, "base_url": "https://data.example.org/toyooka"})
    out = tmp_path / "package"
    assert build([SEED], moved, out).published == out
    graph = Graph().parse(out / "catalog.ttl", format="turtle")
    urls = [str(graph.value(d, DCAT.downloadURL)) for d in distributions(graph)]
    assert urls and all(u.startswith("https://data.example.org/toyooka/") for u in urls)
    assert "https://data.example.org/toyooka/data/incidents.csv" in urls
    ckan = json.loads((out / "ckan-package.json").read_text(encoding="utf-8"))
    assert {r["url"] for r in ckan["resources"]} == set(urls)


@pytest.mark.parametrize("bad", ["", "example.org/data/", "ftp://example.org/", "https://example.org/?q=1"])
def test_a_base_url_that_is_not_an_absolute_http_url_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        check_base_url(bad)
