"""National-scale benchmark: ~2,850 counties and ~260,000 schools a year, every figure beside a
baseline measured in the same run.

    .venv/bin/python bench/run.py                 # one national year
    .venv/bin/python bench/run.py --years 10      # ten national years end to end as well

Generates the input once (cached under bench/out/, one GB18030 CSV per province, as provinces
hand them in), then:
  1. runs the pipeline's steps one by one (the functions the Dagster assets call, models in the
     registry's order) and prints wall time and peak memory per step;
  2. runs the compute core (units → indicators → school rule → CVs) in plain vectorised pandas
     (bench/pandas_baseline.py) on the same staged rows, checks it agrees, and prints the ratio;
  3. runs `junheng run` end to end (the command, in a process of its own), then again after one
     province's file changed, and prints each run's time and processor time (the command's and
     its workers'), its time by Dagster's steps (from its run storage) and outside them (start-up,
     imports, between runs);
  4. with --years N, runs N national years end to end, timed the same way.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "pipelines"))
sys.path.insert(0, str(ROOT))

from junheng import steps, validation, warehouse  # noqa: E402
from junheng.models import ALL_YEARS_MODELS, MODELS, PUBLISHED_MODELS, YEAR_MODELS  # noqa: E402
from junheng.policy import Policy  # noqa: E402
from junheng.sample import generate_county_forms, generate_national, national_counties, write_csv_gb18030  # noqa: E402

OUT = ROOT / "bench" / "out"
REPEATS = 3   # the compute core is timed this many times on each side, and the best kept: one run
              # of a second or two moves by ±20% on a shared machine
CORE = ("school_units", "unit_indicators", "school_indicators", "county_variation", "county_cv")
PLAN = ("unit_gaps", "unit_plan", "county_plan", "province_plan (all years)")


def _private_kb(pid: int) -> int:
    """The pages a process holds alone: what it allocated or changed itself (a forked worker
    shares the rest with its parent, a spawned one shares the libraries)."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:  # the process ended meanwhile
        pass
    return total


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # the process ended meanwhile
        pass
    return 0


def memory_mb(root: int | None = None) -> float:
    """Memory of a process (this one by default: its resident set) and of every process it
    started (the plan's and the dashboards' workers: the pages each holds alone), so a page a
    worker shares with the process counts once. The process's own set is read from its status
    line: reading its page map instead takes its page tables' lock and stalls it."""
    root = root or os.getpid()
    return (_rss_kb(root) + sum(_private_kb(pid) for pid in _descendants(root)[1:])) / 1024


def _children_cpu() -> float:
    """Processor seconds (user and system) of the processes this one has started and waited for."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


class PeakSampler:
    """Samples memory every 50 ms while a step runs (native memory and worker processes included),
    of this process or of another one (a command it started), and counts the processor time the
    step took: on two cores a run takes at least half of it in wall time, whatever its steps' order.
    For this process, its own threads' time and that of the workers it waited for (less the
    sampling's own); for a command, the command's and its waited workers'."""

    def __init__(self):
        self.peak = 0.0
        self.processor = 0.0
        self._sampling = 0.0
        self._stop = threading.Event()
        self._root: int | None = None

    def _loop(self):
        started = time.thread_time()
        while not self._stop.is_set():
            self.peak = max(self.peak, memory_mb(self._root))
            time.sleep(0.05)
        self._sampling = time.thread_time() - started

    @contextmanager
    def measure(self, root: int | None = None):
        self._root = root
        self.peak = memory_mb(root)
        self._stop.clear()
        own, children = time.process_time(), _children_cpu()
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self.peak = max(self.peak, memory_mb(self._root))
            self.processor = _children_cpu() - children
            if root is None:
                self.processor += time.process_time() - own - self._sampling


def national_inbox(years: list[int], counties: int, schools: int) -> Path:
    """One GB18030 CSV per province and year, and the county forms; generated once."""
    import polars as pl

    inbox = OUT / f"inbox-{counties}-{schools}-{years[0]}-{years[-1]}"
    if inbox.exists():
        return inbox
    t = time.perf_counter()
    tmp = inbox.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    rows = 0
    for year in years:
        frame = generate_national(year, counties, schools)
        rows += frame.height
        frame = frame.with_columns(pl.col("county_code").str.slice(0, 2).alias("_p"))
        for (code,), part in frame.partition_by("_p", as_dict=True, maintain_order=True).items():
            write_csv_gb18030(part.drop("_p"), tmp / f"schools_{code}_{year}.csv")
    forms = generate_county_forms(national_counties(counties, schools), tuple(years))
    write_csv_gb18030(forms, tmp / "counties.csv")
    tmp.rename(inbox)
    print(f"generated {rows:,} school rows in {time.perf_counter() - t:.1f} s → {inbox}")
    return inbox


def remove_warehouse(db: Path) -> None:
    """The warehouse file, its lock files and the Parquet folder beside it."""
    for p in db.parent.glob(f"{db.name}*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def run_steps(inbox: Path, sampler: PeakSampler) -> tuple[list, dict]:
    """The pipeline's steps one by one; returns the timings and the staged school rows."""
    from dashboards.build import build_dashboards
    from junheng.milestones import load_milestones
    from junheng.publish import publish_reference

    db = OUT / "bench.duckdb"
    remove_warehouse(OUT / "bench.duckdb")
    published = OUT / "published"
    shutil.rmtree(published, ignore_errors=True)
    results: list[tuple[str, float, float, float]] = []   # (step, seconds, processor seconds, peak MB)

    def step(name, fn):
        t = time.perf_counter()
        with sampler.measure():
            out = fn()
        results.append((name, time.perf_counter() - t, sampler.processor, sampler.peak))
        return out

    with warehouse.locked_connection(db) as con:
        step("ingest (files → raw_*)", lambda: [steps.ingest(con, inbox, t) for t in steps.INPUT_TABLES])
        step("staging (validate → stg_*, quarantine)", lambda: [steps.stage(con, t) for t in steps.INPUT_TABLES])
        step("policy tables", lambda: steps.load_policy(con, Policy.load()))
        years = steps.staged_years(con)
        for m in YEAR_MODELS:
            step(f"  {m.name}", lambda m=m: [warehouse.run_model(con, m.name, y) for y in years])
        for m in ALL_YEARS_MODELS:
            step(f"  {m.name} (all years)", lambda m=m: warehouse.run_model_all_years(con, m.name))
        step(f"publish Parquet ({len(PUBLISHED_MODELS)} tables)",
             lambda: [steps.publish_years(con, m.name, years, published) for m in PUBLISHED_MODELS])
        suites = [("raw_schools", None), ("raw_counties", None), ("stg_schools", None), ("stg_counties", None)]
        suites += [(m.name, y) for m in MODELS if m.expectations for y in years]
        step(f"validation (Great Expectations, {len(suites)} suites)",
             lambda: [validation.validate_table(con, t, y) for t, y in suites])
        step("publish reference tables", lambda: publish_reference(con, published, load_milestones()[1]))
        staged = con.sql("select * from stg_schools").pl()
        planned = dict(zip(("counties", "proven"), con.sql(
            "select count(*), count(*) filter (where proven_cheapest) from county_plan").fetchall()[0]))
    step("dashboards (from the Parquet)", lambda: build_dashboards(published)["pages"])
    return results, {"staged": staged, "db": db, "published": published, "planned": planned}


def pandas_core(staged, db: Path, sampler: PeakSampler) -> tuple[float, float, float]:
    """The compute core in pandas on the same rows; returns (seconds, peak MB, largest CV difference)."""
    import pandas_baseline

    frame = staged.to_pandas()
    seconds = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        with sampler.measure():
            _, cv = pandas_baseline.compute(frame)
        seconds.append(time.perf_counter() - t)
    with warehouse.locked_connection(db) as con:
        ours = con.sql("select county_code, level, indicator, cv from county_cv").df()
    both = ours.merge(cv, on=["county_code", "level", "indicator"], suffixes=("", "_pandas"))
    assert len(both) == len(ours) == len(cv), "the baseline and junheng assess different CVs"
    return min(seconds), sampler.peak, float((both.cv - both.cv_pandas).abs().max())


def junheng_core(db: Path, year: int) -> float:
    """The compute core's models again, on the warehouse the steps filled; the best of REPEATS."""
    best = []
    with warehouse.locked_connection(db) as con:
        for _ in range(REPEATS):
            t = time.perf_counter()
            for name in CORE:
                warehouse.run_model(con, name, year)
            best.append(time.perf_counter() - t)
    return min(best)


def junheng_run(inbox: Path, out: Path, db: Path, sampler: PeakSampler) -> tuple[float, float, float]:
    """``junheng run`` as a statistician types it, in a process of its own (its start-up and
    imports counted, none of this process's memory), with a Dagster home of the benchmark's
    (emptied when the benchmark starts, so no figure depends on the runs kept from earlier ones).
    Returns its wall time, its processor time (user and system, of the command and of every
    process it started and waited for: its workers) and its peak memory."""
    command = [str(Path(sys.executable).with_name("junheng")), "run", "--input", str(inbox), "--output", str(out),
               "--warehouse", str(db)]
    env = {**os.environ, "DAGSTER_HOME": str(OUT / "dagster_home")}
    t = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with sampler.measure(process.pid):
        printed, _ = process.communicate()
    seconds = time.perf_counter() - t
    if process.returncode != 0:
        raise SystemExit(f"junheng run failed ({process.returncode}):\n{printed}")
    return seconds, sampler.processor, sampler.peak


# Dagster's steps of a `junheng run`, grouped as the README shows them
STEP_GROUPS = (("reading and staging the files, with their checks", ("input_tables", "policy_tables",
                                                                     "reference_parquet")),
               ("the year runs (models, checks)", ("yearly_models",)),
               ("roll-ups, Parquet, workbook, Data Docs, pages", ("all_years_models", "published_tables", "reports")))


def dagster_steps(started: float) -> list[tuple[str, str | None, float]]:
    """Dagster's own timings of the steps of the runs made since ``started`` (epoch seconds) in
    the benchmark's Dagster home: (step, the year a year run assessed, seconds), in order."""
    os.environ["DAGSTER_HOME"] = str(OUT / "dagster_home")   # the project's run storage reads it
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    runs = [r for r in instance.get_runs(limit=100) if (instance.get_run_stats(r.run_id).start_time or 0) >= started]
    steps = [(s.start_time, s.step_key, run.tags.get("dagster/partition"), s.end_time - s.start_time)
             for run in runs for s in instance.get_run_step_stats(run.run_id)]
    return [(key, year, seconds) for _, key, year, seconds in sorted(steps)]


def step_rows(total: float, steps: list[tuple[str, str | None, float]]) -> list[tuple[str, float, None, None]]:
    """A run's time by STEP_GROUPS, and outside any step (start-up and imports, between runs)."""
    rows = []
    for label, keys in STEP_GROUPS:
        chosen = [seconds for key, _, seconds in steps if key in keys]
        if "yearly_models" in keys and len(chosen) > 1:
            label += f", {len(chosen)} runs of {min(chosen):.1f}–{max(chosen):.1f} s"
        rows.append((f"  of which {label}", sum(chosen), None, None))
    rows.append(("  of which outside the steps (start-up, imports, between runs)",
                 total - sum(seconds for _, _, seconds in steps), None, None))
    return rows


def print_steps(started: float) -> list[tuple[str, str | None, float]]:
    """Print, and return, the steps of the runs made since ``started`` (see dagster_steps)."""
    steps = dagster_steps(started)
    for key, year, seconds in steps:
        print(f"{'  step ' + key + (f' {year}' if year else ''):48s} {seconds:8.2f}")
    return steps


def change_one_province(inbox: Path) -> Path:
    """A copy of the inbox where one province's file has one school's figure corrected."""
    import polars as pl

    changed = OUT / "inbox-changed"
    shutil.rmtree(changed, ignore_errors=True)
    shutil.copytree(inbox, changed)
    target = sorted(changed.glob("schools_52_*.csv"))[-1]
    frame = pl.read_csv(target.read_bytes().decode("gb18030").encode(), infer_schema=False)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("999"))
                               .otherwise(pl.col("教学及辅助用房面积")).alias("教学及辅助用房面积"))
    target.write_bytes(frame.write_csv(line_terminator="\r\n").encode("gb18030"))
    return changed


def _readme_rows(results, to_parquet: tuple[float, float], core: float, pandas_s: float,
                 pandas_peak: float) -> list:
    """The steps grouped as the README shows them: (label, seconds, processor seconds or None,
    peak MB or None)."""
    def group(label, test):
        chosen = [(s, c, p) for name, s, c, p in results if test(name)]
        return label, sum(s for s, _, _ in chosen), sum(c for _, c, _ in chosen), max(p for _, _, p in chosen)

    def named(label, start):
        return group(label, lambda n: n.startswith(start))

    plan = {p.split(" ")[0] for p in PLAN}
    yearly = {m.name for m in YEAR_MODELS} - plan
    return [
        named("ingest (31 province files → raw_*)", "ingest"),
        named("staging (validate → stg_*, quarantine)", "staging"),
        group("SQL models, yearly (units → … → scorecard)", lambda n: n.strip() in yearly),
        group("the plan to pass (unit_gaps, unit_plan, county_plan, province_plan)",
              lambda n: n.strip().split(" ")[0] in plan),
        group("SQL models, all years (items, progress)",
              lambda n: n.endswith("(all years)") and n.strip().split(" ")[0] not in plan),
        named(f"publish Parquet ({len(PUBLISHED_MODELS)} tables)", "publish Parquet"),
        ("**files → published Parquet**", *to_parquet, None),
        named("validation (Great Expectations)", "validation"),
        named("dashboards (every page, from the Parquet)", "dashboards"),
        (f"compute core, junheng (units → indicators → school rule → CVs; best of {REPEATS})", core, None, None),
        (f"compute core, plain pandas baseline, same rows (best of {REPEATS})", pandas_s, None, pandas_peak),
    ]


def _cell(value: float | None, form: str) -> str:
    return "" if value is None else format(value, form)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counties", type=int, default=2850)
    parser.add_argument("--schools", type=int, default=260_000)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--years", type=int, default=1, help="also run this many national years end to end")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    OUT.mkdir(parents=True, exist_ok=True)
    sampler = PeakSampler()
    shutil.rmtree(OUT / "dagster_home", ignore_errors=True)
    inbox = national_inbox([args.year], args.counties, args.schools)

    results, ctx = run_steps(inbox, sampler)
    core = junheng_core(ctx["db"], args.year)
    computed = [r for r in results if not r[0].startswith(("validation", "publish reference", "dashboards"))]
    to_parquet = (sum(r[1] for r in computed), sum(r[2] for r in computed))   # wall, processor seconds
    pandas_s, pandas_peak, diff = pandas_core(ctx["staged"], ctx["db"], sampler)

    print(f"\nnational-scale year: {args.counties:,} counties, {ctx['staged'].height:,} school rows "
          f"(one GB18030 CSV per province), {os.cpu_count()} cores")
    print(f"{'step':48s} {'wall s':>8s} {'peak MB':>12s} {'processor s':>12s}")
    for name, seconds, processor, peak in results:
        print(f"{name:48s} {seconds:8.2f} {peak:12.0f} {processor:12.2f}")
    print(f"{'files → published Parquet':48s} {to_parquet[0]:8.2f} {'':12s} {to_parquet[1]:12.2f}")
    print(f"\ncompute core (units → indicators → school rule → CVs), same staged rows, each the best of {REPEATS}:")
    print(f"{'  junheng (DuckDB SQL)':48s} {core:8.2f}")
    print(f"{'  plain vectorised pandas (bench/pandas_baseline.py)':48s} {pandas_s:8.2f} {pandas_peak:12.0f}")
    print(f"{'  ratio junheng / pandas':48s} {core / pandas_s:8.2f}   (largest CV difference {diff:.1e})")
    plan_s = sum(s for name, s, _, _ in results if name.strip() in PLAN)
    planned = ctx["planned"]
    print(f"\nplan to pass, every county whose resource part fails ({planned['counties']:,} counties, "
          f"{planned['proven']:,} proven cheapest):")
    print(f"{'  unit_gaps + unit_plan + county_plan + province_plan':48s} {plan_s:8.2f}")

    table = _readme_rows(results, to_parquet, core, pandas_s, pandas_peak)
    # from nothing: no warehouse, so no plan kept from an earlier run, and no site to take pages from
    remove_warehouse(OUT / "dagster.duckdb")
    shutil.rmtree(OUT / "dagster-out", ignore_errors=True)
    started = time.time()
    dag_s, dag_cpu, dag_peak = junheng_run(inbox, OUT / "dagster-out", OUT / "dagster.duckdb", sampler)
    print(f"\n{'':48s} {'wall s':>8s} {'peak MB':>12s} {'processor s':>12s}")
    print(f"{'junheng run end to end (Dagster, checks, docs, dashboards)':48s} {dag_s:8.2f} {dag_peak:12.0f} "
          f"{dag_cpu:12.1f}")
    dag_steps = print_steps(started)
    changed = change_one_province(inbox)
    started = time.time()
    re_s, re_cpu, re_peak = junheng_run(changed, OUT / "dagster-out", OUT / "dagster.duckdb", sampler)
    print(f"{'rerun after one province file changed':48s} {re_s:8.2f} {re_peak:12.0f} {re_cpu:12.1f}")
    print_steps(started)
    biggest = max((p for p in (ctx["published"] / "dashboards").rglob("*.html")), key=lambda p: p.stat().st_size)
    print(f"largest dashboard page: {biggest.relative_to(ctx['published'])} {biggest.stat().st_size / 1e6:.2f} MB")

    table += [("`junheng run` end to end (Dagster, checks, Data Docs, dashboards)", dag_s, dag_cpu, dag_peak),
              *step_rows(dag_s, dag_steps),
              ("rerun after one province's file changed (unchanged counties' plans and pages kept)", re_s, re_cpu,
               re_peak)]
    if args.years > 1:
        years = list(range(args.year - args.years + 1, args.year + 1))
        many = national_inbox(years, args.counties, args.schools)
        remove_warehouse(OUT / "many.duckdb")
        shutil.rmtree(OUT / "many-out", ignore_errors=True)
        started = time.time()
        many_s, many_cpu, many_peak = junheng_run(many, OUT / "many-out", OUT / "many.duckdb", sampler)
        print(f"{f'{args.years} national years end to end':48s} {many_s:8.2f} {many_peak:12.0f} {many_cpu:12.1f}")
        table.append((f"{args.years} national years end to end ({args.years * ctx['staged'].height:,} records)",
                      many_s, many_cpu, many_peak))
        table += step_rows(many_s, print_steps(started))
    print("\nThe README's table (bench/out/readme_table.md):")
    markdown = "\n".join(["| step | wall s | processor s | peak memory MB |", "|---|---:|---:|---:|"] + [
        f"| {name} | {seconds:.1f} | {_cell(cpu, '.1f')} | {_cell(peak, ',.0f')} |"
        for name, seconds, cpu, peak in table])
    (OUT / "readme_table.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
