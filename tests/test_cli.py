"""The command line: help for every command, exit codes, python -m."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from click.testing import Result

from pipeline.cli import cli

from .conftest import ROOT, SEED


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example(run: Callable[..., Result], command: str) -> None:
    for flag in ("--help", "-h"):
        result = run(command, flag)
        assert result.exit_code == 0
        assert "Example" in result.output and f"pipeline {command}" in result.output


def test_group_help_lists_the_stages(run: Callable[..., Result]) -> None:
    result = run("-h")
    assert result.exit_code == 0
    for command in ("build", "validate", "verify"):
        assert command in result.output


def test_usage_errors_exit_2(run: Callable[..., Result], tmp_path) -> None:
    assert run("build", "--no-such-option").exit_code == 2
    assert run("build", str(tmp_path / "missing.txt")).exit_code == 2
    assert run("validate", "--lang", "fr").exit_code == 2


def test_a_broken_configuration_is_a_usage_error(run: Callable[..., Result], tmp_path) -> None:
    config = tmp_path / "datapackage.json"
    config.write_text('{"name": "x"}', encoding="utf-8")
    result = run("validate", str(SEED), "--config", str(config))
    assert result.exit_code == 2
    assert "municipality" in result.output


def test_python_m_pipeline_runs_validate(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--lang", "en"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "0 error(s), 1 warning(s)" in result.stdout


def test_messages_in_japanese(run: Callable[..., Result], make_report) -> None:
    report = make_report(cells={(0, 1): "2024.4.8 (2024.7.15)"})
    result = run("validate", str(report), "--lang", "ja")
    assert result.exit_code == 1
    assert "エラー: report.txt, 行 6 (No 1): 「発生日 (判明日)」 [discovered_on] 値「2024.4.8 (2024.7.15)」: 判明日 2024-07-15 が報告の対象期間 (2024-04-01～2024-06-30) の外です" in result.stderr


def test_configured_paths_must_stay_inside_the_project(run: Callable[..., Result], tmp_path) -> None:
    import json
    import shutil

    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    metadata = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
    for key, value in (("inputs", ["../../etc"]), ("profile", "/etc/passwd")):
        settings = {**metadata["x_pipeline"], key: value}
        (tmp_path / "datapackage.json").write_text(json.dumps({**metadata, "x_pipeline": settings}), encoding="utf-8")
        result = run("validate", "--config", str(tmp_path / "datapackage.json"))
        assert result.exit_code == 2
        assert "x_pipeline paths must stay inside the project folder" in result.output


def test_normalize_prints_the_records_it_reads(run: Callable[..., Result]) -> None:
    import json

    result = run("normalize", str(SEED), "--table", "figures")
    assert result.exit_code == 0
    figures = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(figures) == 9
    assert figures[2] == {"incident_id": "282090-202404-004", "figure_no": 2, "label": "金額", "value": 246000, "unit": "円", "qualifier": None}
    assert "为" in result.stderr  # the warning about the seed's stray character
