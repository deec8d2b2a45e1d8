"""Screenshot of the landing page for the README: docs/landing-page.png.

Opens the index.html of a built package (default: outputs/) from disk in
Debian's headless chromium (Playwright drives it) and saves the top of the
page: header, key facts, the three charts and the incident table. Run it
after a change to the page (`make screenshot`); the PNG is kept in docs/,
never in outputs/ (which must rebuild byte for byte).

Usage: .venv/bin/python scripts/landing_screenshot.py [PACKAGE_FOLDER] [OUT.png]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def main(folder: Path, out: Path, width: int = 1280, height: int = 2000) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto((folder / "index.html").resolve().as_uri())
        page.wait_for_selector("#chart-leaks svg")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else ROOT / "outputs", Path(args[1]) if len(args) > 1 else ROOT / "docs" / "landing-page.png")
