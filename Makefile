# The two commands a data team and CI need:  make build  /  make test
# Everything is installed into .venv from constraints.txt (exact pins), so a
# fresh clone builds byte-identical outputs on any machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: build test clean-venv ckan-check screenshot reproducible

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/pipeline build

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Two builds (other hash seed, other workers, no cache) give the same bytes as outputs/
reproducible: $(STAMP)
	scripts/reproducible_check.sh

# Does CKAN's DCAT harvester (ckanext-dcat, profile euro_dcat_ap_3) read our catalog?
# Installs ckan into its own venv under .cache/ (first run: about a minute).
ckan-check: $(STAMP)
	scripts/ckan_harvest_check.sh

# docs/landing-page.png from outputs/ (needs Debian's chromium)
screenshot: $(STAMP)
	$(BIN)/python scripts/landing_screenshot.py outputs docs/landing-page.png

clean-venv:
	rm -rf $(VENV)
