"""The DCAT-AP 3 catalog of the package, built as an rdflib graph: Turtle and JSON-LD.

One ``dcat:Catalog`` with one ``dcat:Dataset`` (the package), which is part of
a ``dcat:DatasetSeries`` (the city's quarterly reports) and has one
``dcat:Distribution`` per published file: access and download URL, IANA
media type, EU file type, byte size and sha256 checksum, licence (PDL1.0)
and the credit line as ``dct:rights``.

Every node is an IRI under ``base_url`` (no blank nodes, so the files
rebuild byte for byte), titles and descriptions are in Japanese and English
with their language tags, and the controlled-vocabulary terms used (EU
language, file type, frequency, theme, country, access right, availability;
ADMS publisher and licence types) are typed and placed in their scheme, so
the DCAT-AP 3.0.1 SHACL shapes check them without fetching the
vocabularies. CKAN's DCAT harvester (``ckanext-dcat``, profile
``euro_dcat_ap_3``) reads it: see ``scripts/ckan_harvest_check.sh``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS as DCT
from rdflib.namespace import FOAF, RDF, RDFS, SKOS, XSD

from .portal import CATALOG_JSONLD, CATALOG_TTL, Download, Portal, write_text

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU = "http://publications.europa.eu/resource/authority/"
ADMS_TYPES = "http://purl.org/adms/"
IANA = "https://www.iana.org/assignments/media-types/"
ESTAT_SAC = "http://data.e-stat.go.jp/lod/sac/C"  # 統計に用いる標準地域コード (e-Stat LOD)
SHA256 = SPDX.checksumAlgorithm_sha256

PREFIXES = {
    "dcat": DCAT, "dct": DCT, "dcatap": DCATAP, "foaf": FOAF, "vcard": VCARD, "spdx": SPDX,
    "adms": ADMS, "skos": SKOS, "rdfs": RDFS, "xsd": XSD,
}
SCHEME_TITLES = {
    ADMS_TYPES + "publishertype/1.0": "ADMS publisher type",
    ADMS_TYPES + "licencetype/1.0": "ADMS licence type",
    EU + "language": "Languages (EU authority table)",
    EU + "file-type": "File types (EU authority table)",
    EU + "frequency": "Frequencies (EU authority table)",
    EU + "data-theme": "Data themes (EU authority table)",
    EU + "access-right": "Access rights (EU authority table)",
    EU + "planned-availability": "Planned availability (EU authority table)",
    EU + "country": "Countries (EU authority table)",
}
# EU file-type authority codes per published format
FILE_TYPES = {"csv": "CSV", "parquet": "PARQUET", "json": "JSON"}
FORMAT_NOTES = {
    "csv": ("UTF-8（BOM付き）、改行CRLF。Excel でもそのまま開けます。", "UTF-8 with a BOM, CRLF line ends; opens in Excel as is."),
    "parquet": ("型付きの列形式（zstd 圧縮）。", "Typed columnar format (zstd-compressed)."),
    "json": ("オブジェクトの配列（1行に1件）。", "An array of objects, one per line."),
}


def _ja_en(graph: Graph, node: URIRef, predicate: URIRef, ja: str, en: str) -> None:
    graph.add((node, predicate, Literal(ja, lang="ja")))
    if en:
        graph.add((node, predicate, Literal(en, lang="en")))


def _concept(graph: Graph, scheme: str, iri: str, label: str, *types: URIRef) -> URIRef:
    """A controlled-vocabulary term, typed and in its scheme, so the shapes can check it offline."""
    scheme_ref, concept = URIRef(scheme), URIRef(iri)
    graph.add((scheme_ref, RDF.type, SKOS.ConceptScheme))
    title = SCHEME_TITLES.get(scheme, scheme.rstrip("/").rsplit("/", 1)[-1])
    graph.add((scheme_ref, DCT.title, Literal(title, lang="en")))
    graph.add((concept, RDF.type, SKOS.Concept))
    for kind in types:
        graph.add((concept, RDF.type, kind))
    graph.add((concept, SKOS.inScheme, scheme_ref))
    graph.add((concept, SKOS.prefLabel, Literal(label, lang="en")))
    return concept


def _eu(graph: Graph, scheme: str, code: str, label: str, *types: URIRef) -> URIRef:
    """A term of an EU authority table (publications.europa.eu/resource/authority/…)."""
    return _concept(graph, EU + scheme, f"{EU}{scheme}/{code}", label, *types)


def _date(value: object) -> Literal:
    return Literal(str(value), datatype=XSD.date)


def _distribution(graph: Graph, portal: Portal, file: Download, licence: URIRef, rights: URIRef,
                  availability: URIRef) -> URIRef:
    node = URIRef(f"{portal.base_url}#distribution-{file.name}")
    url = URIRef(file.url)
    graph.add((node, RDF.type, DCAT.Distribution))
    _ja_en(graph, node, DCT.title, file.title_ja, file.title_en)
    note_ja, note_en = FORMAT_NOTES.get(file.format, ("", ""))
    if file.table is None:
        note_ja, note_en = ("ファイル一覧、表の定義（Table Schema）、sha256 を記したデータパッケージ記述。",
                            "Frictionless Data Package descriptor: the files, their Table Schemas and sha256.")
        graph.add((node, DCT.conformsTo, URIRef("https://specs.frictionlessdata.io/data-package/")))
        graph.add((URIRef("https://specs.frictionlessdata.io/data-package/"), RDF.type, DCT.Standard))
    rows_ja = f"{file.rows} 行。" if file.rows is not None else ""
    rows_en = f" {file.rows} rows." if file.rows is not None else ""
    _ja_en(graph, node, DCT.description, f"{rows_ja}{note_ja}", f"{note_en}{rows_en}".strip())
    graph.add((node, DCAT.accessURL, url))
    graph.add((node, DCAT.downloadURL, url))
    media = URIRef(IANA + file.mediatype)
    graph.add((media, RDF.type, DCT.MediaType))
    graph.add((node, DCAT.mediaType, media))
    file_type = _eu(graph, "file-type", FILE_TYPES[file.format], file.format.upper(), DCT.MediaTypeOrExtent)
    graph.add((node, DCT["format"], file_type))
    graph.add((node, DCAT.byteSize, Literal(str(file.bytes), datatype=XSD.nonNegativeInteger)))
    checksum = URIRef(f"{portal.base_url}#checksum-{file.name}")
    graph.add((checksum, RDF.type, SPDX.Checksum))
    graph.add((checksum, SPDX.algorithm, SHA256))
    graph.add((SHA256, RDF.type, SPDX.ChecksumAlgorithm))
    graph.add((checksum, SPDX.checksumValue, Literal(file.sha256, datatype=XSD.hexBinary)))
    graph.add((node, SPDX.checksum, checksum))
    graph.add((node, DCT.license, licence))
    graph.add((node, DCT.rights, rights))
    graph.add((node, DCATAP.availability, availability))
    graph.add((node, DCT.language, URIRef(EU + "language/JPN")))
    return node


def catalog_graph(portal: Portal) -> Graph:
    """The whole catalog as a graph (pure: the same Portal gives the same triples)."""
    g = Graph(bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        g.bind(prefix, namespace)
    base = portal.base_url
    catalog, dataset, series = URIRef(base + "#catalog"), URIRef(base + "#dataset"), URIRef(base + "#series")
    landing = URIRef(portal.landing_url)
    g.add((landing, RDF.type, FOAF.Document))

    # vocabularies
    japanese = _eu(g, "language", "JPN", "Japanese", DCT.LinguisticSystem)
    english = _eu(g, "language", "ENG", "English", DCT.LinguisticSystem)
    quarterly = _eu(g, "frequency", "QUARTERLY", "quarterly", DCT.Frequency)
    theme = _eu(g, "data-theme", "GOVE", "Government and public sector")
    public = _eu(g, "access-right", "PUBLIC", "public", DCT.RightsStatement)
    stable = _eu(g, "planned-availability", "STABLE", "stable")
    japan = _eu(g, "country", "JPN", "Japan", DCT.Location)
    local_authority = _concept(g, ADMS_TYPES + "publishertype/1.0", ADMS_TYPES + "publishertype/LocalAuthority",
                               "Local Authority")
    attribution_type = _concept(g, ADMS_TYPES + "licencetype/1.0", ADMS_TYPES + "licencetype/Attribution",
                                "Attribution")
    place = URIRef(ESTAT_SAC + portal.municipality_code[:5])
    g.add((place, RDF.type, DCT.Location))
    g.add((place, SKOS.prefLabel, Literal(f"{portal.prefecture}{portal.municipality_name}", lang="ja")))
    g.add((place, DCT.identifier, Literal(portal.municipality_code)))

    # agents, licence, rights
    publisher = URIRef(base + "#publisher")
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, RDF.type, FOAF.Organization))
    g.add((publisher, FOAF.name, Literal(portal.publisher, lang="ja")))
    g.add((publisher, DCT.type, local_authority))
    g.add((publisher, DCT.identifier, Literal(portal.municipality_code)))
    if portal.publisher_url:
        g.add((publisher, FOAF.homepage, URIRef(portal.publisher_url)))
        g.add((URIRef(portal.publisher_url), RDF.type, FOAF.Document))
    contact = URIRef(base + "#contact")
    g.add((contact, RDF.type, VCARD.Organization))
    g.add((contact, RDF.type, VCARD.Kind))
    g.add((contact, VCARD.fn, Literal(portal.contact_name, lang="ja")))
    if portal.contact_url:
        g.add((contact, VCARD.hasURL, URIRef(portal.contact_url)))
    if portal.contact_email:
        g.add((contact, VCARD.hasEmail, URIRef("mailto:" + portal.contact_email)))
    licence = URIRef(portal.licence_url)
    g.add((licence, RDF.type, DCT.LicenseDocument))
    g.add((licence, DCT.title, Literal(portal.licence_title)))
    g.add((licence, DCT.identifier, Literal(portal.licence_id)))
    g.add((licence, DCT.type, attribution_type))
    if portal.compatible_url != portal.licence_url:
        g.add((licence, RDFS.seeAlso, URIRef(portal.compatible_url)))
    rights = URIRef(base + "#rights")
    g.add((rights, RDF.type, DCT.RightsStatement))
    g.add((rights, RDFS.label, Literal(portal.attribution, lang="ja")))
    period = URIRef(base + "#period")
    g.add((period, RDF.type, DCT.PeriodOfTime))
    g.add((period, DCAT.startDate, _date(portal.period_start)))
    g.add((period, DCAT.endDate, _date(portal.period_end)))

    # catalog
    g.add((catalog, RDF.type, DCAT.Catalog))
    _ja_en(g, catalog, DCT.title, f"{portal.title_ja} データカタログ", f"{portal.title_en}: data catalog")
    _ja_en(g, catalog, DCT.description,
           f"{portal.publisher}の「事務処理誤り等に関する対応状況」をオープンデータとして公開するカタログです。",
           f"Catalog of the open data made from {portal.title_en}.")
    g.add((catalog, DCT.publisher, publisher))
    g.add((catalog, FOAF.homepage, landing))
    g.add((catalog, DCT.language, japanese))
    g.add((catalog, DCT.language, english))
    g.add((catalog, DCT.license, licence))
    g.add((catalog, DCT.issued, _date(portal.issued)))
    g.add((catalog, DCT.modified, _date(portal.modified)))
    g.add((catalog, DCT.spatial, japan))
    g.add((catalog, DCAT.themeTaxonomy, URIRef(EU + "data-theme")))
    g.add((catalog, DCAT.dataset, dataset))

    # the series of quarterly reports, and the dataset (this package) in it
    g.add((series, RDF.type, DCAT.DatasetSeries))
    _ja_en(g, series, DCT.title, f"{portal.title_ja}（四半期ごとの報告）", f"{portal.title_en} (quarterly reports)")
    _ja_en(g, series, DCT.description,
           f"{portal.publisher}が四半期ごとに公表する「事務処理誤り等に関する対応状況」の系列。",
           f"The quarterly reports {portal.publisher} publishes on clerical errors and their handling.")
    for node in (series, dataset):
        g.add((node, DCT.publisher, publisher))
        g.add((node, DCAT.contactPoint, contact))
        g.add((node, DCT.accrualPeriodicity, quarterly))
        g.add((node, DCT.spatial, japan))
        g.add((node, DCT.spatial, place))
        g.add((node, DCT.temporal, period))
        g.add((node, DCT.issued, _date(portal.issued)))
        g.add((node, DCT.modified, _date(portal.modified)))

    g.add((dataset, RDF.type, DCAT.Dataset))
    g.add((dataset, DCT.identifier, Literal(portal.identifier)))
    _ja_en(g, dataset, DCT.title, portal.title_ja, portal.title_en)
    _ja_en(g, dataset, DCT.description, portal.description_ja, portal.description_en)
    for keyword in portal.keywords:
        g.add((dataset, DCAT.keyword, Literal(keyword, lang="en" if keyword.isascii() else "ja")))
    g.add((dataset, DCAT.theme, theme))
    g.add((dataset, DCT.language, japanese))
    g.add((dataset, DCAT.landingPage, landing))
    g.add((dataset, DCAT.inSeries, series))
    g.add((dataset, DCT.accessRights, public))
    if portal.version:
        g.add((dataset, DCAT.version, Literal(portal.version)))
    for file in portal.downloads:
        g.add((dataset, DCAT.distribution, _distribution(g, portal, file, licence, rights, stable)))
    return g


def to_turtle(graph: Graph) -> str:
    return graph.serialize(format="turtle")


def to_jsonld(graph: Graph) -> str:
    """Compact JSON-LD with the same prefixes; nodes in IRI order so the bytes are stable."""
    context = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
    data = json.loads(graph.serialize(format="json-ld", context=context, auto_compact=True))
    nodes = data.get("@graph", [data])
    nodes = sorted(nodes, key=lambda node: node.get("@id", ""))
    for node in nodes:
        for key, value in node.items():
            if isinstance(value, list):
                node[key] = sorted(value, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    ordered = {"@context": data.get("@context", context), "@graph": nodes}
    return json.dumps(ordered, ensure_ascii=False, indent=2, sort_keys=True)


def write_catalog(folder: Path, portal: Portal) -> Graph:
    graph = catalog_graph(portal)
    write_text(folder, CATALOG_TTL, to_turtle(graph))
    write_text(folder, CATALOG_JSONLD, to_jsonld(graph))
    return graph
