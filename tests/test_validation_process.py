"""Validations beside the pipeline (junheng.validation_process): another process gives the same
reports as the caller would, and a worker that dies costs time, never a check."""

import os
import signal
import time

import pytest

from conftest import school
from junheng import validation, validation_process, warehouse


@pytest.fixture
def worker():
    validation_process.start()
    yield
    validation_process.stop()


def rows_with_a_failure() -> list[dict]:
    # a 初级中学 without any junior student breaks an error-severity expectation of stg_schools;
    # one school with 20× the county's median teaching area, a warning of school_indicators
    rows = [school(f"10000000{i:02d}", primary=300 + 10 * i) for i in range(5)]
    rows[0]["teaching_aux_area_m2"] = 300 * 8.0 * 20
    return rows + [school("1000000099", "初级中学", junior=0)]


def as_dicts(report: validation.Report) -> list[dict]:
    return [f.__dict__ for f in report.failures]


def test_the_worker_is_a_process_of_its_own(worker):
    assert validation_process._submit(os.getpid).report() != os.getpid()


def test_a_validation_in_the_worker_reports_what_the_caller_would(assess, worker, tmp_path):
    con = assess(rows_with_a_failure())
    for table, year in (("stg_schools", None), ("school_indicators", 2024)):
        pending = validation_process.validate(con, table, year, tmp_path / "gx")
        assert pending._future is not None, "handed to the worker"
        there, here = pending.report(), validation.validate_table(con, table, year)
        assert as_dicts(there) == as_dicts(here) and there.evaluated == here.evaluated
        assert (tmp_path / "gx" / f"{table}{'-' + str(year) if year else ''}.json").exists()
    stg = validation_process.validate(con, "stg_schools").report()
    (error,) = stg.errors
    assert error.column == "junior_students" and error.rows[0]["school_id"] == "1000000099"
    (warning,) = validation_process.validate(con, "school_indicators", 2024).report().warnings
    assert warning.rows == [{"county_code": "520102", "school_id": "1000000000", "level": "primary"}]


def test_a_killed_worker_costs_time_not_a_check(assess, worker):
    con = assess(rows_with_a_failure())
    os.kill(validation_process._submit(os.getpid).report(), signal.SIGKILL)
    time.sleep(1.0)   # the pool sees its worker gone
    report = validation_process.validate(con, "stg_schools").report()
    assert as_dicts(report) == as_dicts(validation.validate_table(con, "stg_schools")) and report.errors
    assert validation_process._worker is None   # later validations run in the caller


def test_without_a_worker_a_validation_runs_in_the_caller(assess):
    con = assess(rows_with_a_failure())
    pending = validation_process.validate(con, "stg_schools")
    assert pending._future is None and pending.report().errors


def _a_step_in_a_process_of_its_own(queue) -> None:
    with validation_process.for_step():
        queue.put(validation_process._submit(os.getpid).report())


def test_a_step_in_a_process_of_its_own_ends_with_its_worker():
    # Dagster runs each step of a job in a process of its own, which waits for its children as it
    # ends: a worker left running would keep that step (and the run) from ever finishing
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    step = context.Process(target=_a_step_in_a_process_of_its_own, args=(queue,))
    step.start()
    worker = queue.get(timeout=120)
    step.join(timeout=60)
    assert step.exitcode == 0, "the step's process did not end"
    assert worker != step.pid


def test_junheng_run_keeps_one_worker_for_its_steps(worker):
    with validation_process.kept():
        with validation_process.for_step():
            first = validation_process._submit(os.getpid).report()
        with validation_process.for_step():
            assert validation_process._submit(os.getpid).report() == first
    assert validation_process._worker is None


def test_runs_inside_a_kept_worker_share_it_until_the_outermost_ends():
    """A caller that starts many runs (the tests' modules) keeps one worker around them all:
    each run's own ``kept`` leaves it running, and the outermost stops it."""
    with validation_process.kept():
        outer = validation_process._submit(os.getpid).report()
        for _ in range(2):
            with validation_process.kept(), validation_process.for_step():
                assert validation_process._submit(os.getpid).report() == outer
        assert validation_process._worker is not None
    assert validation_process._worker is None


def test_a_table_validated_in_parts_reports_what_the_whole_would(assess, worker, tmp_path):
    """A decade's rows are validated year by year as they are staged (validate_part, one worker
    job per part, from a file it removes): the merged report is the whole table's, each failed
    expectation once, its rows counted over the parts and the first ones listed in the table's
    order; each part's result is kept under its years."""
    import polars as pl

    rows = [dict(r, year=year, school_id=f"{year}{r['school_id'][4:]}")
            for year in (2022, 2023, 2024) for r in rows_with_a_failure()]
    con = assess(rows)
    table = validation.TableRows.of(con, "stg_schools")
    frame = warehouse.read_stored(table.stored, table.columns)
    # more failures than the staging lets through, some in one year only: a type unknown to the
    # suite in 2023, and 8 schools a year with more qualified teachers than teachers (24 in all:
    # the first 20 listed come from three parts)
    frame = frame.with_columns(
        school_type=pl.when((pl.col("year") == 2023) & (pl.col("school_id").str.ends_with("01")))
        .then(pl.lit("小学分校")).otherwise(pl.col("school_type")))
    extra = pl.concat([frame.filter(pl.col("school_id").str.ends_with("02")).with_columns(
        school_id=pl.col("school_id") + f"-{i}", primary_teachers_above_qual=pl.col("primary_teachers") + 1)
        for i in range(8)])
    frame = pl.concat([frame, extra]).sort("year", maintain_order=True)
    suite = validation.load_suite("stg_schools")
    whole = validation.validate_frame(frame, suite)
    assert len(whole.failures) == 3 and {f.unexpected_count for f in whole.failures} == {1, 3, 24}

    validation.clear_results(tmp_path / "gx", "stg_schools")
    pending = [validation_process.validate_part(con, "stg_schools", frame.filter(pl.col("year") == y), str(y),
                                                tmp_path / "gx") for y in (2022, 2023, 2024)]
    assert all(p._future is not None for p in pending), "handed to the worker"
    apart = validation_process.Parts("stg_schools", pending).report()
    assert as_dicts(apart) == as_dicts(whole) and apart.evaluated == whole.evaluated
    assert sorted(p.name for p in (tmp_path / "gx").iterdir()) == [
        "stg_schools-2022.json", "stg_schools-2023.json", "stg_schools-2024.json"]
    assert not list((warehouse.tables_folder(con) / "stg_schools.parts").iterdir())


def test_the_staged_rows_suite_checks_the_contracts_years():
    """Staging accepts the years of the contract and the suite checks the same range, written
    in its file for Great Expectations to read: the two must agree."""
    from junheng.contract import FIRST_YEAR, LAST_YEAR

    (year_range,) = [e for e in validation.load_suite("stg_schools")["expectations"]
                     if e["type"] == "expect_column_values_to_be_between" and e["kwargs"]["column"] == "year"]
    assert (year_range["kwargs"]["min_value"], year_range["kwargs"]["max_value"]) == (FIRST_YEAR, LAST_YEAR)
    assert f"{FIRST_YEAR}–{LAST_YEAR}" in year_range["zh"] and f"{FIRST_YEAR} and {LAST_YEAR}" in year_range["en"]


def _between(suite: str) -> dict[str, tuple]:
    """The error-severity ranges a suite holds on whole columns: column → (min, max)."""
    return {e["kwargs"]["column"]: (e["kwargs"].get("min_value"), e["kwargs"].get("max_value"))
            for e in validation.load_suite(suite)["expectations"]
            if e["type"] == "expect_column_values_to_be_between" and e["severity"] == "error"
            and "row_condition" not in e["kwargs"]}


def _value_set(suite: str, column: str) -> set:
    (values,) = [e["kwargs"]["value_set"] for e in validation.load_suite(suite)["expectations"]
                 if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == column]
    return set(values)


def test_the_suites_ranges_and_vocabularies_are_the_contracts():
    """What a suite checks of a contract column is what the contract says of it: a range it holds
    for an input column has the contract's bounds, every column the contract bounds above has its
    range in the suite, and the sets of school types, ownerships, locations and levels are the
    contract's (the year range: test above)."""
    from junheng.contract import COUNTY_COLUMNS, INDICATORS, LEVELS, LOCATIONS, OWNERSHIPS, SCHOOL_COLUMNS, SCHOOL_TYPES

    for suite, columns in (("stg_schools", SCHOOL_COLUMNS), ("stg_counties", COUNTY_COLUMNS)):
        ranges = {name: bounds for name, bounds in _between(suite).items() if name != "year"}
        contract = {c.name: c for c in columns if c.name != "year"}
        assert set(ranges) <= set(contract), f"{suite}: a range on a column the contract lacks"
        for name, (low, high) in ranges.items():
            c = contract[name]
            assert low is None or low == c.min_value, f"{suite}.{name}: lower bound {low}, contract {c.min_value}"
            assert high is None or high == c.max_value, f"{suite}.{name}: upper bound {high}, contract {c.max_value}"
        bounded = {c.name: (c.min_value, c.max_value) for c in contract.values() if c.max_value is not None}
        assert {n: ranges.get(n) for n in bounded} == bounded, f"{suite}: a bounded contract column unchecked"
    assert _value_set("stg_schools", "school_type") == set(SCHOOL_TYPES)
    assert _value_set("raw_schools", "school_type") >= set(SCHOOL_TYPES)
    assert _value_set("stg_schools", "ownership") == set(OWNERSHIPS)
    assert _value_set("stg_schools", "location") == set(LOCATIONS)
    assert _value_set("school_indicators", "level") == set(LEVELS)
    assert _between("school_indicators")["indicators_met"] == (0, len(INDICATORS))


def test_only_the_failing_expectations_are_asked_for_their_rows(assess, tmp_path):
    """Each expectation is first asked only whether it holds; the failing ones are asked again in
    full. The report and the result kept for the Data Docs carry each failing expectation's count
    and rows (counted here with polars), a passing one's result its verdict alone."""
    import json

    import polars as pl

    con = assess([school(f"10000000{i:02d}", primary=300 + 10 * i) for i in range(12)])
    table = validation.TableRows.of(con, "stg_schools")
    frame = warehouse.read_stored(table.stored, table.columns)
    frame = frame.with_columns(primary_students=pl.when(pl.int_range(pl.len()) % 5 == 1).then(-7)
                               .otherwise(pl.col("primary_students")))
    negative = frame.with_row_index().filter(pl.col("primary_students") < 0)
    suite = validation.load_suite("stg_schools")
    report = validation.validate_frame(frame, suite, tmp_path)

    failing = [f for f in report.failures if f.en == "primary_students is not negative"]
    assert len(failing) == 1 and failing[0].unexpected_count == negative.height == 3
    assert [r["school_id"] for r in failing[0].rows] == negative["school_id"].to_list()

    kept = json.loads((tmp_path / "stg_schools.json").read_text(encoding="utf-8"))["result"]
    results = {(r["expectation_config"]["type"], r["expectation_config"]["meta"]["en"]): r for r in kept["results"]}
    assert len(results) == report.evaluated == kept["statistics"]["evaluated_expectations"]
    full = results[("expect_column_values_to_be_between", "primary_students is not negative")]
    assert not full["success"] and full["result"]["unexpected_count"] == 3
    assert full["result"]["unexpected_index_list"] == negative["index"].to_list()
    failed = {(f.expectation, f.en) for f in report.failures}
    assert kept["statistics"]["unsuccessful_expectations"] == len(failed)
    assert all(r["result"] == {} for key, r in results.items() if key not in failed)
