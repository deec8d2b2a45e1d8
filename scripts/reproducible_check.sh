#!/usr/bin/env bash
# Two builds of the bundled report, in different folders, with different hash seeds and no
# cache, must be byte-identical, and equal to the committed outputs/. Prints the checksums.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build() {  # seed, workers, folder; the build's own output is shown only when it fails
    if ! PYTHONHASHSEED=$1 .venv/bin/pipeline build --no-cache --workers "$2" --out "$3" >"$tmp/log" 2>&1; then
        cat "$tmp/log" >&2; echo "reproducibility check failed: the build itself failed" >&2; exit 1
    fi
}
build 1 1 "$tmp/first"
build 2 2 "$tmp/second"
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); }
sums "$tmp/first" > "$tmp/first.sha256"
sums "$tmp/second" > "$tmp/second.sha256"
sums outputs > "$tmp/committed.sha256"
cat "$tmp/first.sha256"
if ! diff -u "$tmp/first.sha256" "$tmp/second.sha256"; then
    echo "reproducibility check failed: two builds differ" >&2; exit 1
fi
if ! diff -u "$tmp/committed.sha256" "$tmp/first.sha256"; then
    echo "reproducibility check failed: outputs/ is not what the code builds (run make build and commit it)" >&2; exit 1
fi
echo "reproducible: two builds are byte-identical and equal to the committed outputs/ ($(wc -l < "$tmp/first.sha256") files)"
