"""Shared test helpers: the real seed report, a CLI runner, reports made from the seed."""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "data" / "raw" / "jimu-shori-ayamari-2024q1.txt"
SHARED = ROOT.parent / "shared"


def takes_o_direct(folder: Path) -> bool:
    """Whether files in `folder` take O_DIRECT here (not on tmpfs before Linux 6.6, say):
    opened so, and 4096 bytes (the tests' smallest block) written so from a page-aligned
    buffer, as O_DIRECT needs. Some file systems open a file so, then refuse the write."""
    if not getattr(os, "O_DIRECT", 0):
        return False
    probe = folder / ".direct-probe"
    page = mmap.mmap(-1, 4096)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
        try:
            return os.write(fd, page) == len(page)
        finally:
            os.close(fd)
    except OSError:
        return False
    finally:
        page.close()
        probe.unlink(missing_ok=True)


class OsWithWrite:
    """The os module as pipeline.disk_file sees it, with a write of the test's own (os
    itself is left alone): monkeypatch.setattr(disk_file, "os", OsWithWrite(write))."""

    def __init__(self, write: Callable[[int, memoryview], int]) -> None:
        self.write = write

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(ROOT)


@pytest.fixture(scope="session")
def seed_package(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Path:
    """The seed built once for the session; tests that change a package copy it first."""
    from pipeline.build import build

    out = tmp_path_factory.mktemp("seed") / "package"
    outcome = build([SEED], config, out)
    assert outcome.ok and outcome.published == out
    return out


@pytest.fixture()
def published(tmp_path: Path, seed_package: Path) -> Path:
    """A folder holding a good package, which a failing build must leave as it is."""
    import shutil

    out = tmp_path / "published"
    shutil.copytree(seed_package, out)
    return out


@pytest.fixture(scope="session")
def seed_lines() -> list[str]:
    """The seed report's lines: title at index 2, header at 4, incidents from 5."""
    return SEED.read_text(encoding="utf-8").split("\n")


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its sha256: equal digests mean an untouched folder."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the CLI from the project root, as the README's commands do (messages in English)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture()
def make_report(tmp_path: Path, seed_lines: list[str]) -> Callable[..., Path]:
    """Write a report made from the seed: replace rows (by index from 0) or cells, or the title."""

    def write(
        name: str = "report.txt",
        cells: dict[tuple[int, int], str] | None = None,
        title: str | None = None,
        rows: list[int] | None = None,
        extra: list[str] | None = None,
        encoding: str = "utf-8",
    ) -> Path:
        lines = list(seed_lines)
        body = [line.split("\t") for line in lines[5:] if line.strip()]
        for (row, col), value in (cells or {}).items():
            body[row][col] = value
        if rows is not None:
            body = [body[i] for i in rows]
        if title is not None:
            lines[2] = title
        text = "\n".join(lines[:5] + ["\t".join(r) for r in body] + (extra or [])) + "\n"
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path

    return write


def forget_cached(cache: Path, step: int) -> int:
    """Delete every `step`-th result (in key order) from the cache's index; how many."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(cache / "index.sqlite")) as index, index:
        keys = [key for (key,) in index.execute("SELECT key FROM results ORDER BY key")][::step]
        index.executemany("DELETE FROM results WHERE key = ?", [(key,) for key in keys])
    assert keys
    return len(keys)
