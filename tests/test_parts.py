"""The build checks and writes a part of whole reports at a time (pipeline/spool.py), so
that memory stays flat however large the archive: where parts end must change nothing
that is published or reported."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.build import Options, build, check
from pipeline.config import Config
from pipeline.errors import errors_in
from pipeline.privacy_tables import office_numbers
from pipeline.side_writer import SideWriter

from .conftest import ROOT, forget_cached, tree_digest

TABLES = ("reports", "incidents", "measures", "figures")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 synthetic reports of about 23 incidents each."""
    from benchmarks.generate import generate

    folder = tmp_path_factory.mktemp("parts") / "raw"
    generate(folder, 1_500, municipalities=4, years=4, workers=1)
    return folder


def _data(folder: Path, fmt: str) -> dict[str, bytes]:
    return {name: (folder / "data" / f"{name}.{fmt}").read_bytes() for name in TABLES}


def test_parts_change_no_published_byte_of_csv_or_json(raw: Path, tmp_path: Path, config: Config) -> None:
    whole = build([raw], config, tmp_path / "whole", Options())
    parts = build([raw], config, tmp_path / "parts", Options(part_incidents=100))
    single = build([raw], config, tmp_path / "single", Options(part_incidents=1))  # a part per report
    assert whole.ok and parts.ok and single.ok
    assert whole.problems == parts.problems == single.problems
    assert whole.rows == parts.rows == single.rows and whole.rows["incidents"] == 1_500
    for fmt in ("csv", "json"):
        assert _data(tmp_path / "whole", fmt) == _data(tmp_path / "parts", fmt) == _data(tmp_path / "single", fmt)
    for name in TABLES:  # Parquet gets a row group per part: the same rows and types
        expected = pq.read_table(tmp_path / "whole" / "data" / f"{name}.parquet")
        assert pq.read_table(tmp_path / "parts" / "data" / f"{name}.parquet").equals(expected)
    landing = (tmp_path / "whole" / "index.html").read_text(encoding="utf-8")
    strip = re.compile(r"[0-9a-f]{64}|\d[\d,.]* ?(?:B|KB|MB|kB|bytes)\b")  # the Parquet files' hashes and sizes differ
    assert strip.sub("", (tmp_path / "parts" / "index.html").read_text(encoding="utf-8")) == strip.sub("", landing)


def test_check_gives_the_same_tables_whatever_the_parts(raw: Path, config: Config) -> None:
    whole = check([raw], config, Options())
    parts = check([raw], config, Options(part_incidents=50))
    for name in TABLES:
        assert parts.tables[name].equals(whole.tables[name])
    assert [s.file for s in parts.normalized.sources["incidents"]] == [s.file for s in whole.normalized.sources["incidents"]]


def test_reports_are_published_in_report_order_whatever_the_input_order(raw: Path, tmp_path: Path, config: Config) -> None:
    """Folders named so that the input order is the reverse of report_id order."""
    shuffled = tmp_path / "shuffled"
    for i, town in enumerate(sorted(p for p in raw.iterdir() if p.is_dir())):
        shutil.copytree(town, shuffled / f"{9 - i}-{town.name}")
    base = build([raw], config, tmp_path / "base", Options(part_incidents=100))
    other = build([shuffled], config, tmp_path / "other", Options(part_incidents=100))
    assert base.ok and other.ok
    for name in ("incidents", "measures", "figures"):
        assert _data(tmp_path / "base", "csv")[name] == _data(tmp_path / "other", "csv")[name]
    ids = pq.read_table(tmp_path / "other" / "data" / "reports.parquet").column("report_id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 64


def _break_one_row(raw: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of `raw` where the first row of one late report says it was discovered in 2099."""
    broken = tmp_path / "broken"
    shutil.copytree(raw, broken)
    report = sorted(broken.rglob("*.txt"))[-3]
    text = report.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^1\t[^\t]*", "1\t2099.1.1 (2099.1.2)", text, count=1)
    report.write_text(text, encoding="utf-8")
    return broken, str(report.relative_to(broken))


def test_an_error_in_a_late_part_publishes_nothing(raw: Path, tmp_path: Path, config: Config) -> None:
    broken, _ = _break_one_row(raw, tmp_path)
    target = tmp_path / "target"
    assert build([raw], config, target, Options(part_incidents=100)).ok
    before = tree_digest(target)
    outcome = build([broken], config, target, Options(part_incidents=100))
    assert not outcome.ok and outcome.published is None
    assert [p.code for p in errors_in(outcome.problems)] == ["discovered-outside-period"]
    assert tree_digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "target"]  # no staging folder left behind


def test_keep_going_drops_the_same_rows_whatever_the_parts(raw: Path, tmp_path: Path, config: Config) -> None:
    broken, name = _break_one_row(raw, tmp_path)
    whole = build([broken], config, tmp_path / "whole", Options(), keep_going=True)
    parts = build([broken], config, tmp_path / "parts", Options(part_incidents=40), keep_going=True)
    assert whole.published and parts.published and whole.kept_clean and parts.kept_clean
    assert whole.problems == parts.problems
    assert whole.rows == parts.rows and whole.rows["incidents"] == 1_499
    assert [s for s in whole.summaries() if s.rows_rejected] == [s for s in parts.summaries() if s.rows_rejected]
    assert [s.rows_rejected for s in parts.summaries() if s.file == name] == [1]
    for fmt in ("csv", "json"):
        assert _data(tmp_path / "whole", fmt) == _data(tmp_path / "parts", fmt)


def test_an_office_number_from_another_part_is_still_an_office_number(raw: Path, tmp_path: Path, config: Config) -> None:
    """The privacy scan excuses the contact phones the archive publishes: all of them, not
    only those of the part being scanned."""
    edited = tmp_path / "edited"
    shutil.copytree(raw, edited)
    files = sorted(edited.rglob("*.txt"))
    first_row = re.compile(r"(?m)^1\t.*$")
    phone = first_row.search(files[0].read_text(encoding="utf-8")).group(0).split("\t")[-1]  # type: ignore[union-attr]
    late = files[-1]
    text = late.read_text(encoding="utf-8")
    row = first_row.search(text).group(0).split("\t")  # type: ignore[union-attr]
    assert phone not in row
    row[4] = f"{row[4]}。問合せは{phone}へ"
    late.write_text(first_row.sub("\t".join(row), text, count=1), encoding="utf-8")
    whole = check([edited], config, Options())
    parts = check([edited], config, Options(part_incidents=100))
    assert whole.ok and parts.ok, [p.message() for p in parts.problems]
    assert any(phone in s for s in parts.tables["incidents"].column("summary").to_pylist())


def test_check_keeps_every_table_row_even_when_some_are_invalid(raw: Path, tmp_path: Path, config: Config) -> None:
    broken, _ = _break_one_row(raw, tmp_path)
    outcome = check([broken], config, Options(part_incidents=100))
    assert not outcome.ok
    assert outcome.tables["incidents"].num_rows == 1_500  # the invalid row too: `pipeline normalize` prints it


def test_the_spool_is_removed_and_workers_and_cache_change_nothing(raw: Path, tmp_path: Path, config: Config) -> None:
    """Workers write their chunks, the cache gives its packs: parts mixing both publish the same bytes."""
    cache = tmp_path / "cache"
    cold = build([raw], config, tmp_path / "cold", Options(part_incidents=100))
    check([raw], config, Options(workers=2, cache_dir=cache, part_incidents=100))
    forget_cached(cache, 3)
    mixed = build([raw], config, tmp_path / "mixed", Options(workers=2, cache_dir=cache, part_incidents=100))
    assert cold.ok and mixed.ok
    assert tree_digest(tmp_path / "cold") == tree_digest(tmp_path / "mixed")
    assert not list(cache.glob("pipeline-spool-*"))  # check() spools in the cache folder, and cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "cold", "mixed"]


def test_the_csv_and_json_written_beside_the_checks_are_the_same_bytes(
        raw: Path, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """With workers and several parts, the CSV and JSON files are written by a process of
    their own while the parts are checked (side_writer.py): the package is byte for byte
    the one a single process writes, its files described in the same order."""
    from pipeline import side_writer

    started: list[int] = []
    real = side_writer.SideWriter.begin
    monkeypatch.setattr(side_writer.SideWriter, "begin", lambda self, folder, schemas, parts: started.append(len(parts)) or real(self, folder, schemas, parts))
    one = build([raw], config, tmp_path / "one", Options(part_incidents=100))
    two = build([raw], config, tmp_path / "two", Options(workers=2, part_incidents=100))
    assert one.ok and two.ok and len(started) == 1 and started[0] > 10
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
    assert two.files == one.files
    assert not multiprocessing.active_children()


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="the failure is planted in this process's modules")
def test_a_failure_beside_the_checks_fails_the_build_and_publishes_nothing(
        raw: Path, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import writers

    target = tmp_path / "target"
    assert build([raw], config, target, Options(part_incidents=100)).published
    before = tree_digest(target)

    def disk_full(table: object, sink: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(writers.WRITERS, "json", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        build([raw], config, target, Options(workers=2, part_incidents=100))
    assert tree_digest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    assert not multiprocessing.active_children()


def test_an_invalid_row_stops_the_process_beside_at_once(
        raw: Path, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first report is broken: the process writing beside is told to stop when its part
    is checked (before the build ends), and nothing is published or left behind."""
    from pipeline import side_writer

    broken = tmp_path / "broken"
    shutil.copytree(raw, broken)
    first = sorted(broken.rglob("*.txt"))[0]
    first.write_text(re.sub(r"(?m)^1\t[^\t]*", "1\t2099.1.1 (2099.1.2)", first.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    told: list[bool] = []  # whether it had been told to stop when the build came to end it
    real_cancel = side_writer.SideWriter.cancel
    monkeypatch.setattr(side_writer.SideWriter, "cancel", lambda self: told.append(self.stop.is_set()) or real_cancel(self))
    outcome = build([broken], config, tmp_path / "target", Options(workers=2, part_incidents=100))
    assert not outcome.ok and outcome.published is None
    assert [p.code for p in errors_in(outcome.problems)] == ["discovered-outside-period"]
    assert told == [True]
    assert not multiprocessing.active_children()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="the slow part is planted in this process's modules")
def test_the_process_beside_stops_when_the_build_is_killed(raw: Path, tmp_path: Path) -> None:
    """kill -9 reaches the build, not the process writing beside it: that one stops at its
    next part instead of writing on into the folder the next run will remove."""
    pid_file = tmp_path / "side.pid"
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from pathlib import Path
        from pipeline import side_writer
        from pipeline.build import Options, build
        from pipeline.config import load_config
        real_to_tables, real_begin = side_writer.to_tables, side_writer.SideWriter.begin
        def slow(*args):
            time.sleep(1)
            return real_to_tables(*args)
        def begin(side, *args):
            real_begin(side, *args)
            Path({str(pid_file)!r}).write_text(str(side.process.pid))
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGKILL)
        side_writer.to_tables, side_writer.SideWriter.begin = slow, begin
        build([Path({str(raw)!r})], load_config(Path({str(ROOT)!r})), Path({str(tmp_path / "target")!r}), Options(workers=2, part_incidents=100))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert result.returncode == -9
    side = int(pid_file.read_text())
    deadline = time.monotonic() + 5  # its parts take a second each: fifteen of them without the check
    while time.monotonic() < deadline and _running(side):
        time.sleep(0.1)
    gone = not _running(side)
    if not gone:
        os.kill(side, signal.SIGKILL)
    assert gone


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's parent may be slow to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def test_a_build_holds_the_lock_while_it_reads_and_cleans_a_killed_runs_spool(
        raw: Path, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs into one folder follow each other, so the last to start is the last to publish;
    a killed run's staging folder and spool are removed by the next one."""
    from pipeline import build as build_module, publish

    target = tmp_path / "target"
    left = [tmp_path / ".target.staging-999999999", tmp_path / ".target.staging-999999999-spool"]
    for folder in left:
        (folder / "data").mkdir(parents=True)
    busy: list[bool] = []
    real = build_module.find_inputs

    def reading(paths: list[Path]):  # type: ignore[no-untyped-def]
        try:
            with publish.publish_lock(target, wait=False):
                busy.append(False)
        except publish.PublishBusy:
            busy.append(True)
        return real(paths)

    monkeypatch.setattr(build_module, "find_inputs", reading)
    assert build([raw], config, target, Options(part_incidents=100)).published
    assert busy == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_records_handed_to_the_spool_in_memory_come_back_the_same(config: Config) -> None:
    """A caller's own records (lists, as normalize_report gives them) are written as a chunk
    of their own and read back as the part's tables, with their sources and phones."""
    from pipeline.normalize import normalize_report
    from pipeline.readers import read_report
    from pipeline.schema import TABLES, load_schemas, typed_table
    from pipeline.spool import Spool

    from .conftest import SEED

    report = read_report(SEED, config.profile)
    normalized = normalize_report(report, config.municipality_of(report.profile))
    schemas = load_schemas()
    with Spool(schemas) as spool:
        spool.add(report, normalized)
        [reports] = list(spool.groups([report]))
        assert reports == [report]
        part = spool.read(reports)
        for t in TABLES:
            expected = typed_table(normalized.columns[t], len(normalized.sources[t]), schemas[t])
            assert {n: part.columns[t][n].to_pylist() for n in expected.column_names} == expected.to_pydict()
            assert list(part.sources[t]) == normalized.sources[t]
        assert spool.office[report.file] == office_numbers(normalized.columns["incidents"]["contact_phone"])
        assert spool.office_of([report]) == office_numbers(normalized.columns["incidents"]["contact_phone"])
    assert not spool.folder.exists()


def test_the_office_numbers_are_those_of_the_reports_asked_for(config: Config) -> None:
    """Those of every report added, gathered as they came; of some of them (one replaced by
    its 訂正版, or dropped), theirs alone, even as many reports as were added."""
    from dataclasses import replace

    from pipeline.normalize import Normalized
    from pipeline.readers import read_report
    from pipeline.schema import TABLES, load_schemas
    from pipeline.spool import Spilled, Spool

    from .conftest import SEED

    report = read_report(SEED, config.profile)
    reports = [replace(report, file=f"r{i}.txt") for i in range(4)]
    with Spool(load_schemas()) as spool:
        for i, (r, phone) in enumerate(zip(reports, ["0796-23-1111", "0796-23-2222", "090-1234-5678"])):
            spool.add(r, Normalized(arrow=Spilled("chunk", {t: (i, 1) for t in TABLES}, f"id{i}", office_numbers([phone]))))
        assert spool.office_of(reports[:3]) == {"0796231111", "0796232222"}  # the mobile is no office's
        assert spool.office_of(reports[1:3]) == {"0796232222"}
        assert spool.office_of(reports[1:]) == {"0796232222"}  # three, but one never added


def _send_a_long_message(results: object) -> None:
    results.send("x" * (4 << 20))  # type: ignore[attr-defined]  # far more than a pipe holds: blocks until read


def test_cancel_reads_what_the_process_still_sends() -> None:
    """A process stopped while it sends a long message (a failure's text) is not left
    waiting on the full pipe until it is killed a minute later."""
    context = multiprocessing.get_context()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_send_a_long_message, args=(sending,), daemon=True)
    process.start()
    sending.close()
    jobs, told = context.Pipe(duplex=False)
    started = time.monotonic()
    SideWriter(process, context.Event(), receiving, told).cancel()
    assert time.monotonic() - started < 20
    assert process.exitcode == 0  # it ended of itself, not killed


def test_a_process_standing_by_and_told_no_parts_ends_of_itself() -> None:
    """The side writer is forked when a build begins; a build that does not use it (one
    part, nothing to publish) tells it so, and it ends at once, not killed a minute later."""
    from pipeline import side_writer

    side = side_writer.standby()
    assert side.process.is_alive()
    started = time.monotonic()
    side.cancel()
    assert time.monotonic() - started < 20
    assert side.process.exitcode == 0
    assert side.ended and not multiprocessing.active_children()


def test_the_runs_of_a_part_join_neighbouring_reports_of_a_chunk_only() -> None:
    """A part's rows are read as runs: reports next to each other in the same chunk make
    one run; another chunk, a gap, an order other than the chunk's, or a table where a
    report has no rows start a new one or add nothing."""
    from types import SimpleNamespace

    from pipeline.spool import Places, Spilled

    places = Places()
    reports = [SimpleNamespace(file=f"r{k}.txt") for k in range(6)]
    spans = [  # (chunk, incidents (first, rows), figures (first, rows))
        ("a", (0, 3), (0, 0)), ("a", (3, 2), (0, 1)), ("a", (5, 4), (1, 0)),
        ("b", (0, 1), (0, 2)), ("a", (10, 1), (1, 1)), ("a", (9, 1), (2, 0)),
    ]
    for report, (chunk, incidents, figures) in zip(reports, spans):
        places.add(report, Spilled(chunk, {"reports": (0, 1), "incidents": incidents, "measures": (0, 0), "figures": figures},
                                   "id-" + report.file, frozenset()))  # type: ignore[arg-type]
    runs = places.runs(reports)  # type: ignore[arg-type]
    assert runs["incidents"] == [("a", 0, 9), ("b", 0, 1), ("a", 10, 1), ("a", 9, 1)]
    assert runs["figures"] == [("a", 0, 1), ("b", 0, 2), ("a", 1, 1)]
    assert runs["measures"] == []
    assert runs["reports"] == [("a", 0, 1)] * 3 + [("b", 0, 1)] + [("a", 0, 1)] * 2  # each report's row 0: never neighbours
    assert places.runs([reports[1], reports[2]])["incidents"] == [("a", 3, 6)]  # type: ignore[list-item]
    order, incidents = places.in_order(list(reversed(reports)))  # type: ignore[arg-type]
    assert order == [5, 4, 3, 2, 1, 0] and incidents == [3, 2, 4, 1, 1, 1]
