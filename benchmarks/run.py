"""Benchmark: build a package from synthetic reports at several sizes, and time
``frictionless validate`` on the same output in the same run.

For each size the reports are generated (``benchmarks/generate.py``, cached by
its manifest), then one child process per size runs the pipeline's stages
(pipeline/build.py: read_all, normalize_all, to_tables, validate_tables,
write_package; then fsync + atomic swap as ``build`` does) and reports the time
of each stage and its memory high-water mark; the parent takes the child's
peak RSS from ``wait4``, so sizes never mix. Then ``frictionless validate``
runs, also in its own process, on the incidents table of the package just
written, and the ratio build/frictionless is printed (target: ≤ 0.25 at 1M).

The core is not changed for timing: the stage functions are timed from outside,
and the writers, the hashing and the descriptor are wrapped in the child only.

Until a report can find its municipality in the nearest profile.json, the child
reads and normalizes one municipality folder at a time (its profile.json gives
the municipality; the columns are the default profile's) and concatenates the
results; ``--whole`` reads the whole tree in one read_all call instead.

Example:
    .venv/bin/python benchmarks/run.py --sizes 10k,100k
    .venv/bin/python benchmarks/run.py --sizes 1m --work /tmp/jimu-bench --json /tmp/jimu-bench/1m.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
STAGES = ["read", "normalize", "to_tables", "validate", "  checks", "  rules", "write csv", "write parquet", "write json",
          "  cast", "  sha256", "  stat+mkdir", "metadata", "publish (fsync+swap)"]


# ------------------------------------------------------------------ child side

def _vm(key: str) -> int:
    """A /proc/self/status figure in MiB (VmHWM = peak RSS so far, VmRSS = now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    return -1


class Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, int] = {}

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def stage(self, label: str, func: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        result = func(*args)
        self.add(label, time.perf_counter() - started)
        self.peak_mib[label] = _vm("VmHWM")
        return result

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)
        return timed


def child(raw: Path, out: Path, result_path: Path, whole: bool) -> None:
    from pipeline import build, checks, package, publish, rules, writers
    from pipeline.config import Municipality, load_config
    from pipeline.schema import load_schemas

    clock = Clock()
    # wrap the parts of validate_tables and write_package we want split (in this process only)
    checks.check_table = clock.wrap("  checks", checks.check_table)
    rules.check_incidents = clock.wrap("  rules", rules.check_incidents)
    for fmt in list(writers.WRITERS):
        writers.WRITERS[fmt] = clock.wrap(f"write {fmt}", writers.WRITERS[fmt])
    writers.sha256_of = clock.wrap("  sha256", writers.sha256_of)
    package.descriptor = clock.wrap("metadata", package.descriptor)
    package.write_descriptor = clock.wrap("metadata", package.write_descriptor)
    build.write_table = clock.wrap("  write_table", build.write_table)  # write_package = cast + write_table + metadata

    base = load_config(ROOT)
    metadata = dict(base.metadata, title="SYNTHETIC benchmark package (合成データ・架空)", name="synthetic-benchmark")
    base = dataclasses.replace(base, metadata=metadata)
    started = time.perf_counter()
    if whole:
        groups = [(raw, base)]
    else:
        groups = []
        for folder in sorted(p for p in raw.iterdir() if (p / "profile.json").is_file()):
            town = json.loads((folder / "profile.json").read_text(encoding="utf-8"))["municipality"]
            profile = dataclasses.replace(base.profile, municipality=Municipality(town["code"], town["name"]))
            groups.append((folder, dataclasses.replace(base, profile=profile)))

    outcome = build.Outcome()
    per_group = []
    for folder, config in groups:
        reports, problems = clock.stage("read", build.read_all, [folder], config)
        outcome.reports.extend(reports)
        outcome.problems.extend(problems)
        per_group.append((reports, config))
    for reports, config in per_group:
        normalized = clock.stage("normalize", build.normalize_all, reports, config)
        clock.stage("normalize", outcome.normalized.extend, normalized)
    del per_group
    outcome.problems.extend(outcome.normalized.problems)
    schemas = load_schemas()
    outcome.tables = clock.stage("to_tables", build.to_tables, outcome.normalized, schemas)
    outcome.problems.extend(clock.stage("validate", build.validate_tables, outcome.tables, outcome.normalized, schemas))
    errors = [p for p in outcome.problems if p.severity == "error"]
    if errors:
        for p in errors[:20]:
            print(p.as_dict(), file=sys.stderr)
        raise SystemExit(f"{len(errors)} errors: the synthetic reports should be valid")
    if out.exists():
        shutil.rmtree(out)
    staging = publish.new_staging(out)
    clock.stage("write", build.write_package, outcome, base, staging)
    clock.stage("publish (fsync+swap)", publish.swap_in, staging, out)
    total = time.perf_counter() - started

    write = clock.seconds.pop("write")
    write_table = clock.seconds.pop("  write_table")
    clock.seconds["  cast"] = write - write_table - clock.seconds.get("metadata", 0.0)
    formats = sum(clock.seconds.get(f"write {fmt}", 0.0) for fmt in writers.FORMATS)
    clock.seconds["  stat+mkdir"] = write_table - formats - clock.seconds.get("  sha256", 0.0)
    tables = outcome.tables
    result = {
        "seconds": clock.seconds,
        "peak_mib_after": clock.peak_mib,
        "build_seconds": total,
        "reports": len(outcome.reports),
        "rows": {name: t.num_rows for name, t in tables.items()},
        "warnings": len(outcome.problems),
        "bytes": {p.name: p.stat().st_size for p in sorted((out / "data").iterdir())},
    }
    result_path.write_text(json.dumps(result, indent=2), encoding="utf-8")


# ----------------------------------------------------------------- parent side

def run_measured(cmd: list[str], stdout: Path) -> tuple[int, float, int]:
    """Run `cmd`; return its exit status, wall seconds and peak RSS in MiB (from wait4)."""
    started = time.perf_counter()
    with stdout.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss // 1024


def measure(size: int, work: Path, whole: bool, skip_frictionless: bool) -> dict[str, Any]:
    from benchmarks.generate import generate

    label = next((k for k, v in SIZES.items() if v == size), str(size))
    raw, out = work / label / "raw", work / label / "package"
    started = time.perf_counter()
    manifest = generate(raw, size)
    generated = time.perf_counter() - started
    result_file = work / label / "child.json"
    cmd = [sys.executable, __file__, "--child", str(raw), str(out), str(result_file)] + (["--whole"] if whole else [])
    status, wall, peak = run_measured(cmd, work / label / "child.out")
    if status:
        raise SystemExit(f"the build at {label} failed (exit {status}); see {work / label / 'child.out'}")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    result.update(label=label, size=size, generate_seconds=generated, manifest=manifest, process_seconds=wall, peak_rss_mib=peak)
    if not skip_frictionless:
        frictionless = str(Path(sys.executable).with_name("frictionless"))
        report = work / label / "frictionless.json"
        fcmd = [frictionless, "validate", str(out / "datapackage.json"), "--resource-name", "incidents", "--json"]
        status, fwall, fpeak = run_measured(fcmd, report)
        verdict = json.loads(report.read_text(encoding="utf-8"))
        result["frictionless"] = {"seconds": fwall, "peak_rss_mib": fpeak, "valid": verdict.get("valid"),
                                  "errors": [e.get("message") for e in verdict.get("errors", [])][:5]
                                  + [e.get("message") for t in verdict.get("tasks", []) for e in t.get("errors", [])][:5]}
    return result


def machine() -> dict[str, str]:
    import frictionless
    import pyarrow

    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    return {"cpu": cpu, "nproc": str(os.cpu_count()), "memory": f"{int(mem) / 1024 / 1024:.1f} GiB", "python": platform.python_version(),
            "pyarrow": pyarrow.__version__, "frictionless": frictionless.__version__, "os": platform.platform()}


def render(results: list[dict[str, Any]]) -> str:
    def row(name: str, cells: list[str]) -> str:
        return f"| {name} | " + " | ".join(cells) + " |"

    head = [f"{r['size']:,}" for r in results]
    lines = [row("incidents", head), "| --- |" + " ---: |" * len(results)]
    lines.append(row("reports / measures / figures rows", [f"{r['reports']:,} / {r['rows']['measures']:,} / {r['rows']['figures']:,}" for r in results]))
    lines.append(row("incidents.csv size", [f"{r['bytes']['incidents.csv'] / 1e6:,.1f} MB" for r in results]))
    for stage in STAGES:
        cells = [f"{r['seconds'].get(stage, 0.0):.2f} s" for r in results]
        lines.append(row(stage.replace("  ", "· "), cells))
    lines.append(row("**build total** (stages)", [f"**{r['build_seconds']:.2f} s**" for r in results]))
    lines.append(row("build process wall (incl. start-up, imports)", [f"{r['process_seconds']:.2f} s" for r in results]))
    lines.append(row("incidents per second", [f"{r['size'] / r['build_seconds']:,.0f}" for r in results]))
    lines.append(row("peak RSS (build)", [f"{r['peak_rss_mib']:,} MiB" for r in results]))
    lines.append(row("peak RSS after read / normalize / to_tables / validate / write",
                     [" / ".join(str(r["peak_mib_after"].get(k, "-")) for k in ("read", "normalize", "to_tables", "validate", "write")) + " MiB" for r in results]))
    if all("frictionless" in r for r in results):
        lines.append(row("frictionless validate (incidents)", [f"{r['frictionless']['seconds']:.2f} s" + ("" if r["frictionless"]["valid"] else " (INVALID)") for r in results]))
        lines.append(row("peak RSS (frictionless)", [f"{r['frictionless']['peak_rss_mib']:,} MiB" for r in results]))
        lines.append(row("**ratio build / frictionless** (target ≤ 0.25)", [f"**{r['build_seconds'] / r['frictionless']['seconds']:.2f}**" for r in results]))
    lines.append(row("generate reports (not part of the build)", [f"{r['generate_seconds']:.1f} s" for r in results]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        child(Path(args_in[1]), Path(args_in[2]), Path(args_in[3]), "--whole" in args_in)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Example: run.py --sizes 10k,100k")
    parser.add_argument("--sizes", default="10k,100k", help=f"comma-separated, of {', '.join(SIZES)} or a number (default 10k,100k)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/jimu-bench"), help="where reports and packages go (default /tmp/jimu-bench)")
    parser.add_argument("--whole", action="store_true", help="one read_all over the whole tree (needs per-folder profile.json support in the core)")
    parser.add_argument("--no-frictionless", action="store_true", help="skip timing frictionless validate")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(args_in)
    sizes = [SIZES[s.lower()] if s.lower() in SIZES else int(s) for s in args.sizes.split(",")]
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    results = []
    for size in sizes:
        results.append(measure(size, args.work, args.whole, args.no_frictionless))
        r = results[-1]
        ratio = f", frictionless {r['frictionless']['seconds']:.1f} s" if "frictionless" in r else ""
        print(f"{size:,} incidents: build {r['build_seconds']:.1f} s, peak {r['peak_rss_mib']:,} MiB{ratio}", flush=True)
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
