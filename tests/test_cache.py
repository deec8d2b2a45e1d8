"""The cache keeps one version of the pipeline's results: what another version left, which
no key can ask for again, goes when a run finds no other using the cache, and so do
the packs only it pointed into (cache.in_use, cache.prune)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline import cache as cache_store
from pipeline import process
from pipeline.build import Options, check
from pipeline.config import Config
from pipeline.readers import read_report

from .conftest import SEED


@pytest.fixture()
def archive(tmp_path: Path, make_report: Callable[..., Path]) -> Path:
    """The seed and two earlier quarters made from it."""
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(SEED, folder)
    for i, quarter in enumerate(["2023年4月～6月", "2023年7月～9月"]):
        month = 4 + 3 * i
        report = make_report(f"q{i}.txt", title=f"事務処理誤り等に関する対応状況 【{quarter}判明分】",
                             cells={(r, 1): f"2023.{month}.1 (2023.{month}.2)" for r in range(7)})
        shutil.move(report, folder / report.name)
    return folder


def entries(cache: Path) -> list[tuple[str, str | None, str | None]]:
    with contextlib.closing(sqlite3.connect(cache / cache_store.INDEX)) as index:
        return sorted(index.execute("SELECT key, version, pack FROM results").fetchall())


def packs(cache: Path) -> set[str]:
    return {path.name.removesuffix(".sha256") for path in (cache / cache_store.PACKS).glob("*.sha256")}


def test_an_update_of_the_pipeline_leaves_one_versions_results(archive: Path, tmp_path: Path, config: Config,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    check([archive], config, Options(cache_dir=cache))
    before, old_packs = entries(cache), packs(cache)
    assert len(before) == 3 and {pack for _, _, pack in before} == old_packs  # each entry points into its pack
    assert {version for _, version, _ in before} == {process.code_version()}
    check([archive], config, Options(cache_dir=cache))  # the same version: nothing goes
    assert entries(cache) == before and packs(cache) == old_packs

    monkeypatch.setattr(process, "code_version", lambda: "another version")
    seen: list[process.Processed] = []
    check([archive], config, Options(cache_dir=cache, progress=seen.append))
    assert not any(p.cached for p in seen)
    after = entries(cache)
    assert len(after) == 3 and {version for _, version, _ in after} == {"another version"}
    assert packs(cache) and not packs(cache) & old_packs  # the old packs are gone, files and all
    assert not [p for p in (cache / cache_store.PACKS).iterdir() if any(old in p.name for old in old_packs)]


def test_a_pack_no_entry_points_to_goes_once_it_is_a_day_old(archive: Path, tmp_path: Path, config: Config) -> None:
    """A pack no entry points to, with no other version's entry that did, was left by a
    stopped run, or is being written by a run from before the lock: only an old one goes."""
    cache = tmp_path / "cache"
    check([archive], config, Options(cache_dir=cache))
    used = packs(cache)
    folder = cache / cache_store.PACKS
    for stray in ("batch-young", "batch-old"):
        for table in ("reports", "incidents"):
            (folder / f"{stray}-{table}.arrow").write_bytes(b"records")
    (folder / "batch-old.sha256.tmp").write_bytes(b"{}")
    a_week_ago = time.time() - 7 * 24 * 3600
    for path in [*folder.glob("batch-old*"), *(p for pack in used for p in folder.glob(f"{pack}*"))]:  # the packs in use are old too
        os.utime(path, (a_week_ago, a_week_ago))
    with cache_store.in_use(cache, process.code_version()):
        pass
    left = {path.name for path in folder.iterdir()}
    assert {"batch-young-reports.arrow", "batch-young-incidents.arrow"} <= left
    assert not any(name.startswith("batch-old") for name in left)
    assert packs(cache) == used and all(any(name.startswith(pack) for name in left) for pack in used)


def test_nothing_is_removed_while_another_run_uses_the_cache(archive: Path, tmp_path: Path, config: Config) -> None:
    """A run of another version (an update installed while a build runs) waits its turn:
    what the running build looks up and reads stays until no run holds the cache."""
    cache = tmp_path / "cache"
    check([archive], config, Options(cache_dir=cache))
    before, mine = entries(cache), packs(cache)
    with cache_store.in_use(cache, process.code_version()):  # the running build
        with cache_store.in_use(cache, "another version"):
            assert entries(cache) == before and packs(cache) == mine
    with cache_store.in_use(cache, "another version"):  # alone now
        assert entries(cache) == [] and packs(cache) == set()


def test_an_index_from_before_the_stamps_is_brought_up_to_date(tmp_path: Path) -> None:
    """Its entries have no version: none is this one's, so they go."""
    (tmp_path / cache_store.PACKS).mkdir()
    with contextlib.closing(sqlite3.connect(tmp_path / cache_store.INDEX)) as old, old:
        old.execute("PRAGMA journal_mode=WAL")
        old.execute("CREATE TABLE results (key TEXT PRIMARY KEY, payload BLOB NOT NULL)")
        old.execute("INSERT INTO results VALUES ('k', x'00')")
    with cache_store.in_use(tmp_path, "this version"):
        index = cache_store.open_index(tmp_path, "this version")
        assert index.connection is not None and index.empty  # a first build of this version looks nothing up
        index.put([cache_store.Entry("new", b"result", "batch-1", 0)])
        index.close()
    assert entries(tmp_path) == [("new", "this version", "batch-1")]


def test_a_killed_check_s_spool_in_the_cache_goes_once_a_day_old(tmp_path: Path, config: Config) -> None:
    """check() spools into the cache folder and removes its spool when it ends; a killed
    run cannot, and the next run that holds the cache alone removes it once a day old.
    A younger one, or a folder that is not a spool, stays; the run's own spool goes."""
    cache = tmp_path / "cache"
    killed, young, other = cache / "pipeline-spool-killed", cache / "pipeline-spool-young", cache / "notes"
    for folder in (killed, young, other):
        (folder / "batch-1").mkdir(parents=True)
    a_week_ago = time.time() - 7 * 24 * 3600
    for folder in (killed, other):
        os.utime(folder, (a_week_ago, a_week_ago))
    assert check([SEED], config, Options(cache_dir=cache)).reports
    assert not killed.exists() and young.exists() and other.exists()
    assert sorted(p.name for p in cache.glob("pipeline-spool-*")) == [young.name]  # its own spool is gone too


def test_the_layout_before_the_index_goes_once_a_day_old(tmp_path: Path) -> None:
    """Versions before the index kept each result as <key>.pickle in the cache folder."""
    key, other = "ab" * 32, "cd" * 32
    old = [tmp_path / f"{key}.pickle", tmp_path / f".{key}.123.tmp"]
    young = [tmp_path / f"{other}.pickle"]
    left_alone = [tmp_path / "notes.pickle", tmp_path / "keep" / f"{key}.pickle"]
    (tmp_path / "keep").mkdir()
    for path in old + young + left_alone:
        path.write_bytes(b"result")
    a_week_ago = time.time() - 7 * 24 * 3600
    for path in old + left_alone:
        os.utime(path, (a_week_ago, a_week_ago))
    with cache_store.in_use(tmp_path, "this version"):
        pass
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in young + left_alone)


def test_an_entry_leaves_its_profile_out_and_is_read_with_the_run_s(config: Config) -> None:
    """The profile is a third of a result: an entry holds None in its place, and is read
    back with the profile of the run reading it."""
    written = dataclasses.replace(config.profile, name="profile-left-out-目印")
    report = read_report(SEED, written)
    result = process.Processed(report.file, report, None, [])
    entry = cache_store.entry_of(result)
    assert "目印".encode() not in entry and "目印".encode() in pickle.dumps(result)
    reading = dataclasses.replace(config.profile, name="the-reading-run-s")
    loaded = cache_store.loaded_entry(entry, reading)
    assert loaded.report.profile is reading
    assert dataclasses.replace(loaded.report, profile=written) == report
    assert loaded.name == result.name and loaded.problems == []
