"""National-scale benchmark: one year of ~2,850 counties and ~260,000 schools.

    .venv/bin/python bench/run.py [--counties 2850] [--schools 260000] [--format csv|xlsx|parquet]

Generates the year (cached under bench/out/), then runs the pipeline's steps (the same
functions the Dagster assets call) and prints wall time and peak resident memory per step.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "pipelines"))
sys.path.insert(0, str(ROOT))

from junheng import steps, validation, warehouse  # noqa: E402
from junheng.policy import Policy  # noqa: E402
from junheng.milestones import load_milestones  # noqa: E402
from junheng.publish import PUBLISHED_KEYS, publish_reference  # noqa: E402
from dashboards.build import build_dashboards  # noqa: E402
from junheng.sample import (  # noqa: E402
    generate_county_forms,
    generate_national,
    national_counties,
    write_csv_gb18030,
    write_xlsx,
)

OUT = ROOT / "bench" / "out"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler:
    """Samples resident memory every 10 ms while a step runs (native memory included)."""

    def __init__(self):
        self.peak = 0.0
        self._stop = threading.Event()

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.01)

    @contextmanager
    def measure(self):
        self.peak = rss_mb()
        self._stop.clear()
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self.peak = max(self.peak, rss_mb())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counties", type=int, default=2850)
    parser.add_argument("--schools", type=int, default=260_000)
    parser.add_argument("--format", choices=("csv", "xlsx", "parquet"), default="csv")
    parser.add_argument("--year", type=int, default=2024)
    args = parser.parse_args()

    inbox = OUT / f"inbox-{args.counties}-{args.schools}-{args.format}"
    if not inbox.exists():
        t = time.perf_counter()
        frame = generate_national(args.year, args.counties, args.schools)
        tmp = inbox.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if args.format == "csv":
            write_csv_gb18030(frame, tmp / "schools.csv")
        elif args.format == "xlsx":
            write_xlsx(frame, tmp / "schools.xlsx", "全国规模基准数据（虚构）")
        else:
            tmp.mkdir(parents=True)
            frame.write_parquet(tmp / "schools.parquet")
        forms = generate_county_forms(national_counties(args.counties, args.schools), (args.year,))
        write_csv_gb18030(forms, tmp / "counties.csv")
        tmp.rename(inbox)
        print(f"generated {frame.height:,} school rows in {time.perf_counter() - t:.1f} s → {inbox}")
    db = OUT / "bench.duckdb"
    for p in list(OUT.glob("bench.duckdb*")) + list(OUT.glob("dagster.duckdb*")):
        p.unlink()
    published = OUT / "published"
    shutil.rmtree(published, ignore_errors=True)

    sampler = PeakSampler()
    results: list[tuple[str, float, float, str]] = []

    def step(name: str, fn):
        t = time.perf_counter()
        with sampler.measure():
            out = fn()
        results.append((name, time.perf_counter() - t, sampler.peak, str(out)[:60]))
        return out

    total = time.perf_counter()
    with warehouse.locked_connection(db) as con:
        step("ingest (files → raw_schools, raw_counties)",
             lambda: [steps.ingest(con, inbox, t)[0] for t in (steps.SCHOOLS, steps.COUNTIES)])
        step("staging (validate → stg_*, quarantine)",
             lambda: [steps.stage(con, t).rows_staged for t in (steps.SCHOOLS, steps.COUNTIES)])
        step("policy tables", lambda: len(steps.load_policy(con, Policy.load())))
        for name, models in (("units (school_units)", steps.UNIT_MODELS),
                             ("indicators (school_indicators)", steps.INDICATOR_MODELS),
                             ("variation coefficients (county_cv, basic)", steps.CV_MODELS),
                             ("county assessment (items, scorecard)", steps.ASSESSMENT_MODELS),
                             ("province progress", steps.PROGRESS_MODELS)):
            step(name, lambda models=models: steps.run_models(con, models, args.year)[models[-1]])
        step("publish Parquet (7 tables)", lambda: sum(steps.publish(con, t, args.year, published)[1]
                                                      for t in PUBLISHED_KEYS))
        step("validation (Great Expectations, 7 suites)", lambda: sum(
            len(validation.validate_table(con, t, y).failures)
            for t, y in (("raw_schools", None), ("raw_counties", None), ("stg_schools", None),
                         ("stg_counties", None), ("school_indicators", args.year), ("county_cv", args.year),
                         ("county_scorecard", args.year))))
        step("publish reference tables", lambda: len(publish_reference(con, published, load_milestones()[1])))
    step("dashboards (from the Parquet)", lambda: build_dashboards(published)["pages"])
    wall = time.perf_counter() - total
    biggest = max((p for p in (published / "dashboards").rglob("*.html")), key=lambda p: p.stat().st_size)
    peak_all = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\nnational-scale year: {args.counties:,} counties, ~{args.schools:,} schools, input {args.format}, "
          f"{os.cpu_count()} cores")
    print(f"{'step':40s} {'wall s':>8s} {'peak RSS MB':>12s}  rows")
    for name, seconds, peak, out in results:
        print(f"{name:40s} {seconds:8.2f} {peak:12.0f}  {out}")
    print(f"{'total':40s} {wall:8.2f} {peak_all:12.0f}")
    print(f"largest dashboard page: {biggest.relative_to(published)} {biggest.stat().st_size / 1e6:.2f} MB "
          f"(plotly.min.js, shared: {(published / 'dashboards' / 'assets' / 'plotly.min.js').stat().st_size / 1e6:.1f} MB)")

    # The same year end to end through Dagster (in process), as `junheng run` does it.
    from dagster import DagsterInstance

    from junheng.cli import run_pipeline
    from junheng.paths import POLICY_DIR

    t = time.perf_counter()
    with sampler.measure():
        run_pipeline(inbox, OUT / "dagster-out", OUT / "dagster.duckdb", POLICY_DIR,
                     instance=DagsterInstance.ephemeral())
    print(f"{'whole run through Dagster (junheng run)':40s} {time.perf_counter() - t:8.2f} {sampler.peak:12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
