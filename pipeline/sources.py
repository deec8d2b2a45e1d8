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


def _hidden(relative: Path) -> bool:
    """Dot files and folders (editor and notebook checkpoints, .git) and Office lock files."""
    return any(part.startswith(".") for part in relative.parts) or relative.name.startswith("~$")


def _files(top: Path) -> list[tuple[Path, bool]]:
    """Every file under `top` that is not hidden, with whether it is a symbolic link; like
    rglob, symbolic links to folders are not followed. One scandir per folder: no stat
    of each file (a national archive has tens of thousands)."""
    found: list[tuple[Path, bool]] = []
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except PermissionError:
            continue  # as rglob does: a folder that cannot be listed is passed over
        for entry in entries:
            if entry.name.startswith("."):
                continue  # a hidden file, or a hidden folder with everything in it
            if entry.is_dir(follow_symlinks=False):
                folders.append(Path(entry.path))
            elif entry.is_file() and not _hidden(Path(entry.name)):
                found.append((Path(entry.path), entry.is_symlink()))
    return sorted(found)


def _candidates(item: Path) -> tuple[list[tuple[Path, bool]], list[Path]]:
    if not item.is_dir():
        return [(item, True)], []  # True: resolve it in full
    files = _files(item)
    reports = [(p, link) for p, link in files if p.suffix.lower() in REPORT_SUFFIXES]
    others = [p for p, _ in files if p.suffix.lower() not in REPORT_SUFFIXES and p.name not in PROFILE_NAMES and p.suffix.lower() != ".md"]
    return reports, others


def find_inputs(items: list[Path]) -> Found:
    seen: set[str] = set()
    found: list[tuple[Path, Path]] = []
    skipped: list[Problem] = []
    real_folders: dict[Path, str] = {}
    for item in items:
        reports, others = _candidates(item)
        for path, link in reports:
            if link:
                key = os.path.realpath(path)
            else:  # the same file as the real path of its folder, plus its name
                folder = real_folders.get(path.parent) or real_folders.setdefault(path.parent, os.path.realpath(path.parent))
                key = os.path.join(folder, path.name)
            if key not in seen:
                seen.add(key)
                found.append((path, item))
        for path in others:
            skipped.append(Problem("file-skipped", path.relative_to(item).as_posix(), severity="warning",
                                   params={"suffix": path.suffix or "(none)"}))
    names = [path.name if path == top else path.relative_to(top).as_posix() for path, top in found]
    for longer in (lambda p: str(p), lambda p: str(p.resolve())):  # until every name is unique
        clashes = {n for n, times in Counter(names).items() if times > 1}
        names = [longer(path) if name in clashes else name for (path, _), name in zip(found, names)]
    inputs = [Input(path, top, name) for (path, top), name in zip(found, names)]
    return Found(inputs, skipped)


@dataclass(frozen=True)
class Selection:
    reports: list[RawReport]  # one per municipality and period
    clashing: list[RawReport]  # rejected as a whole; still checked alone, so all their errors show
    superseded: list[RawReport]
    problems: list[Problem]


def select_reports(reports: list[RawReport], config: Config) -> Selection:
    groups: dict[tuple[str, object], list[RawReport]] = {}
    for report in reports:
        key = (config.municipality_of(report.profile).code, report.period.start)
        groups.setdefault(key, []).append(report)
    chosen: list[RawReport] = []
    clashing: list[RawReport] = []
    superseded: list[RawReport] = []
    problems: list[Problem] = []
    for group in groups.values():
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
