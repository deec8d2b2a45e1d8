"""Command line: one click group, a command per stage, `build` chaining them.

The CLI parses options, calls the core and renders; exit codes are 0 when all
is well, 1 when the input is invalid, 2 on a usage or configuration error.
"""

from __future__ import annotations

import codecs
import json
import contextlib
import locale
import time
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from . import __version__
from .build import Options, Outcome, build, check
from .config import Config, ConfigError, load_config
from .errors import errors_in, render
from .privacy import load_exceptions
from .process import Processed, Progress
from .publish import PublishBusy, UnsafeTarget
from .rejects import rejected_rows, write_rejects

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def default_lang() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "ja" if (locale.getlocale()[0] or "").lower().startswith("ja") else "en"


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every stage that reads reports shares."""
    decorators = [
        click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path)),
        click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default="datapackage.json", show_default=True,
                     help="The dataset's metadata and settings (its folder is the project root)."),
        click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Source profile mapping the report's column headers (default: the one the config names)."),
        click.option("--encoding", callback=check_encoding,
                     help="Read text files in this encoding instead of detecting UTF-8 or CP932."),
        click.option("--lang", type=click.Choice(["ja", "en"]), default=default_lang,
                     help="Language of messages (default: from the locale)."),
        click.option("--workers", type=click.IntRange(min=1), default=lambda: os.cpu_count() or 1, show_default="all cores",
                     help="Processes reading reports in parallel (used when there are many reports)."),
        click.option("--cache/--no-cache", default=True,
                     help="Reuse each report's normalized result while its bytes, profile and the pipeline's code "
                          "are unchanged (kept in .cache/reports/ in the project)."),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


def check_encoding(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            raise click.BadParameter(f"unknown encoding {value!r} (e.g. utf-8, cp932, euc_jp)") from None
    return value


def run_options(config: Config, encoding: str | None, workers: int, cache: bool, progress: Progress | None) -> Options:
    return Options(encoding, workers, config.root / ".cache" / "reports" if cache else None, progress)


@contextlib.contextmanager
def progress_bar(lang: str) -> Iterator[Progress | None]:
    """Reports processed, rows and elapsed time on stderr; nothing when it is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    started = time.monotonic()
    counts = {"reports": 0, "rows": 0}

    def tell(done: Processed) -> None:
        counts["reports"] += 1
        counts["rows"] += done.report.rows_read if done.report else 0
        if counts["reports"] % 25 == 0 or counts["reports"] == 1:
            label = "報告" if lang == "ja" else "reports"
            rows = "行" if lang == "ja" else "rows"
            click.echo(f"\r{label} {counts['reports']:,}  {rows} {counts['rows']:,}  {time.monotonic() - started:6.1f} s",
                       err=True, nl=False)

    try:
        yield tell
    finally:
        click.echo(f"\r{' ' * 60}\r", err=True, nl=False)


def load(config_path: Path, profile: Path | None) -> Config:
    try:
        config = load_config(config_path.resolve().parent, profile)
        load_exceptions(config.options)  # a malformed privacy exception is a usage error, found before reading
        return config
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def report(outcome: Outcome, lang: str) -> None:
    """Problems to stderr, the per-file row accounting to stdout."""
    for problem in outcome.problems:
        click.echo(render(problem, lang), err=True)
    summaries = outcome.summaries()
    heading = ["ファイル", "読込", "正常", "エラー", "公開", "差替"] if lang == "ja" else ["file", "read", "valid", "rejected", "published", "superseded"]
    rows = [[s.file, s.rows_read, s.rows_valid, s.rows_rejected, s.rows_published, s.rows_superseded] for s in summaries]
    if not any(s.rows_superseded for s in summaries):
        heading, rows = heading[:-1], [r[:-1] for r in rows]
    if rows:
        width = max(len(str(r[0])) for r in [heading, *rows])
        for r in [heading, *rows]:
            click.echo(f"{r[0]:<{width}}" + "".join(f"  {v:>9}" for v in r[1:]))
    neutralised = sum(f.neutralised for f in outcome.files)
    if neutralised:
        click.echo(f"CSV: {neutralised} 件のセルが =、+、-、@ 等で始まるため先頭に ' を付けました（Parquet・JSON は原文のまま）"
                   if lang == "ja" else
                   f"CSV: {neutralised} cell(s) beginning with =, +, -, @, tab or CR got a leading ' (Parquet and JSON exact)")
    errors = len(errors_in(outcome.problems))
    warnings = len(outcome.problems) - errors
    if lang == "ja":
        click.echo(f"エラー {errors} 件、注意 {warnings} 件")
    else:
        click.echo(f"{errors} error(s), {warnings} warning(s)")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version")
def cli() -> None:
    """Turn municipalities' 事務処理誤り reports into validated open data packages.

    \b
    Example, from the project folder:
        pipeline build                  # the bundled reports into outputs/
        pipeline validate report.txt    # check a new report, publish nothing
        pipeline verify outputs         # check a downloaded package
    """


@cli.command(name="validate")
@input_options
def validate_cmd(inputs: tuple[Path, ...], config_path: Path, profile: Path | None, encoding: str | None, lang: str,
                 workers: int, cache: bool) -> None:
    """Read, normalize and check reports without publishing anything.

    INPUTS are report files or folders (default: the bundled reports). Exit 0
    when every row is valid, 1 when anything is invalid.

    \b
    Example:
        pipeline validate data/raw/jimu-shori-ayamari-2024q1.txt
    """
    config = load(config_path, profile)
    with progress_bar(lang) as progress:
        outcome = check(list(inputs) or list(config.inputs), config, run_options(config, encoding, workers, cache, progress),
                        tables=False)
    report(outcome, lang)
    sys.exit(EXIT_OK if outcome.ok and outcome.reports else EXIT_INVALID)


@cli.command(name="normalize")
@input_options
@click.option("--table", type=click.Choice(["incidents", "measures", "figures", "reports"]), default="incidents",
              show_default=True, help="Which table's records to print.")
def normalize_cmd(inputs: tuple[Path, ...], config_path: Path, profile: Path | None, encoding: str | None, lang: str,
                  workers: int, cache: bool, table: str) -> None:
    """Print the normalized records of reports as JSON lines, one object per row, to see
    what the pipeline reads from them; problems go to stderr. Publishes nothing.

    \b
    Example:
        pipeline normalize data/raw/jimu-shori-ayamari-2024q1.txt --table figures
    """
    config = load(config_path, profile)
    outcome = check(list(inputs) or list(config.inputs), config, run_options(config, encoding, workers, cache, None))
    for problem in outcome.problems:
        click.echo(render(problem, lang), err=True)
    for record in outcome.tables[table].to_pylist():
        click.echo(json.dumps(record, ensure_ascii=False, default=str))
    sys.exit(EXIT_OK if outcome.ok and outcome.reports else EXIT_INVALID)


@cli.command(name="build")
@input_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to publish into, replaced as a whole (default: outputs/ in the project).")
@click.option("--no-wait", is_flag=True, help="Stop at once, instead of waiting, when another run is publishing.")
@click.option("--keep-going", is_flag=True,
              help="Publish the valid rows even when some are rejected; the rejected ones go to the rejects file "
                   "(the exit status is still 1).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where --keep-going writes rejected rows with their reasons and raw cells "
                   "(default: rejects/rejects.csv in the project; never inside the published folder).")
def build_cmd(inputs: tuple[Path, ...], config_path: Path, profile: Path | None, encoding: str | None, lang: str,
              workers: int, cache: bool,
              out: Path | None, no_wait: bool, keep_going: bool, rejects_path: Path | None) -> None:
    """Build the data package and publish it, all or nothing.

    INPUTS are report files or folders (default: the bundled reports in
    data/raw/). When any row is invalid nothing is published and the folder
    stays as it was (exit 1). Otherwise the folder is replaced at once by the
    new package: CSV, Parquet and JSON per table and datapackage.json.

    \b
    Example:
        pipeline build
        pipeline build data/raw/ --out /tmp/package
    """
    config = load(config_path, profile)
    target = out or config.root / "outputs"
    rejects_file = rejects_path or config.root / "rejects" / "rejects.csv"
    if keep_going and rejects_file.resolve().is_relative_to(target.resolve()):
        raise click.UsageError(f"the rejects file must not be inside the published folder {target}")
    try:
        with progress_bar(lang) as progress:
            options = run_options(config, encoding, workers, cache, progress)
            outcome = build(list(inputs) or list(config.inputs), config, target, options, wait=not no_wait,
                            keep_going=keep_going)
    except UnsafeTarget as exc:
        raise click.UsageError(str(exc)) from None
    except PublishBusy as exc:
        click.echo(f"error: {exc}" if lang != "ja" else f"エラー: 別の実行が公開中です。終わってからやり直してください ({exc})", err=True)
        sys.exit(EXIT_INVALID)
    except OSError as exc:
        where = exc.filename or target
        click.echo(f"error: could not publish to {target}: {exc.strerror or exc} ({where}); nothing was changed there"
                   if lang != "ja" else f"エラー: {target} に公開できませんでした: {exc.strerror or exc} ({where})。公開先は変更していません", err=True)
        sys.exit(EXIT_INVALID)
    except ConfigError as exc:  # e.g. x_pipeline.base_url, checked when the portal files are written
        raise click.UsageError(str(exc)) from None
    report(outcome, lang)
    if keep_going and not outcome.ok:
        write_rejects(rejects_file, rejected_rows(outcome, lang))
        click.echo(f"rejected rows and their reasons: {rejects_file}" if lang != "ja" else f"除外した行とその理由: {rejects_file}", err=True)
    if outcome.published is None:
        if not outcome.reports and outcome.ok:
            click.echo("no report files found in the inputs" if lang != "ja" else "報告ファイルが見つかりません", err=True)
        click.echo(f"nothing published; {target} is unchanged" if lang != "ja" else f"公開していません（{target} は変更なし）", err=True)
        sys.exit(EXIT_INVALID)
    rows = outcome.rows.get("incidents", 0)
    click.echo(f"published {rows} incidents to {target}" if lang != "ja" else f"{rows} 件の事案を {target} に公開しました")
    if not outcome.ok:
        sys.exit(EXIT_INVALID)  # published, but some rows were rejected


@cli.command(name="verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_cmd(folder: Path) -> None:
    """Check a published package: files present, sizes and sha256 as declared,
    every table valid against its schema, Parquet and JSON equal to the CSV.

    \b
    Example:
        pipeline verify outputs
    """
    from .verify import verify_package

    problems = verify_package(folder)
    for line in problems:
        click.echo(f"error: {line}", err=True)
    if problems:
        sys.exit(EXIT_INVALID)
    click.echo(f"{folder}: package verified")


@cli.command(name="publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default="outputs")
@click.option("--ckan", "ckan_url", required=True, metavar="URL", help="The CKAN portal, e.g. https://ckan.example.jp")
@click.option("--owner-org", help="The portal's organization that owns the dataset (most portals require one).")
@click.option("--api-key-env", default="CKAN_API_KEY", show_default=True, metavar="NAME",
              help="The environment variable that holds the API key (the key is never an option).")
@click.option("--dry-run", is_flag=True, help="Show every call that would be sent, as JSON; send nothing.")
def publish_cmd(folder: Path, ckan_url: str, owner_org: str | None, api_key_env: str, dry_run: bool) -> None:
    """Create or update the dataset on a CKAN portal and upload the package's files.

    FOLDER is a built package (default: outputs). Its ckan-package.json is the
    dataset; each file goes to the resource of the same name, created when
    missing. The API key comes from the environment variable CKAN_API_KEY
    (or the one --api-key-env names), never from the command line or a file.
    Exit 0 when done, 1 when the package is incomplete or CKAN refused, 2 on
    a usage error (no key, not an http(s) URL).

    \b
    Example:
        pipeline publish outputs --ckan https://ckan.example.jp --owner-org toyooka --dry-run
        read -rs CKAN_API_KEY && export CKAN_API_KEY
        pipeline publish outputs --ckan https://ckan.example.jp --owner-org toyooka
    """
    import json

    from . import ckan

    if not ckan_url.startswith(("http://", "https://")):
        raise click.UsageError(f"--ckan must be the portal's http(s) URL, got {ckan_url!r}")
    key = ckan.api_key(dict(os.environ), api_key_env)
    try:
        if dry_run:
            package = ckan.load_package(folder)
            plan = ckan.plan_publish(package, None, owner_org)
            click.echo(json.dumps({"ckan": ckan_url, "api_key_from": f"${api_key_env}" + ("" if key else " (not set)"),
                                   "calls": plan.describe(folder)}, ensure_ascii=False, indent=2))
            click.echo("dry run: nothing was sent (when the dataset exists, package_patch and resource_patch "
                       "of the resources with the same name are sent instead)", err=True)
            return
        if not key:
            raise click.UsageError(f"set the API key in the environment variable {api_key_env}")
        plan = ckan.publish(folder, ckan_url, key, owner_org)
    except ckan.PublishError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    except Exception as exc:  # ckanapi's errors (NotAuthorized, ValidationError, …) and network failures
        if isinstance(exc, click.ClickException):
            raise
        click.echo(f"error: {ckan_url}: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    for call in plan.calls:
        upload = f" <- {call.upload}" if call.upload else ""
        click.echo(f"{call.action} {call.data.get('name', call.data.get('id', ''))}{upload}")
    click.echo(f"published {folder} to {ckan_url}")


def main() -> None:
    cli(prog_name="pipeline")

