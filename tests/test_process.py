"""Parallel workers and the per-report cache change nothing in what is published."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline import batch
from pipeline import cache as cache_store
from pipeline import cache_lookup
from pipeline import privacy_tables, process
from pipeline.build import Options, build, check
from pipeline.config import Config
from pipeline.sources import find_inputs

from .conftest import SEED, forget_cached, tree_digest

INVENTED = Path(__file__).resolve().parent / "fixtures" / "invented"
QUARTERS = ["2023年4月～6月", "2023年7月～9月", "2023年10月～12月", "2024年1月～3月", "令和5年1月～3月"]


@pytest.fixture()
def archive(tmp_path: Path, make_report: Callable[..., Path]) -> Path:
    """Seven reports: the seed, five earlier quarters made from it, and another city's workbook."""
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(SEED, folder)
    for i, quarter in enumerate(QUARTERS):
        year = int(quarter[:4]) if quarter[0] == "2" else 2023
        month = int(quarter.split("年")[1].split("月")[0])
        report = make_report(f"q{i}.txt", title=f"事務処理誤り等に関する対応状況 【{quarter}判明分】",
                             cells={(r, 1): f"{year}.{month}.1 ({year}.{month}.2)" for r in range(7)})
        shutil.move(report, folder / report.name)
    shutil.copytree(INVENTED / "kaku-shi", folder / "kaku-shi")
    return folder


def test_workers_give_the_same_package(archive: Path, tmp_path: Path, config: Config) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    first = build([archive], config, one, Options(workers=1))
    second = build([archive], config, two, Options(workers=2))
    assert first.ok and second.ok, [p.message() for p in first.problems + second.problems if p.severity == "error"]
    assert first.problems == second.problems
    assert first.rows["reports"] == 7
    assert tree_digest(one) == tree_digest(two)


def test_the_cache_is_used_and_changes_nothing(archive: Path, tmp_path: Path, config: Config) -> None:
    cache = tmp_path / "cache"
    seen: list[process.Processed] = []
    cold = build([archive], config, tmp_path / "cold", Options(cache_dir=cache, progress=seen.append))
    assert len(seen) == 7 and not any(p.cached for p in seen)
    seen.clear()
    warm = build([archive], config, tmp_path / "warm", Options(cache_dir=cache, progress=seen.append))
    assert len(seen) == 7 and all(p.cached for p in seen)
    assert warm.problems == cold.problems
    assert tree_digest(tmp_path / "cold") == tree_digest(tmp_path / "warm")


def test_only_the_changed_report_is_parsed_again(archive: Path, tmp_path: Path, config: Config) -> None:
    cache = tmp_path / "cache"
    check([archive], config, Options(cache_dir=cache))
    changed = archive / "q0.txt"
    changed.write_text(changed.read_text(encoding="utf-8").replace("誤って送付", "誤って発送"), encoding="utf-8")
    seen: list[process.Processed] = []
    outcome = check([archive], config, Options(cache_dir=cache, progress=seen.append))
    assert [p.name for p in seen if not p.cached] == ["q0.txt"]
    assert any("誤って発送" in r["summary"] for r in outcome.tables["incidents"].to_pylist())


def test_a_change_of_code_or_profile_invalidates_the_cache(archive: Path, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    check([archive], config, Options(cache_dir=cache))
    monkeypatch.setattr(process, "code_version", lambda: "another version")
    seen: list[process.Processed] = []
    check([archive], config, Options(cache_dir=cache, progress=seen.append))
    assert not any(p.cached for p in seen)


def test_a_change_of_the_table_schemas_invalidates_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached report's records are Arrow typed by the schemas: a schema changed, say a
    field's type, must not meet records typed by the old one."""
    from pipeline import schema

    shutil.copytree(schema.schema_dir(), tmp_path / "schema")
    monkeypatch.setattr(process, "schema_dir", lambda: tmp_path / "schema")
    process.code_version.cache_clear()
    try:
        before = process.code_version()
        changed = tmp_path / "schema" / "incidents.json"
        changed.write_text(changed.read_text(encoding="utf-8").replace('"integer"', '"number"', 1), encoding="utf-8")
        process.code_version.cache_clear()
        assert process.code_version() != before
    finally:
        process.code_version.cache_clear()


@pytest.mark.parametrize("damage", ["replace", "flip", "truncate", "not-a-database", "entries-flip", "entries-truncate", "entries-delete"])
def test_a_damaged_cache_entry_is_parsed_again(archive: Path, tmp_path: Path, config: Config, damage: str) -> None:
    import contextlib
    import random
    import sqlite3

    cache = tmp_path / "cache"
    expected = check([archive], config, Options(cache_dir=cache)).tables["incidents"]
    rng = random.Random(damage)
    if damage == "not-a-database":
        (cache / cache_store.INDEX).write_bytes(b"not a database" * 100)
    for kept in (cache / cache_store.PACKS).glob(f"*-{cache_store.ENTRIES}") if damage.startswith("entries") else []:
        data = bytearray(kept.read_bytes())  # the entries themselves, in their pack
        if damage == "entries-flip":
            for at in range(0, len(data), 512):  # an entry is over a KB: each gets one
                data[at] ^= 0xFF
            kept.write_bytes(bytes(data))
        elif damage == "entries-truncate":  # this archive's packs hold a report each
            kept.write_bytes(bytes(data[: len(data) - 1]))
        else:
            kept.unlink()
    with contextlib.closing(sqlite3.connect(cache / cache_store.INDEX)) as index, index:
        if damage in ("replace", "flip", "truncate"):
            for key, payload in index.execute("SELECT key, payload FROM results").fetchall():
                data = bytearray(payload)
                if damage == "replace":
                    data = bytearray(b"not a pickle")
                elif damage == "flip":
                    for _ in range(8):
                        data[rng.randrange(len(data))] ^= 0xFF
                else:
                    data = data[: len(data) // 2]
                index.execute("UPDATE results SET payload = ? WHERE key = ?", (bytes(data), key))
    seen: list[process.Processed] = []
    outcome = check([archive], config, Options(cache_dir=cache, progress=seen.append))
    assert outcome.ok and not any(p.cached for p in seen)
    assert outcome.tables["incidents"] == expected


def test_an_entry_is_kept_in_its_pack_and_the_index_says_where(archive: Path, tmp_path: Path, config: Config) -> None:
    """The index keeps each entry's sha256 and where it is in its pack's ENTRIES file, not
    the entry itself; the bytes there are the entry, and it reads back as the result."""
    import contextlib
    import hashlib
    import pickle
    import sqlite3

    cache = tmp_path / "cache"
    check([archive], config, Options(cache_dir=cache))
    with contextlib.closing(sqlite3.connect(cache / cache_store.INDEX)) as index:
        rows = index.execute("SELECT payload, pack, at, size FROM results").fetchall()
    assert len(rows) == 7
    for digest, pack, at, size in rows:
        assert len(digest) == 32 and pack and isinstance(at, int) and isinstance(size, int)
        entry = (cache / cache_store.PACKS / f"{pack}-{cache_store.ENTRIES}").read_bytes()[at : at + size]
        assert hashlib.sha256(entry).digest() == digest
        result = pickle.loads(entry)
        assert isinstance(result, process.Processed) and result.report is not None and result.report.profile is None  # the run gives its own


@pytest.mark.parametrize("damage", ["flip", "delete", "no-sums"])
def test_a_damaged_cache_pack_is_parsed_again(archive: Path, tmp_path: Path, config: Config, damage: str) -> None:
    """A batch's records are kept in a pack its reports' entries point into: a pack whose
    file was changed or lost is not used, and its reports are parsed again."""
    cache = tmp_path / "cache"
    expected = check([archive], config, Options(cache_dir=cache)).tables["incidents"]
    packs = sorted((cache / cache_store.PACKS).glob("*.sha256"))
    assert packs
    for sums in packs:
        incidents = Path(str(sums).removesuffix(".sha256") + "-incidents.arrow")
        if damage == "flip":
            data = bytearray(incidents.read_bytes())
            data[len(data) // 2] ^= 0xFF
            incidents.write_bytes(bytes(data))
        elif damage == "delete":
            incidents.unlink()
        else:
            sums.unlink()
    seen: list[process.Processed] = []
    outcome = check([archive], config, Options(cache_dir=cache, progress=seen.append))
    assert outcome.ok and seen and not any(p.cached for p in seen if p.report is not None)
    assert outcome.tables["incidents"] == expected


def test_an_index_damaged_inside_is_started_afresh(tmp_path: Path, config: Config) -> None:
    """Damage that shows only when the results are read (a page of the table overwritten)
    turns the cache off for the run, and the next run starts the index again."""
    from benchmarks.generate import generate

    generate(tmp_path / "raw", 600, municipalities=3, years=2, workers=1)
    cache = tmp_path / "cache"
    expected = check([tmp_path / "raw"], config, Options(cache_dir=cache)).tables["incidents"]
    index = cache / cache_store.INDEX
    data = bytearray(index.read_bytes())
    assert len(data) > 3 * 4096
    data[4096 : 3 * 4096] = b"\xff" * (2 * 4096)
    index.write_bytes(bytes(data))
    cached = []
    for _ in range(2):  # damaged: found out, parsed again and the index started afresh; then used
        seen: list[process.Processed] = []
        outcome = check([tmp_path / "raw"], config, Options(cache_dir=cache, progress=seen.append))
        assert outcome.ok and outcome.tables["incidents"] == expected
        cached.append([p.cached for p in seen if p.report is not None])
    assert not any(cached[0]) and all(cached[1])


def test_no_packs_are_written_when_the_index_cannot_be_used(archive: Path, tmp_path: Path, config: Config) -> None:
    """Packs nobody could find again would only fill the disk."""
    cache = tmp_path / "cache"
    (cache / cache_store.INDEX).mkdir(parents=True)  # a folder where the index would be
    outcome = check([archive], config, Options(cache_dir=cache))
    assert outcome.ok
    assert not (cache / cache_store.PACKS).exists()


def test_a_moved_cache_is_still_used(archive: Path, tmp_path: Path, config: Config) -> None:
    """Entries name their pack within the cache, not by where the cache was."""
    expected = check([archive], config, Options(cache_dir=tmp_path / "cache")).tables["incidents"]
    (tmp_path / "cache").rename(tmp_path / "moved")
    seen: list[process.Processed] = []
    outcome = check([archive], config, Options(cache_dir=tmp_path / "moved", progress=seen.append))
    assert outcome.ok and all(p.cached for p in seen if p.report is not None)
    assert outcome.tables["incidents"] == expected


def test_a_cache_that_cannot_be_written_is_skipped(archive: Path, tmp_path: Path, config: Config) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go", encoding="utf-8")
    outcome = build([archive], config, tmp_path / "out", Options(cache_dir=blocked / "reports"))
    assert outcome.ok and outcome.published == tmp_path / "out"


def test_the_order_of_a_profiles_columns_is_part_of_the_key(tmp_path: Path, config: Config) -> None:
    """The first column key listing a header wins it, so reordering keys can change the result."""
    import json

    city = tmp_path / "city"
    shutil.copytree(INVENTED / "kaku-shi", city)
    cache = tmp_path / "cache"
    check([city], config, Options(cache_dir=cache))
    profile = json.loads((city / "profile.json").read_text(encoding="utf-8"))
    profile["columns"] = dict(reversed(list(profile["columns"].items())))
    (city / "profile.json").write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    seen: list[process.Processed] = []
    check([city], config, Options(cache_dir=cache, progress=seen.append))
    assert not any(p.cached for p in seen)


def test_workers_give_the_same_package_for_a_synthetic_archive(tmp_path: Path, config: Config) -> None:
    """Many reports a batch, through the columnar path: one process or two, the same bytes."""
    from benchmarks.generate import generate

    generate(tmp_path / "raw", 1_500, municipalities=4, years=4, workers=1)
    one, two = tmp_path / "one", tmp_path / "two"
    first = build([tmp_path / "raw"], config, one, Options(workers=1))
    second = build([tmp_path / "raw"], config, two, Options(workers=2, cache_dir=tmp_path / "cache"))
    assert first.ok and second.ok
    assert first.problems == second.problems
    assert first.rows["incidents"] == 1_500
    assert tree_digest(one) == tree_digest(two)


def test_workers_write_their_records_into_the_spool(tmp_path: Path, config: Config) -> None:
    """With a spool folder, a worker writes its batch's records there itself, and each
    result says where its rows are: none of them comes through the parent."""
    import pyarrow as pa

    from benchmarks.generate import generate
    from pipeline.schema import TABLES
    from pipeline.sources import find_inputs
    from pipeline.spool import Spilled

    generate(tmp_path / "raw", 1_500, municipalities=4, years=4, workers=1)
    spool = tmp_path / "spool"
    spool.mkdir()
    results = list(process.iter_processed(find_inputs([tmp_path / "raw"]).inputs, config, workers=2, spool=spool))
    spilled = [r.normalized.arrow for r in results if r.normalized is not None]
    assert len(spilled) == len(results) > 4 and all(isinstance(s, Spilled) for s in spilled)
    chunks = {s.chunk for s in spilled}  # type: ignore[union-attr]
    assert len(chunks) > 1
    assert sorted(map(str, spool.iterdir())) == sorted(f"{c}-{t}.arrow" for c in chunks for t in TABLES)
    for result, rows in zip(results, spilled):
        assert isinstance(rows, Spilled) and result.report is not None
        incidents = pa.ipc.open_file(f"{rows.chunk}-incidents.arrow").read_all().slice(*rows.spans["incidents"])
        assert set(incidents.column("_source_file").to_pylist()) == {result.report.file}
        assert set(incidents.column("report_id").to_pylist()) == {rows.report_id}
        assert rows.office == privacy_tables.office_numbers(incidents.column("contact_phone").drop_null().to_pylist())


def test_a_half_cached_archive_builds_to_the_same_bytes(tmp_path: Path, config: Config) -> None:
    """Cached reports (each with its own Arrow rows) and freshly parsed ones (in a chunk a
    worker wrote to the spool) alternate in input order; where parts end must not depend
    on that: Parquet's bytes do."""
    from benchmarks.generate import generate

    generate(tmp_path / "raw", 10_000, municipalities=10, years=5, workers=1)
    cache = tmp_path / "cache"
    cold = build([tmp_path / "raw"], config, tmp_path / "cold", Options(workers=1))
    build([tmp_path / "raw"], config, tmp_path / "warm", Options(workers=2, cache_dir=cache))
    forget_cached(cache, 2)
    mixed = build([tmp_path / "raw"], config, tmp_path / "mixed", Options(workers=2, cache_dir=cache))
    assert cold.ok and mixed.ok
    assert tree_digest(tmp_path / "cold") == tree_digest(tmp_path / "mixed") == tree_digest(tmp_path / "warm")


def test_a_batch_leaves_no_garbage_cycles_behind(tmp_path: Path, config: Config, make_report: Callable[..., Path]) -> None:
    """With the collector paused (build._bulk, inherited by forked workers), a cycle would keep
    a whole batch alive: a kept exception's traceback or context holds the parser's frames."""
    import gc

    from pipeline.sources import find_inputs

    report = make_report(cells={(0, 1): "2015.2.29 (2015.2.30)", (1, 5): "たぶん"})  # impossible dates, a bad leak cell
    jobs = [process.prepare(item, config, None, None, {}) for item in find_inputs([report]).inputs]
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            batch.parse_batch(jobs)  # type: ignore[arg-type]
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_what_a_build_kept_is_left_to_the_collectors_rare_passes() -> None:
    """What is made under build._bulk and kept goes to the oldest generation when it ends:
    in the youngest, the collector's next pass would walk all of it."""
    import gc

    from pipeline.build import _bulk

    assert gc.isenabled()
    with _bulk():
        kept = [[n] for n in range(1000)]
    assert gc.isenabled() and not gc.get_freeze_count()
    young = {id(o) for o in gc.get_objects(generation=0)}
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert not any(id(k) in young for k in kept)
    assert all(id(k) in oldest for k in kept)


@pytest.mark.parametrize("workers", [1, 2])
def test_cached_results_do_not_pile_up_behind_a_report_being_parsed(tmp_path: Path, config: Config, workers: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """One changed report first, then many cached ones: the parent must not hold them all
    (each carries its records) until the input ends, and the batch sent early for that
    goes to the workers when there are some."""
    from benchmarks.generate import generate
    from pipeline.sources import find_inputs

    generate(tmp_path / "raw", 1_500, municipalities=4, years=4, workers=1)
    cache = tmp_path / "cache"
    check([tmp_path / "raw"], config, Options(cache_dir=cache))
    inputs = find_inputs([tmp_path / "raw"]).inputs
    changed = inputs[0].path
    changed.write_text(changed.read_text(encoding="utf-8").replace("誤", "過", 1), encoding="utf-8")
    monkeypatch.setattr(process, "BACKLOG", 5)
    pools: list[int] = []

    class Pool(process.ProcessPoolExecutor):
        def __init__(self, max_workers: int) -> None:
            pools.append(max_workers)
            super().__init__(max_workers=max_workers)

    monkeypatch.setattr(process, "ProcessPoolExecutor", Pool)
    told: list[process.Processed] = []
    held = []
    for done, result in enumerate(process.iter_processed(inputs, config, workers=workers, cache_dir=cache, progress=told.append)):
        held.append(len(told) - done)
    assert pools == ([2] if workers == 2 else [])
    assert len(held) == len(inputs) == 64
    assert [p.name for p in told if not p.cached] == [inputs[0].name]
    assert max(held) <= 5 + 2  # without the bound: 63, every other report


@pytest.mark.parametrize("error", ["malformed", "locked"])
def test_an_index_that_fails_during_a_run_turns_the_cache_off(tmp_path: Path, error: str) -> None:
    """Damage found while writing turns the cache off and removes the index; a busy index
    turns it off and is left alone (a lookup that fails:
    test_an_index_a_lookup_cannot_read_turns_the_cache_off_for_the_run)."""
    import sqlite3

    index = cache_store.open_index(tmp_path, "v")
    assert index.connection is not None and index.path.exists() and index.empty  # a first build looks nothing up
    index.connection.execute("INSERT INTO results (key, payload) VALUES ('k', x'00')")
    index.connection.commit()
    index.connection.close()
    index = cache_store.open_index(tmp_path, "v")
    assert index.connection is not None and not index.empty  # an index with entries is read: below, it fails
    index.connection.close()

    class Failing:
        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def executemany(self, *args: object) -> None:
            raise (sqlite3.DatabaseError if error == "malformed" else sqlite3.OperationalError)(error)

        def close(self) -> None:
            pass

    index.connection = Failing()  # type: ignore[assignment]
    index.put([cache_store.Entry("a key", b"an entry", None)])
    assert index.connection is None
    assert index.path.exists() == (error == "locked")


def test_a_file_not_read_for_its_key_is_kept_under_the_same_key(archive: Path, config: Config, tmp_path: Path) -> None:
    """The parent only takes a file's size; the worker parsing it keys the result by the
    bytes it read: the key look_up computes from the file to find it in a later run."""
    item = find_inputs([archive]).inputs[0]
    job = process.prepare(item, config, None, tmp_path / "cache", {})
    assert isinstance(job, process.Job) and job.size == item.path.stat().st_size
    index = cache_store.open_index(tmp_path / "cache", "v")
    index.close()
    [(key, size, payload)], failure = cache_lookup.look_up([(item.path, item.name, job.settings)], index.path)
    assert failure is None and key and payload is None and size == job.size
    [result] = batch.parse_batch([job]).results
    assert batch._key(job, result) == key


def test_look_up_gives_an_entry_only_when_it_is_whole(archive: Path, config: Config, tmp_path: Path) -> None:
    """An entry whose bytes no longer match the sha256 it starts with is none; a file that
    cannot be read, or has no settings, has no key."""
    import sqlite3

    cache = tmp_path / "cache"
    process.process_all(find_inputs([archive]).inputs, config, cache_dir=cache)
    inputs = find_inputs([archive]).inputs[:2]
    settings = [process.prepare(i, config, None, cache, {}).settings for i in inputs]  # type: ignore[union-attr]
    files = [(i.path, i.name, s) for i, s in zip(inputs, settings)]
    index = cache / cache_store.INDEX
    found, failure = cache_lookup.look_up(files, index)
    assert failure is None and all(payload is not None for _, _, payload in found)
    with contextlib.closing(sqlite3.connect(index)) as connection, connection:
        payload = connection.execute("SELECT payload FROM results WHERE key = ?", (found[0][0],)).fetchone()[0]
        connection.execute("UPDATE results SET payload = ? WHERE key = ?", (payload[:-1] + bytes([payload[-1] ^ 1]), found[0][0]))
    again, _ = cache_lookup.look_up([*files, (tmp_path / "gone.txt", "gone.txt", settings[0]), (inputs[0].path, inputs[0].name, "")], index)
    assert again[0] == (found[0][0], found[0][1], None) and again[1] == found[1]
    assert again[2] == ("", 0, None) and again[3] == ("", inputs[0].path.stat().st_size, None)


@pytest.mark.parametrize("error", ["malformed", "locked"])
def test_an_index_a_lookup_cannot_read_turns_the_cache_off_for_the_run(tmp_path: Path, config: Config, error: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """look_up only says what failed; the run, which owns the index, turns the cache off
    from there on (no more hits, no packs nobody would find) and removes a damaged index."""
    import sqlite3

    from benchmarks.generate import generate

    generate(tmp_path / "raw", 1_000, municipalities=4, years=4, workers=1)
    inputs = find_inputs([tmp_path / "raw"]).inputs
    cache = tmp_path / "cache"
    process.process_all(inputs, config, cache_dir=cache)
    packs = sorted((cache / cache_store.PACKS).iterdir())
    calls: list[int] = []

    def failing_after_one(files: list[tuple[Path, str, str]], index: Path) -> process.Lookups:
        calls.append(len(files))
        found, failure = cache_lookup.look_up(files, index)
        fault = (sqlite3.DatabaseError if error == "malformed" else sqlite3.OperationalError)(error)
        return (found, failure) if len(calls) == 1 else ([(key, size, None) for key, size, _ in found], fault)

    monkeypatch.setattr(process, "LOOKUP", 10)
    monkeypatch.setattr(process, "look_up", failing_after_one)
    again = process.process_all(inputs, config, cache_dir=cache)
    assert [r.cached for r in again] == [True] * 10 + [False] * 54
    assert calls == [10] * 4  # the failing chunk and the two already on their way; none of the other three
    assert [r.report.sha256 for r in again] == [r.report.sha256 for r in process.process_all(inputs, config)]  # type: ignore[union-attr]
    assert sorted((cache / cache_store.PACKS).iterdir()) == packs  # none written for the reports parsed again
    assert (cache / cache_store.INDEX).exists() == (error == "locked")


def _look_up_noting_where(files: list[tuple[Path, str, str]], index: Path) -> process.Lookups:
    """look_up, noting the process it ran in (a module's function: the workers get it by name)."""
    with open(os.environ["LOOKED_UP_IN"], "a", encoding="utf-8") as noted:
        noted.write(f"{os.getpid()}\n")
    return cache_lookup.look_up(files, index)


def test_a_rebuild_looks_reports_up_in_the_workers(tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading each file for its key and finding its entry is left to the workers, a chunk
    at a time; the parent unpickles what they found. The package is the same."""
    from benchmarks.generate import generate

    generate(tmp_path / "raw", 1_000, municipalities=4, years=4, workers=1)
    inputs = find_inputs([tmp_path / "raw"]).inputs
    cache = tmp_path / "cache"
    first = process.process_all(inputs, config, workers=2, cache_dir=cache)
    monkeypatch.setattr(process, "LOOKUP", 10)
    monkeypatch.setattr(process, "look_up", _look_up_noting_where)
    monkeypatch.setenv("LOOKED_UP_IN", str(tmp_path / "looked-up-in"))
    again = process.process_all(inputs, config, workers=2, cache_dir=cache)
    where = (tmp_path / "looked-up-in").read_text(encoding="utf-8").split()
    assert len(where) == 7 and str(os.getpid()) not in where  # 64 reports, 10 at a time
    assert all(r.cached for r in again)
    assert [r.report.sha256 for r in again] == [r.report.sha256 for r in first]  # type: ignore[union-attr]
    alone = process.process_all(inputs, config, workers=1, cache_dir=cache)  # no workers: the parent looks them up
    assert all(r.cached for r in alone) and (tmp_path / "looked-up-in").read_text(encoding="utf-8").split()[7:] == [str(os.getpid())] * 7


def test_a_file_changed_after_the_parent_read_it_is_kept_under_its_new_bytes(tmp_path: Path, config: Config,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent reads a file for its key, the worker reads it again to parse it: a
    correction saved in between must not be kept under the key of the bytes before it."""
    seed = SEED.read_text(encoding="utf-8")
    before, after = seed + "\n", seed.replace("有(1人)", "有(7人)", 1)
    report = tmp_path / "raw" / "r.txt"
    report.parent.mkdir()
    report.write_text(seed, encoding="utf-8")
    cache = tmp_path / "cache"
    inputs = find_inputs([tmp_path / "raw"]).inputs
    assert not process.process_all(inputs, config, cache_dir=cache)[0].cached  # the cache is no longer empty
    report.write_text(before, encoding="utf-8")
    look_up = process.look_up

    def saved_in_between(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = look_up(*args, **kwargs)
        report.write_text(after, encoding="utf-8")
        return found

    monkeypatch.setattr(process, "look_up", saved_in_between)
    [parsed] = process.process_all(inputs, config, cache_dir=cache)
    assert "有(7人)" not in before and parsed.report is not None and not parsed.cached
    monkeypatch.setattr(process, "look_up", look_up)
    report.write_text(before, encoding="utf-8")
    [again] = process.process_all(inputs, config, cache_dir=cache)
    assert again.report is not None and again.report.sha256 == hashlib.sha256(before.encode("utf-8")).hexdigest()


def test_a_file_that_could_not_be_read_for_a_moment_is_not_kept(tmp_path: Path, config: Config,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file moved away between its lookup and its parsing is unreadable in that run only:
    once back, it is parsed, not given the failure from the cache under its bytes' key."""
    report = tmp_path / "raw" / "r.txt"
    report.parent.mkdir()
    shutil.copy(SEED, report)
    inputs = find_inputs([tmp_path / "raw"]).inputs
    cache = tmp_path / "cache"
    process.process_all(inputs, config, cache_dir=cache)  # the cache is no longer empty
    report.write_text(SEED.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # a correction: not in the cache
    look_up = process.look_up

    def moved_away_after(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = look_up(*args, **kwargs)
        report.rename(tmp_path / "away.txt")
        return found

    monkeypatch.setattr(process, "look_up", moved_away_after)
    [failed] = process.process_all(inputs, config, cache_dir=cache)
    assert failed.report is None and [p.code for p in failed.problems] == ["file-unreadable"]
    monkeypatch.setattr(process, "look_up", look_up)
    (tmp_path / "away.txt").rename(report)
    [back] = process.process_all(inputs, config, cache_dir=cache)
    assert back.report is not None and not back.cached


def test_prepare_takes_a_file_gone_since_it_was_found_for_missing(tmp_path: Path, config: Config) -> None:
    """A file removed (or a folder on its path turned into a file) after the inputs were
    listed is reported as missing; one that is there gives its job with its size."""
    from pipeline.sources import Input

    present = tmp_path / "here.txt"
    shutil.copy(SEED, present)
    (tmp_path / "not-a-folder").write_text("x", encoding="utf-8")
    for gone in (tmp_path / "gone.txt", tmp_path / "not-a-folder" / "report.txt"):
        result = process.prepare(Input(gone, tmp_path, gone.name), config, None, None, {})
        assert isinstance(result, process.Processed) and [p.code for p in result.problems] == ["file-unreadable"]
        assert result.problems[0].params["reason"] == "there is no such file or folder"
    job = process.prepare(Input(present, tmp_path, present.name), config, None, None, {})
    assert isinstance(job, process.Job) and job.size == SEED.stat().st_size


@pytest.mark.parametrize("given", [None, "25"])
def test_arrow_s_freed_memory_is_kept_for_reuse_unless_the_user_says(given: str | None) -> None:
    """mimalloc reads MIMALLOC_PURGE_DELAY when pyarrow is first imported: the package sets
    it to keep freed memory (-1) before any of its modules imports pyarrow, and leaves a
    value the user set."""
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    if given is not None:
        env["MIMALLOC_PURGE_DELAY"] = given
    code = "import sys, os, pipeline; print(os.environ['MIMALLOC_PURGE_DELAY'], 'pyarrow' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert shown == [given or "-1", "False"]  # set by the package's first import, pyarrow not yet loaded


def test_each_report_gets_the_nearest_profile_and_a_broken_one_is_told_for_each(tmp_path: Path, config: Config) -> None:
    """The profile of a report's folder, else of the nearest folder above it up to the input
    folder, else the configured one; kept by folder for the run (prepare's `profiles`), so
    the order reports come in changes nothing, and a broken profile.json is reported for
    every report under it."""
    top = tmp_path / "top"
    for folder in ("city/sub", "broken", "plain"):
        (top / folder).mkdir(parents=True)
    (top / "city" / "profile.json").write_text(json.dumps({"municipality": {"code": "990019", "name": "架空市"}}), encoding="utf-8")
    (top / "broken" / "profile.json").write_text("{not json", encoding="utf-8")
    for name in ("city/a.txt", "city/sub/b.txt", "city/sub/c.txt", "broken/d.txt", "broken/e.txt", "plain/f.txt"):
        shutil.copy(SEED, top / name)
    inputs = find_inputs([top]).inputs
    for order in (inputs, inputs[::-1]):
        profiles: dict = {}
        got = {item.name: process.prepare(item, config, None, None, profiles) for item in order}
        codes = {name: job.profile.municipality.code if isinstance(job, batch.Job) and job.profile.municipality else None
                 for name, job in got.items()}
        assert codes == {"city/a.txt": "990019", "city/sub/b.txt": "990019", "city/sub/c.txt": "990019",
                         "broken/d.txt": None, "broken/e.txt": None, "plain/f.txt": None}
        assert isinstance(got["plain/f.txt"], batch.Job) and got["plain/f.txt"].profile is config.profile
        for name in ("broken/d.txt", "broken/e.txt"):
            result = got[name]
            assert isinstance(result, batch.Processed) and [p.code for p in result.problems] == ["bad-profile"], name
