"""Validations beside the pipeline (junheng.validation_process): another process gives the same
reports as the caller would, and a worker that dies costs time, never a check."""

import os
import signal
import time

import pytest

from conftest import school
from junheng import validation, validation_process


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
