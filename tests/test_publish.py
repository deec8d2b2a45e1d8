"""Publishing is all or nothing: faults mid-write leave the previous package and no leftovers."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from pipeline import publish, writers
from pipeline.build import build
from pipeline.config import Config

from .conftest import ROOT, SEED, tree_digest


@pytest.fixture()
def previous(tmp_path: Path, config: Config, make_report: Callable[..., Path]) -> Path:
    """A published package of the seed's first three incidents: what a failed run must keep."""
    out = tmp_path / "site" / "package"
    assert build([make_report(rows=[0, 1, 2])], config, out).published == out
    return out


def siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


def test_a_full_disk_mid_write_keeps_the_previous_package(previous: Path, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_digest(previous)
    calls = {"n": 0}
    real = writers.WRITERS["parquet"]

    def disk_full(table, path):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:  # the third table's Parquet file
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(table, path)

    monkeypatch.setitem(writers.WRITERS, "parquet", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build([SEED], config, previous)
    assert tree_digest(previous) == before
    assert siblings(previous) == ["package"]


def test_a_killed_run_leaves_the_previous_package_and_the_next_run_cleans_up(previous: Path) -> None:
    before = tree_digest(previous)
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from pipeline import writers
        from pipeline.build import build
        from pipeline.config import load_config
        real = writers.WRITERS["json"]
        def die(table, path):
            real(table, path)
            os._exit(9)  # killed after writing the first JSON file
        writers.WRITERS["json"] = die
        build([Path({str(SEED)!r})], load_config(Path({str(ROOT)!r})), Path({str(previous)!r}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT)
    assert result.returncode == 9
    assert tree_digest(previous) == before
    assert any(name.startswith(".package.staging-") for name in siblings(previous))
    # the next run removes what the killed one left, and publishes
    assert build([SEED], load_config_root(), previous).published == previous
    assert siblings(previous) == ["package"]
    assert len((previous / "data" / "incidents.csv").read_text(encoding="utf-8-sig").splitlines()) == 8


def load_config_root() -> Config:
    from pipeline.config import load_config

    return load_config(ROOT)


def test_a_second_run_while_one_publishes_stops_with_a_clear_message(previous: Path, run: Callable[..., Result]) -> None:
    before = tree_digest(previous)
    with publish.publish_lock(previous):
        result = run("build", str(SEED), "--out", str(previous), "--no-wait")
    assert result.exit_code == 1
    assert "another run is publishing" in result.stderr
    assert tree_digest(previous) == before


@pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGKILL")
def test_a_killed_runs_forked_workers_do_not_keep_the_lock(tmp_path: Path) -> None:
    """A run killed while its workers live (kill -9 reaches the run, not its workers):
    the next run may publish at once, not after the workers are gone too."""
    target = tmp_path / "package"
    script = textwrap.dedent(
        f"""
        import multiprocessing, os, signal, time
        from pathlib import Path
        from pipeline import publish

        def work(path):
            Path(path + ".part").write_text(str(os.getpid()))  # the fork and its hooks are behind it
            os.replace(path + ".part", path)
            time.sleep(60)

        pid_file = Path({str(tmp_path / "worker.pid")!r})
        with publish.publish_lock(Path({str(target)!r})):
            multiprocessing.get_context("fork").Process(target=work, args=(str(pid_file),)).start()
            deadline = time.monotonic() + 30
            while not pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = tmp_path / "worker.pid"
    try:
        assert result.returncode == -9
        os.kill(int(pid_file.read_text()), 0)  # alive still, holding whatever it inherited
        with publish.publish_lock(target, wait=False):  # PublishBusy if the orphan still held it
            pass
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_swap_replaces_the_whole_folder(previous: Path, tmp_path: Path, config: Config) -> None:
    (previous / "data" / "stale.csv").write_text("from an older layout", encoding="utf-8")
    build([SEED], config, previous)
    assert not (previous / "data" / "stale.csv").exists()
    assert siblings(previous) == ["package"]


@pytest.mark.parametrize("where", ["data", ".", "data/raw", "data/raw/package", "schema/package"])
def test_publishing_never_replaces_the_inputs_or_the_project(where: str, run: Callable[..., Result]) -> None:
    before = tree_digest(ROOT / "data")
    result = run("build", "--out", where)
    assert result.exit_code == 2
    assert "publishing there would delete or mix with it" in result.output
    assert tree_digest(ROOT / "data") == before


def test_a_folder_that_is_not_a_package_is_not_replaced(tmp_path: Path, run: Callable[..., Result]) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "letter.txt").write_text("大事な書類", encoding="utf-8")
    result = run("build", str(SEED), "--out", str(folder))
    assert result.exit_code == 2
    assert "holds letter.txt, which is not part of a published package" in result.output
    assert (folder / "letter.txt").read_text(encoding="utf-8") == "大事な書類"


def test_a_project_checkout_is_not_taken_for_a_package(tmp_path: Path, run: Callable[..., Result]) -> None:
    """A datapackage.json alone does not make a folder an earlier package: the team's own
    configuration is one too."""
    other = tmp_path / "another-project"
    shutil.copytree(ROOT / "profiles", other / "profiles")
    shutil.copy(ROOT / "datapackage.json", other / "datapackage.json")
    before = tree_digest(other)
    result = run("build", str(SEED), "--out", str(other))
    assert result.exit_code == 2 and "profiles" in result.output
    assert tree_digest(other) == before


def test_a_symbolic_link_is_not_followed_or_replaced(tmp_path: Path, run: Callable[..., Result], previous: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(previous, target_is_directory=True)
    before = tree_digest(previous)
    result = run("build", str(SEED), "--out", str(link))
    assert result.exit_code == 2 and "is a symbolic link" in result.output
    assert link.is_symlink() and tree_digest(previous) == before


def test_an_io_failure_is_a_message_not_a_traceback(previous: Path, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_digest(previous)

    def disk_full(table, path):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setitem(writers.WRITERS, "json", disk_full)
    result = run("build", str(SEED), "--out", str(previous))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: could not publish to {previous}: No space left on device")
    assert "nothing was changed there" in result.stderr and "Traceback" not in result.stderr
    assert tree_digest(previous) == before
