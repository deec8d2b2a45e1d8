"""Configuration the data team edits: the root datapackage.json and a source profile.

The root ``datapackage.json`` carries the dataset's metadata (titles, licence,
publisher, keywords) and the municipality; its ``x_pipeline`` block names the
source profile and the default inputs. A source profile maps the column
headers of one city's report layout to the published fields (see
``profiles/README.md``).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .safety import UnsafePath, contained
from .text import squash_spaces

# the columns a report may have; "dates" holds 発生日 (判明日) in one cell, a layout
# with two columns maps "occurred" and "discovered" instead
COLUMN_KEYS = ("no", "dates", "occurred", "discovered", "category", "office", "summary", "leak", "response", "measures", "phone")
REQUIRED_COLUMNS = ("no", "category", "office", "summary", "leak")
PROFILE_FILE = "profile.json"


class ConfigError(Exception):
    """The configuration itself is wrong: a usage error (exit 2), not bad input."""


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    prefecture: str = ""


@dataclass(frozen=True)
class Profile:
    name: str
    columns: dict[str, tuple[str, ...]]  # key -> header texts accepted
    municipality: Municipality | None = None
    path: str = ""
    sheet: str | None = None  # the worksheet of an Excel workbook (default: the first visible one)

    @property
    def date_keys(self) -> tuple[str, ...]:
        """The required date column(s): the combined cell, or 判明日 on its own."""
        return ("discovered",) if "discovered" in self.columns else ("dates",)

    @property
    def required(self) -> tuple[str, ...]:
        return REQUIRED_COLUMNS + self.date_keys

    @functools.cached_property
    def _keys(self) -> dict[str, str]:
        return {squash_spaces(t): key for key, texts in reversed(self.columns.items()) for t in texts}

    @functools.cached_property
    def _seen(self) -> dict[str, str | None]:
        return {}  # header text as written -> its key: the same few texts head thousands of reports

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without what it remembers (_keys, _seen): a profile goes with every
        report to and from the workers and into the cache, and those were most of it."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_keys", "_seen")}

    def key_for_header(self, header: str) -> str | None:
        seen = self._seen
        if header in seen:
            return seen[header]
        key = self._keys.get(squash_spaces(header))
        if len(seen) < 4096:  # titles and other cells above the header are new each time: bounded
            seen[header] = key
        return key

    def header_text(self, key: str) -> str:
        return self.columns[key][0]


@dataclass(frozen=True)
class Config:
    root: Path
    metadata: dict[str, Any]  # the root datapackage.json without x_pipeline
    municipality: Municipality
    profile: Profile
    inputs: tuple[Path, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def profile_for(self, report: Path, top: Path, loaded: dict[Path | str, Profile] | None = None) -> Profile:
        """The nearest profile.json in the report's folder or above it, up to the input
        folder `top`; else the configured profile. Columns left out are inherited.
        `loaded` keeps the profiles read so far in this run, by their Path, and the one
        found for each folder, by its name as text (a str never equals a Path): a folder
        holds many reports, and finding its profile so spares each the walk with Path's
        operations (prepare took 13.8 µs a report, 10.0 so)."""
        here = os.path.dirname(report)
        if loaded is not None and here in loaded:
            return loaded[here]
        profile = self._nearest_profile(report.parent, top, loaded)
        if loaded is not None:
            loaded[here] = profile
        return profile

    def _nearest_profile(self, folder: Path, top: Path, loaded: dict[Path | str, Profile] | None) -> Profile:
        while True:
            candidate = folder / PROFILE_FILE
            if loaded is not None and candidate in loaded:
                return loaded[candidate]
            if candidate.is_file():
                profile = load_profile(candidate, self.profile)
                if loaded is not None:
                    loaded[candidate] = profile
                return profile
            if folder == top or folder == folder.parent or top not in folder.parents:
                return self.profile
            folder = folder.parent

    def municipality_of(self, profile: Profile) -> Municipality:
        return profile.municipality or self.municipality


def _municipality(data: dict[str, Any], where: str) -> Municipality:
    try:
        return Municipality(str(data["code"]), str(data["name"]), str(data.get("prefecture", "")))
    except (KeyError, TypeError):
        raise ConfigError(f"{where}: municipality needs a code and a name") from None


def load_profile(path: Path, base: Profile | None = None) -> Profile:
    """Read a source profile; what it leaves out (columns, municipality) comes from `base`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the source profile {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a source profile is a JSON object")
    raw_columns = data.get("columns")
    if raw_columns is None and base is not None:
        columns = dict(base.columns)
    else:
        columns = {key: tuple([v] if isinstance(v, str) else v) for key, v in (raw_columns or {}).items()}
    unknown = sorted(set(columns) - set(COLUMN_KEYS))
    missing = [key for key in REQUIRED_COLUMNS if key not in columns]
    if "dates" not in columns and "discovered" not in columns:
        missing.append("dates (or discovered)")
    if unknown or missing:
        raise ConfigError(f"{path}: unknown column keys {unknown} / missing {missing}; keys are {list(COLUMN_KEYS)}")
    muni = _municipality(data["municipality"], str(path)) if "municipality" in data else (base.municipality if base else None)
    return Profile(
        name=str(data.get("name", path.stem)),
        columns=columns,
        municipality=muni,
        path=str(path),
        sheet=data.get("sheet", base.sheet if base and raw_columns is None else None),
    )


def load_config(root: Path, profile_path: Path | None = None) -> Config:
    """Read ``root/datapackage.json``; a profile given here overrides the one it names."""
    descriptor = root / "datapackage.json"
    try:
        metadata = json.loads(descriptor.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {descriptor}: {exc}") from None
    settings = metadata.pop("x_pipeline", {})
    if "municipality" not in metadata:
        raise ConfigError(f"{descriptor}: add a municipality block with its code and name")
    municipality = _municipality(metadata["municipality"], str(descriptor))
    try:
        configured = contained(root, settings.get("profile", "profiles/toyooka.json"))
        inputs = tuple(contained(root, p) for p in settings.get("inputs", ["data/raw"]))
    except UnsafePath as exc:
        raise ConfigError(f"{descriptor}: x_pipeline paths must stay inside the project folder: {exc.reason}") from None
    profile = load_profile(profile_path or configured)
    return Config(root, metadata, municipality, profile, inputs, settings)
