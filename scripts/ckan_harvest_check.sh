#!/usr/bin/env bash
# Does CKAN's own DCAT harvester read the catalog we publish?
#
# Installs ckan and ckanext-dcat into their own virtual environment (the ckan
# wheel declares no dependencies, so CKAN's pinned requirements.txt is taken
# from its sdist; psycopg2 is left out: parsing needs no database), builds the
# package into a temporary folder (or takes the folder given), and parses its
# catalog.ttl and catalog.jsonld with ckanext.dcat.processors.RDFParser,
# profile euro_dcat_ap_3, printing and checking what CKAN read.
#
# Usage: scripts/ckan_harvest_check.sh [PACKAGE_FOLDER]
# Env:   CKAN_CHECK_VENV (default .cache/ckan-check-venv), PYTHON (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."

CKAN_VERSION=2.12.0
CKANEXT_DCAT_VERSION=2.4.4
VENV=${CKAN_CHECK_VENV:-.cache/ckan-check-venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.installed-ckan-$CKAN_VERSION-dcat-$CKANEXT_DCAT_VERSION"

if [ ! -f "$STAMP" ]; then
    echo "installing ckan $CKAN_VERSION and ckanext-dcat $CKANEXT_DCAT_VERSION into $VENV ..."
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    log="$work/pip.log"
    if ! {
        "$VENV/bin/python" -m pip install --quiet --upgrade pip &&
        "$VENV/bin/python" -m pip download --quiet --no-deps --no-binary :all: "ckan==$CKAN_VERSION" -d "$work" &&
        tar -xzf "$work/ckan-$CKAN_VERSION.tar.gz" -C "$work" "ckan-$CKAN_VERSION/requirements.txt" &&
        grep -v -i '^psycopg2' "$work/ckan-$CKAN_VERSION/requirements.txt" > "$work/requirements.txt" &&
        "$VENV/bin/python" -m pip install --quiet -r "$work/requirements.txt" \
            "ckan==$CKAN_VERSION" "ckanext-dcat==$CKANEXT_DCAT_VERSION"
    } >"$log" 2>&1; then
        grep -v '^WARNING: Location' "$log" | tail -30 >&2
        echo "ckan harvest check: could not install ckan/ckanext-dcat" >&2
        exit 1
    fi
    touch "$STAMP"
fi

folder=${1:-}
if [ -z "$folder" ]; then
    if [ ! -x .venv/bin/pipeline ]; then
        echo "ckan harvest check: .venv/bin/pipeline is missing; run 'make build' or 'make test' first" >&2
        exit 2
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp" ${work:+"$work"}' EXIT
    folder="$tmp/package"
    .venv/bin/pipeline build --out "$folder" --lang en >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
    echo "built the package into $folder"
fi

"$VENV/bin/python" scripts/ckan_harvest_check.py "$folder"
