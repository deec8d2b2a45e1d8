"""Generate SYNTHETIC 事務処理誤り reports in the real report's format, for benchmarks.

Everything written here is invented: the municipalities (names made up, codes
merely valid by their JIS X 0402 check digit), the incidents and the phones.
Each report says so in a comment line and in its title (合成データ), and the
output folder gets a README saying the same. Nothing is ever written under the
project's ``data/`` folder.

Layout (one folder per municipality, one file per fiscal quarter):

    OUT/README.md
    OUT/manifest.json                    # the parameters, so a run can reuse the tree
    OUT/<code>/profile.json              # {"name", "municipality": {"code", "name"}, ...}
    OUT/<code>/<fiscal year>q<N>.txt     # q1 = April-June of that year ... q4 = January-March

The rows follow the bundled Toyooka report: ``2024.4.8 (2024.4.15)`` dates (also
era, slash and full-width forms, unknown and ranges), ``部 課`` offices, a 概要
with a trailing ``【人数：3人 金額12,000円】`` block in about 45% of rows,
``有(89人)``/``無``, ``・`` bullets in 再発防止策, ``0796-24-7033`` phones; some
municipalities write era titles (``【令和6年4月～6月判明分】``), use the other
header texts the default profile accepts, CRLF line ends or Shift_JIS (CP932).
Output is deterministic: the same options give the same bytes.

Example:
    .venv/bin/python benchmarks/generate.py --incidents 10000 --out /tmp/jimu-bench/10k
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import phrases as P  # noqa: E402
from pipeline.rules import check_digit  # noqa: E402

MAX_NO = 999  # incident_id holds the No in three digits
GENERATOR_VERSION = 3


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    area: str  # phone area code, e.g. 0796
    exchange_len: int
    header: int  # index into phrases.HEADERS
    era_titles: float  # share of reports with an era-form title
    date_style: str
    encoding: str  # utf-8 | cp932
    newline: str
    weight: float  # relative size


def _towns(count: int, seed: int) -> list[Town]:
    rng = random.Random(f"{seed}:towns")
    candidates = [(p, n) for p in range(1, 48) for n in (*range(201, 236), *range(301, 620, 3))]
    picked = sorted(rng.sample(candidates, count))
    names: set[str] = set()
    towns: list[Town] = []
    for pref, n in picked:
        code5 = f"{pref:02d}{n:03d}"
        suffix = "市" if n < 300 else rng.choice("町町町村")
        while True:
            name = "".join(rng.sample(P.NAME_KANJI, rng.choice((2, 2, 2, 3)))) + suffix
            if name not in names:
                names.add(name)
                break
        area_len = rng.choice((3, 4, 4, 4, 5))
        area = "070"
        while area[:3] in ("020", "050", "060", "070", "080", "090") or area.startswith(("0120", "0570", "0800")):
            area = "0" + str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(area_len - 2))  # landlines only
        towns.append(
            Town(
                code=code5 + str(check_digit(code5)),
                name=name,
                area=area,
                exchange_len=6 - area_len,
                header=rng.choices(range(len(P.HEADERS)), weights=P.HEADER_WEIGHTS)[0],
                era_titles=rng.choice((0.0, 0.0, 0.0, 0.5, 1.0)),
                date_style=rng.choices(("dot", "era", "slash", "wide", "abbr"), weights=(70, 14, 8, 4, 4))[0],
                encoding=rng.choices(("utf-8", "cp932"), weights=(85, 15))[0],
                newline=rng.choices(("\n", "\r\n"), weights=(70, 30))[0],
                weight=rng.lognormvariate(0, 0.6) * (2.0 if suffix == "市" else 1.0),
            )
        )
    return towns


def allocate(total: int, weights: list[float], rng: random.Random, cap: int = MAX_NO) -> list[int]:
    """`total` split over len(weights) reports, each 1..cap, roughly proportional to the weights."""
    n = len(weights)
    if not n <= total <= n * cap:
        raise SystemExit(f"{total} incidents do not fit {n} reports of 1..{cap} rows; change --municipalities or --years")
    jittered = [w * rng.uniform(0.5, 1.5) for w in weights]
    scale = (total - n) / sum(jittered)
    counts = [1 + min(cap - 1, int(w * scale)) for w in jittered]
    short = total - sum(counts)
    order = sorted(range(n), key=lambda i: -jittered[i])
    while short:
        for i in order:
            if short and counts[i] < cap:
                counts[i] += 1
                short -= 1
    return counts


# --------------------------------------------------------------------- dates

def era(d: date) -> tuple[str, str]:
    """(era name, year in era: 元 for the first)."""
    name, first = ("令和", date(2019, 5, 1)) if d >= date(2019, 5, 1) else ("平成", date(1989, 1, 8))
    year = d.year - first.year + 1
    return name, "元" if year == 1 else str(year)


def write_date(d: date, style: str) -> str:
    if style == "era":
        name, year = era(d)
        return f"{name}{year}年{d.month}月{d.day}日"
    if style == "abbr":
        name, year = era(d)
        return f"{'R' if name == '令和' else 'H'}{1 if year == '元' else year}.{d.month}.{d.day}"
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    text = f"{d.year}.{d.month}.{d.day}"
    return text.translate(P.WIDE) if style == "wide" else text


def period(fy: int, quarter: int) -> tuple[date, date]:
    year, month = (fy, 3 * quarter + 1) if quarter < 4 else (fy + 1, 1)
    end_month = month + 2
    last = (date(year + (end_month == 12), end_month % 12 + 1, 1) - timedelta(days=1))
    return date(year, month, 1), last


def period_title(start: date, end: date, as_era: bool) -> str:
    if not as_era:
        return f"【{start.year}年{start.month}月～{end.month}月判明分】"
    e1, y1 = era(start)
    e2, y2 = era(end)
    tail = f"{end.month}月" if e1 == e2 else f"{e2}{y2}年{end.month}月"
    return f"【{e1}{y1}年{start.month}月～{tail}判明分】"


def dates_cell(rng: random.Random, start: date, end: date, style: str) -> str:
    discovered = start + timedelta(days=rng.randint(0, (end - start).days))
    lag = 0 if rng.random() < 0.25 else int(rng.expovariate(1 / 40)) % 700
    occurred = discovered - timedelta(days=lag)
    left, right = ("（", "）") if rng.random() < 0.2 else (" (", ")")
    r = rng.random()
    if r < 0.03:
        first = rng.choice(("不明", "不詳"))
    elif r < 0.08:
        until = occurred + timedelta(days=rng.randint(1, max(1, lag)))
        until = min(until, discovered)
        first = f"{write_date(occurred, style)}～{write_date(until, style)}"
    else:
        first = write_date(occurred, style)
    return f"{first}{left}{write_date(discovered, style)}{right}"


# ---------------------------------------------------------------------- text

def figures_block(rng: random.Random, kind: str) -> str:
    persons = max(1, int(rng.paretovariate(1.3)))
    parts: list[str] = []
    r = rng.random()
    if kind == "money" or r < 0.35:
        if rng.random() < 0.4:
            parts.append(f"世帯数：{max(1, persons - rng.randint(0, persons // 2 + 1))}世帯")
        parts.append(f"人数：{persons}人")
        amount = rng.randint(1, 400) * rng.choice((100, 1000, 1000, 10))
        parts.append(rng.choice((f"総額：{amount:,}円", f"金額{amount:,}円", f"約{max(1, amount // 10000)}万円")))
    elif r < 0.55:
        parts.append(f"施設数：{rng.randint(1, 12)}施設")
        parts.append(f"金額{rng.randint(1, 900) * 1000:,}円")
    elif r < 0.75:
        shown = max(2, persons)
        parts.append(f"{rng.choice(P.FIGURE_LABELS)}：{shown}人")
        parts.append(f"{rng.choice(P.FIGURE_LABELS)}：うち{rng.randint(1, shown)}人")
    else:
        parts.append(f"人数：{persons}人" if rng.random() < 0.8 else f"件数：{persons}件")
    return "【" + " ".join(parts) + "】"


def incident(rng: random.Random, town: Town, no: int, start: date, end: date, style: str) -> list[str]:
    kind_name, kind = rng.choices(P.KINDS, weights=[k[1]["weight"] for k in P.KINDS])[0]
    department, division = rng.choice(P.OFFICES)
    office = division if department is None else department + rng.choice((" ", " ", "\u3000")) + division
    program = rng.choice(P.PROGRAMS)
    summary = rng.choice(P.OPENINGS).format(program=program) + rng.choice(kind["what"]).format(
        doc=rng.choice(P.DOCUMENTS), who=rng.choice(P.RECIPIENTS), info=rng.choice(P.INFO))
    if rng.random() < 0.6:
        summary += rng.choice(P.DETAILS)
    if rng.random() < 0.45 or kind.get("money"):
        summary += " " + figures_block(rng, "money" if kind.get("money") else kind_name)
    if town.encoding == "utf-8" and rng.random() < 0.0005:
        summary = summary.replace("を", "为", 1)  # the seed's typo from a Chinese IME: a warning, not an error
    leak = "無"
    if kind.get("leak") and rng.random() < 0.9:
        n = max(1, int(rng.paretovariate(1.1)))
        leak = rng.choice((f"有({n:,}人)", f"有（{n}人）", f"有({n}名)")) if rng.random() < 0.95 else "有（不明）"
    response = "" if rng.random() < 0.04 else "。".join(rng.sample(kind["response"], rng.choice((1, 1, 2)))) + rng.choice(P.RESPONSE_TAILS)
    count = rng.choices((0, 1, 2, 3, 4), weights=(4, 10, 45, 30, 11))[0]
    chosen = rng.sample(P.MEASURES, count)
    if count == 1 and rng.random() < 0.6:
        measures = chosen[0]
    else:
        measures = " ".join("・" + m for m in chosen)
    phone = ""
    if rng.random() > 0.05:
        local = _stable_hash(division) + int(town.code)
        exchange = str(10 ** (town.exchange_len - 1) + local % (9 * 10 ** (town.exchange_len - 1)))
        number = f"{town.area}-{exchange}-{local % 9000 + 1000}"
        r = rng.random()
        phone = number.translate(P.WIDE) if r < 0.05 else number if r < 0.95 else f"{town.area}({exchange}){number[-4:]}"
    dates = dates_cell(rng, start, end, style)
    return [str(no), dates, kind_name, office, summary, leak, response, measures, phone]


def report_text(town: Town, fy: int, quarter: int, rows: int, seed: int) -> str:
    rng = random.Random(f"{seed}:{town.code}:{fy}q{quarter}")
    start, end = period(fy, quarter)
    title = f"事務処理誤り等に関する対応状況（合成データ） {period_title(start, end, rng.random() < town.era_titles)}"
    lines = ["", P.SYNTHETIC_NOTE, "", title, "", "\t".join(P.HEADERS[town.header])]
    for no in range(1, rows + 1):
        lines.append("\t".join(incident(rng, town, no, start, end, town.date_style)))
    return town.newline.join(lines) + town.newline


def _stable_hash(text: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(text))


def write_town(args: tuple[Town, list[tuple[int, int, int]], str, int]) -> int:
    town, reports, out, seed = args
    folder = Path(out) / town.code
    folder.mkdir(parents=True, exist_ok=True)
    profile = {"name": f"synthetic-{town.code}", "description": "SYNTHETIC benchmark data (合成データ): this municipality is invented",
               "municipality": {"code": town.code, "name": town.name}}
    (folder / "profile.json").write_text(json.dumps(profile, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for fy, quarter, rows in reports:
        text = report_text(town, fy, quarter, rows, seed)
        (folder / f"{fy}q{quarter}.txt").write_bytes(text.encode(town.encoding))
    return sum(r for _, _, r in reports)


def refuse_inside_data(out: Path) -> None:
    data = (ROOT / "data").resolve()
    target = out.resolve()
    if target == data or data in target.parents:
        raise SystemExit(f"refusing to write synthetic reports under {data}: choose a folder outside the project's data/")


def generate(out: Path, incidents: int, municipalities: int | None = None, years: int = 10, first_year: int = 2015,
             seed: int = 6, workers: int | None = None) -> dict[str, object]:
    refuse_inside_data(out)
    quarters = [(fy, q) for fy in range(first_year, first_year + years) for q in (1, 2, 3, 4)]
    count = municipalities or max(1, min(1741, round(incidents / (len(quarters) * 15))))
    towns = _towns(count, seed)
    weights = [t.weight for t in towns for _ in quarters]
    counts = allocate(incidents, weights, random.Random(f"{seed}:counts"))
    manifest = {"synthetic": True, "generator_version": GENERATOR_VERSION, "incidents": incidents, "municipalities": count,
                "years": years, "first_year": first_year, "seed": seed, "reports": len(counts)}
    if (out / "manifest.json").is_file() and json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest:
        return manifest  # already generated with the same parameters
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    (out / "README.md").write_text(P.README.format(**manifest), encoding="utf-8")
    jobs = []
    for i, town in enumerate(towns):
        mine = counts[i * len(quarters) : (i + 1) * len(quarters)]
        jobs.append((town, [(fy, q, n) for (fy, q), n in zip(quarters, mine)], str(out), seed))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        written = sum(pool.map(write_town, jobs, chunksize=max(1, len(jobs) // 64)))
    assert written == incidents
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Example: generate.py --incidents 10000 --out /tmp/jimu-bench/10k")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (never under data/)")
    parser.add_argument("--incidents", type=int, default=10_000, help="total incident rows (default 10000)")
    parser.add_argument("--municipalities", type=int, help="default: about 15 incidents per report, at most 1741")
    parser.add_argument("--years", type=int, default=10, help="fiscal years per municipality (4 reports each)")
    parser.add_argument("--first-year", type=int, default=2015)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--workers", type=int, help="processes writing files (default: all cores)")
    args = parser.parse_args(argv)
    manifest = generate(args.out, args.incidents, args.municipalities, args.years, args.first_year, args.seed, args.workers)
    print(json.dumps(manifest, ensure_ascii=False))


if __name__ == "__main__":
    main()
