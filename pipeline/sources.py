"""Which input files are reports, what each is called, and which report counts for a period.

- Files named directly are read whatever their kind; under a folder, the files
  with a report suffix are read, the rest are listed as skipped (a quarter must
  not go missing silently). A file named twice is read once.
- A file is named relative to the folder it was found in (its own name when
  named directly); when two inputs give the same name, the longer path is used
  so that messages, rejects and `reports.source_file` stay unambiguous.
- One report per municipality and period: a report marked 訂正版 replaces the
  original; two unmarked reports (or two corrections) for one period are an
  error on each of them.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import Problem
from .readers import RawReport, REPORT_SUFFIXES

PROFILE_NAMES = ("profile.json",)


@dataclass(frozen=True)
class Input:
    path: Path
    top: Path  # the input argument it was found under
    name: str  # how messages and the published tables name it


@dataclass(frozen=True)
class Found:
    inputs: list[Input]
    skipped: list[Problem]


def _suffix(name: str) -> str:
    """Path.suffix of a file name, without a Path: none for "a." (os.path.splitext would give ".")."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _path_order(found: tuple[str, str, bool]) -> str:
    """Sorts paths under one folder as their Path objects sort, part by part (case-folded on
    Windows), in one string comparison: with each separator as "\\0", below any character a
    name can hold, a part that ends sorts before a longer one, as in a comparison of lists."""
    path = found[0].lower() if os.name == "nt" else found[0]
    return path.replace(os.sep, "\0")


def _files(top: str) -> list[tuple[str, str, bool]]:
    """Every file under `top` that is not hidden, as (path, name, whether it is a symbolic link),
    in the order of their Paths. Hidden: dot files and folders (editor and notebook checkpoints,
    .git) and Office lock files. Like rglob, symbolic links to folders are not followed. One
    scandir per folder, no stat of each file and no Path either: a national archive has tens of
    thousands, and pathlib's parsing and comparisons took most of the time."""
    found: list[tuple[str, str, bool]] = []
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except PermissionError:
            continue  # as rglob does: a folder that cannot be listed is passed over
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue  # a hidden file, or a hidden folder with everything in it
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            elif entry.is_file() and not name.startswith("~$"):
                found.append((entry.path, name, entry.is_symlink()))
    found.sort(key=_path_order)
    return found


def _candidates(item: Path) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
    """The reports to read as (path, name, whether to resolve it in full), and the files skipped
    as (path, suffix)."""
    if not item.is_dir():
        return [(str(item), item.name, True)], []  # True: resolve it in full
    reports: list[tuple[str, str, bool]] = []
    others: list[tuple[str, str]] = []
    for path, name, link in _files(str(item)):
        suffix = _suffix(name)
        if suffix.lower() in REPORT_SUFFIXES:
            reports.append((path, name, link))
        elif name not in PROFILE_NAMES and suffix.lower() != ".md":
            others.append((path, suffix))
    return reports, others


def find_inputs(items: list[Path]) -> Found:
    seen: set[str] = set()
    found: list[tuple[Path, Path, str]] = []  # path, the item it was found under, its name there
    skipped: list[Problem] = []
    real_folders: dict[str, str] = {}
    for item in items:
        named = str(item)
        start = len(named) if named.endswith(os.sep) else len(named) + 1  # of a path relative to it
        reports, others = _candidates(item)
        for path, name, link in reports:
            if link:
                key = os.path.realpath(path)
            else:  # the same file as the real path of its folder, plus its name
                parent = path[:-len(name)]  # with its separator; so is its real path, ready to join
                folder = real_folders.get(parent) or real_folders.setdefault(parent, os.path.join(os.path.realpath(parent), ""))
                key = folder + name
            if key not in seen:
                seen.add(key)
                if path == named:  # the file named directly
                    found.append((item, item, name))
                else:
                    found.append((Path(path), item, path[start:].replace(os.sep, "/")))
        for path, suffix in others:
            skipped.append(Problem("file-skipped", path[start:].replace(os.sep, "/"), severity="warning",
                                   params={"suffix": suffix or "(none)"}))
    names = [name for _, _, name in found]
    for longer in (lambda p: str(p), lambda p: str(p.resolve())):  # until every name is unique
        clashes = {n for n, times in Counter(names).items() if times > 1}
        if not clashes:
            break
        names = [longer(path) if name in clashes else name for (path, _, _), name in zip(found, names)]
    inputs = [Input(path, top, name) for (path, top, _), name in zip(found, names)]
    return Found(inputs, skipped)


@dataclass(frozen=True)
class Selection:
    reports: list[RawReport]  # one per municipality and period
    clashing: list[RawReport]  # rejected as a whole; still checked alone, so all their errors show
    superseded: list[RawReport]
    problems: list[Problem]


def period_key(report: RawReport, config: Config) -> tuple[str, object]:
    """What a report is the report of: its municipality and the start of its period."""
    return config.municipality_of(report.profile).code, report.period.start


def select_reports(reports: list[RawReport], config: Config, keys: list[tuple[str, object]] | None = None) -> Selection:
    """`keys`: each report's period_key, when known already (a build notes them as the
    reports come, rather than visit 66,000 reports again at 1M)."""
    keys = [period_key(r, config) for r in reports] if keys is None else keys
    if len(set(keys)) == len(keys):  # each period's only report (as in nearly every archive): they all count
        return Selection(list(reports), [], [], [])
    groups: dict[tuple[str, object], list[RawReport]] = {}
    for key, report in zip(keys, reports):
        groups.setdefault(key, []).append(report)
    chosen: list[RawReport] = []
    clashing: list[RawReport] = []
    superseded: list[RawReport] = []
    problems: list[Problem] = []
    for group in groups.values():
        if len(group) == 1:  # the period's only report (nearly every one of an archive's): it counts
            chosen.append(group[0])
            continue
        corrections = [r for r in group if r.correction]
        originals = [r for r in group if not r.correction]
        clash = corrections if len(corrections) > 1 else originals if not corrections and len(originals) > 1 else []
        for report in clash:
            others = "、".join(r.file for r in clash if r is not report)
            problems.append(Problem("duplicate-report", report.file, value=report.title, params={"other_file": others}))
        if clash:
            clashing.extend(clash)
            continue
        winner = corrections[0] if corrections else originals[0]
        chosen.append(winner)
        for replaced in originals if corrections else []:
            superseded.append(replaced)
            problems.append(Problem("report-superseded", replaced.file, value=replaced.title, severity="warning",
                                    params={"other_file": winner.file, "rows": str(replaced.rows_read)}))
    return Selection(chosen, clashing, superseded, problems)
