"""Benchmark: build a package from synthetic reports at several sizes, and time
``frictionless validate`` on the same output in the same run.

For each size the reports are generated (``benchmarks/generate.py``, reused when
its manifest matches), then one child process per size runs ``build.build`` on
them exactly as ``pipeline build`` does (each report finds its municipality in
the nearest profile.json). The stages are timed from outside: the child wraps
the stage functions (process_all with read_report and normalize_report,
select_reports, to_tables, validate_tables, write_package), the checks and rules,
the privacy scan, each writer, the hashing, the descriptor and portal metadata
and the final fsync+swap, and notes the memory high-water mark after each
stage. With more than one part and worker the CSV and JSON files are written by a
process of their own (pipeline/side_writer.py), where nothing is timed: "write"
is then the Parquet files plus the wait for that process at the end, and
"· csv" and "· json" stay at zero. The data files are synced to disk beside the
metadata, so "publish (fsync+swap)" is what is left to sync and the swap. The
parent takes the child's peak RSS from ``wait4`` (its largest process), and
samples the sum over its processes, so sizes never mix; ``wait4`` also gives the
CPU time of the child and the processes it started, steadier than wall time on a
busy machine.
Then ``frictionless validate`` runs, in its own process, on the incidents table
of the package just written, and the ratio build/frictionless is printed (the
target at 1M incidents is ≤ 0.25). Last, one report is changed and the package
rebuilt with the cache of the first build: the incremental figure.

Example:
    .venv/bin/python benchmarks/run.py --sizes 10k,100k
    .venv/bin/python benchmarks/run.py --sizes 1m --json /tmp/jimu-bench/1m.json
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
ROWS = ["read + normalize", "select", "spool: read parts",
        "check (checks ∥ privacy scan)", "· to_tables", "· checks + rules", "· privacy scan", "write", "· csv", "· parquet", "· json", "landing digest", "metadata + portal files",
        "· datapackage.json", "· portal (DCAT, CKAN, landing)", "publish (fsync+swap)", "other (between stages)"]


# ------------------------------------------------------------------ child side

def _vm(key: str) -> int:
    """A /proc/self/status figure in MiB (VmHWM = peak RSS so far, VmRSS = now)."""
    return _status_kib(key) // 1024


def _status_kib(key: str, pid: int | str = "self") -> int:
    """A /proc/<pid>/status figure in KiB; -1 where there is none (a process gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


class Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, int] = {}
        self.lock = threading.Lock()  # the writers time their formats from several threads

    def add(self, label: str, seconds: float) -> None:
        with self.lock:
            self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def wrap(self, label: str, func: Callable[..., Any], peak: bool = False) -> Callable[..., Any]:
        """`func`, adding its time to `label` (and noting the peak RSS after it when `peak`);
        for a generator, the time spent inside it, item by item."""
        if inspect.isgeneratorfunction(func):
            def timed_items(*args: Any, **kwargs: Any) -> Any:
                items = func(*args, **kwargs)
                while True:
                    started = time.perf_counter()
                    try:
                        item = next(items)
                    except StopIteration:
                        if peak:  # at the end only: reading /proc an item at a time cost seconds at 1M
                            self.peak_mib[label] = _vm("VmHWM")
                        return
                    finally:
                        self.add(label, time.perf_counter() - started)
                    yield item
            return timed_items

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)
                if peak:
                    self.peak_mib[label] = _vm("VmHWM")
        return timed


# (label, module, attribute): each is wrapped in the child; labels starting with "· " are parts of the stage above
TIMED = [
    ("read + normalize", "build", "iter_processed"),  # time inside it; spooling the results is timed apart
    ("select", "build", "select_reports"),
    ("spool: read parts", "spool", "Spool.read"),
    ("check (checks ∥ privacy scan)", "build", "validate_all"),
    ("· to_tables", "validation", "to_tables"),
    ("· checks + rules", "validation", "validate_tables"),
    ("· privacy scan", "privacy_tables", "scan_tables"),
    ("write", "writers", "PackageWriter.write"),
    ("write", "writers", "PackageWriter.close"),
    ("write", "side_writer", "SideWriter.finish"),
    ("landing digest", "landing", "Digest.of"),
    ("metadata + portal files", "build", "write_metadata"),
    ("· datapackage.json", "package", "descriptor"),
    ("· datapackage.json", "package", "write_descriptor"),
    ("· portal (DCAT, CKAN, landing)", "portal", "portal_facts"),
    ("· portal (DCAT, CKAN, landing)", "dcat", "write_catalog"),
    ("· portal (DCAT, CKAN, landing)", "ckan", "write_package"),
    ("· portal (DCAT, CKAN, landing)", "landing", "write_landing_page"),
    ("publish (fsync+swap)", "publish", "swap_in"),
]
TOP = ["read + normalize", "select", "spool: read parts", "check (checks ∥ privacy scan)",
       "write", "landing digest", "metadata + portal files", "publish (fsync+swap)"]


def child(raw: Path, out: Path, result_path: Path, workers: int, cache_dir: Path | None) -> None:
    """Run build.build on `raw` as `pipeline build` does, timing its stages from outside."""
    import importlib

    from pipeline import build, writers
    from pipeline.config import load_config

    clock = Clock()
    for label, module_name, attribute in TIMED:
        owner: Any = importlib.import_module(f"pipeline.{module_name}")
        *outer, name = attribute.split(".")
        for part in outer:  # a method: wrapped on its class
            owner = getattr(owner, part)
        declared = vars(owner).get(name)
        if isinstance(declared, (classmethod, staticmethod)):  # rewrapped as it was declared
            setattr(owner, name, type(declared)(clock.wrap(label, declared.__func__, label in TOP)))
        elif hasattr(owner, name):
            setattr(owner, name, clock.wrap(label, getattr(owner, name), label in TOP))
    for fmt in list(writers.WRITERS):
        writers.WRITERS[fmt] = clock.wrap(f"· {fmt}", writers.WRITERS[fmt])

    config = load_config(ROOT)
    metadata = dict(config.metadata, title="SYNTHETIC benchmark package (合成データ・架空)", name="synthetic-benchmark")
    config = dataclasses.replace(config, metadata=metadata)
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    outcome = build.build([raw], config, out, build.Options(workers=workers, cache_dir=cache_dir))
    total = time.perf_counter() - started
    errors = [p for p in outcome.problems if p.severity == "error"]
    if errors or outcome.published is None:
        for p in errors[:20]:
            print(p.as_dict(), file=sys.stderr)
        raise SystemExit(f"{len(errors)} errors, nothing published: the synthetic reports should be valid")
    clock.seconds["other (between stages)"] = total - sum(clock.seconds.get(k, 0.0) for k in TOP)
    result = {
        "seconds": clock.seconds,
        "peak_mib_after": clock.peak_mib,
        "workers": workers,
        "build_seconds": total,
        "reports": len(outcome.reports),
        "rows": dict(outcome.rows),
        "warnings": len(outcome.problems),
        "bytes": {p.name: p.stat().st_size for p in sorted((out / "data").iterdir())},
    }
    result_path.write_text(json.dumps(result, indent=2), encoding="utf-8")


# ----------------------------------------------------------------- parent side

@dataclasses.dataclass(frozen=True)
class Measured:
    """A command run: its exit status, wall seconds, peak RSS in MiB of its largest process
    (from wait4: the command or one of the processes it started), the peak of its
    processes' RSS summed (sampled every 0.2 s; pages forked processes share are counted
    in each, so this is the upper bound) and the CPU seconds, user and system, of all of
    them (wait4 counts the processes it waited for: the workers and the side writer).
    CPU time varies less than wall time from one run to the next on a busy machine."""

    status: int
    wall: float
    peak_mib: int
    peak_sum_mib: int
    cpu: float


def run_measured(cmd: list[str], stdout: Path) -> Measured:
    """Run `cmd`, its output into `stdout`, and measure it (Measured)."""
    started = time.perf_counter()
    peak_sum = 0
    done = threading.Event()

    def sample(pid: int) -> None:
        nonlocal peak_sum
        while not done.wait(0.2):
            peak_sum = max(peak_sum, sum(max(0, _status_kib("VmRSS", p)) for p in _tree(pid)) // 1024)

    with stdout.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(proc.returncode, time.perf_counter() - started, usage.ru_maxrss // 1024, peak_sum, usage.ru_utime + usage.ru_stime)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc (none where there is no /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def touch_one_report(raw: Path) -> Path:
    """Change one report as a correction would (a word in its first summary): still valid."""
    report = next(p for p in sorted(raw.rglob("*.txt")))
    data = report.read_bytes()
    encoding = "cp932" if b"\x82" in data[:4096] and not data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding = "cp932" if encoding == "utf-8" else "utf-8"
        text = data.decode(encoding)
    report.write_bytes(text.replace("誤", "過", 1).encode(encoding))
    return report


def measure(size: int, work: Path, skip_frictionless: bool, workers: int, incremental: bool = True) -> dict[str, Any]:
    from benchmarks.generate import generate

    label = next((k for k, v in SIZES.items() if v == size), str(size))
    raw, out = work / label / "raw", work / label / "package"
    started = time.perf_counter()
    manifest = generate(raw, size)
    generated = time.perf_counter() - started
    result_file = work / label / "child.json"
    cache = work / label / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", str(raw), str(out), str(result_file), str(workers), str(cache) if incremental else ""]
    run = run_measured(cmd, work / label / "child.out")
    if run.status:
        raise SystemExit(f"the build at {label} failed (exit {status}); see {work / label / 'child.out'}")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    result.update(label=label, size=size, generate_seconds=generated, manifest=manifest, process_seconds=run.wall, peak_rss_mib=run.peak_mib,
                  peak_rss_sum_mib=run.peak_sum_mib, process_cpu_seconds=run.cpu)
    if not incremental:
        return _frictionless(result, work / label, out, skip_frictionless)
    changed = touch_one_report(raw)
    again = work / label / "child-incremental.json"
    cmd = [sys.executable, __file__, "--child", str(raw), str(out), str(again), str(workers), str(cache)]
    again_run = run_measured(cmd, work / label / "child-incremental.out")
    if again_run.status:
        raise SystemExit(f"the incremental build at {label} failed (exit {again_run.status})")
    incremental = json.loads(again.read_text(encoding="utf-8"))
    result["incremental"] = {"changed": str(changed.relative_to(raw)), "build_seconds": incremental["build_seconds"],
                             "seconds": incremental["seconds"], "peak_rss_mib": again_run.peak_mib}
    return _frictionless(result, work / label, out, skip_frictionless)


def _frictionless(result: dict[str, Any], folder: Path, out: Path, skip: bool) -> dict[str, Any]:
    """`frictionless validate` of the incidents CSV just published, timed the same way."""
    if not skip:
        for name in ("incidents", "reports"):  # reports.csv: frictionless reads it for the foreign key
            _read_through(out / "data" / f"{name}.csv")
        frictionless = str(Path(sys.executable).with_name("frictionless"))
        report = folder / "frictionless.json"
        fcmd = [frictionless, "validate", str(out / "datapackage.json"), "--resource-name", "incidents", "--json"]
        checked = run_measured(fcmd, report)
        verdict = json.loads(report.read_text(encoding="utf-8"))
        result["frictionless"] = {"seconds": checked.wall, "peak_rss_mib": checked.peak_mib, "valid": verdict.get("valid"),
                                  "errors": [e.get("message") for e in verdict.get("errors", [])][:5]
                                  + [e.get("message") for t in verdict.get("tasks", []) for e in t.get("errors", [])][:5]}
    return result


def _read_through(path: Path) -> None:
    """The file read once, untimed: the build writes its data files past the page cache
    (pipeline/disk_file.py), and frictionless is to be timed reading the CSVs from memory,
    as it was before, not from the disk."""
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


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
    for stage in ROWS:
        lines.append(row(stage, [f"{r['seconds'].get(stage, 0.0):.2f} s" for r in results]))
    lines.append(row("**build total** (stages)", [f"**{r['build_seconds']:.2f} s**" for r in results]))
    lines.append(row("build process wall (incl. start-up, imports)", [f"{r['process_seconds']:.2f} s" for r in results]))
    lines.append(row("CPU time, user + system, of the build's processes", [f"{r.get('process_cpu_seconds', 0.0):.1f} s" for r in results]))
    lines.append(row("incidents per second", [f"{r['size'] / r['build_seconds']:,.0f}" for r in results]))
    if all("incremental" in r for r in results):
        lines.append(row("**rebuild after changing one report** (cache)", [f"**{r['incremental']['build_seconds']:.2f} s**" for r in results]))
        lines.append(row("· of which read + normalize", [f"{r['incremental']['seconds'].get('read + normalize', 0.0):.2f} s" for r in results]))
    lines.append(row("peak RSS (build: its largest process)", [f"{r['peak_rss_mib']:,} MiB" for r in results]))
    lines.append(row("peak RSS summed over the build's processes (sampled)", [f"{r.get('peak_rss_sum_mib', 0):,} MiB" for r in results]))
    lines.append(row("peak RSS of the build process after read + normalize / spool: read parts / check / write",
                     [" / ".join(f"{r['peak_mib_after'].get(k, 0):,}" for k in ("read + normalize", "spool: read parts", "check (checks ∥ privacy scan)", "write"))
                      + " MiB" for r in results]))
    if all("frictionless" in r for r in results):
        lines.append(row("frictionless validate (incidents)", [f"{r['frictionless']['seconds']:.2f} s" + ("" if r["frictionless"]["valid"] else " (INVALID)") for r in results]))
        lines.append(row("peak RSS (frictionless)", [f"{r['frictionless']['peak_rss_mib']:,} MiB" for r in results]))
        lines.append(row("**ratio build / frictionless** (target ≤ 0.25)", [f"**{r['build_seconds'] / r['frictionless']['seconds']:.2f}**" for r in results]))
    lines.append(row("generate reports (not part of the build)", [f"{r['generate_seconds']:.1f} s" for r in results]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        child(Path(args_in[1]), Path(args_in[2]), Path(args_in[3]), int(args_in[4]), Path(args_in[5]) if args_in[5] else None)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Example: run.py --sizes 10k,100k")
    parser.add_argument("--sizes", default="10k,100k", help=f"comma-separated, of {', '.join(SIZES)} or a number (default 10k,100k)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/jimu-bench"), help="where reports and packages go (default /tmp/jimu-bench)")
    parser.add_argument("--no-frictionless", action="store_true", help="skip timing frictionless validate")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--no-incremental", action="store_true",
                        help="no cache and no rebuild after changing one report (at 10M the cache and a second package do not fit on disk)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    args = parser.parse_args(args_in)
    sizes = [SIZES[s.lower()] if s.lower() in SIZES else int(s) for s in args.sizes.split(",")]
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + f", workers {args.workers}", flush=True)
    results = []
    for size in sizes:
        results.append(measure(size, args.work, args.no_frictionless, args.workers, not args.no_incremental))
        r = results[-1]
        ratio = f", frictionless {r['frictionless']['seconds']:.1f} s" if "frictionless" in r else ""
        print(f"{size:,} incidents: build {r['build_seconds']:.1f} s, peak {r['peak_rss_mib']:,} MiB{ratio}", flush=True)
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
