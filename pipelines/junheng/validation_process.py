"""Great Expectations validations in a process of their own, beside the pipeline's steps.

A validation costs seconds a national year (Great Expectations' import, then pandas copies of
the rows), and the step that wrote the table has other work meanwhile: the schools' raw rows
validate while they are staged, the school indicators while the CVs and the plan are computed.
So a step hands each validation to one worker process as soon as its table is written (the
worker reads the table's Parquet file itself; the warehouse stays with the step) and collects
the reports at its end: the checks still decide the step's outcome, and nothing downstream
starts before them. The Data Docs are built there too, so the step never imports Great
Expectations itself. Each step has a worker of its own (``for_step``), except in ``junheng run``,
which keeps one for all its steps (``kept``): the import is paid once. (``kept`` may be nested:
the outermost stops the worker, so a caller that starts many runs pays the import once too.)

Without ``start()``, or for a table with no stored file (a warehouse in memory), a validation
runs in the caller, as it does when the worker has died (a killed worker costs time, not a
check).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from junheng import validation, warehouse

_worker: ProcessPoolExecutor | None = None


def _worker_init(parent: int) -> None:
    """Ctrl-C is the pipeline's to handle (the worker is stopped with it, without a traceback),
    and a pipeline that is killed takes its worker with it: nothing else would end it; at its
    end it leaves at once (Great Expectations' and pandas' objects freed one by one took half a
    second, which ``stop()`` waited for)."""
    import signal
    import threading
    import time

    from junheng.processes import leave_at_once_at_exit

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    leave_at_once_at_exit()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


_kept = 0   # how many ``kept`` are open: while any is, the worker outlives the steps


def start() -> None:
    """Start the worker, and its import of Great Expectations, now (idempotent)."""
    global _worker
    if _worker is None:
        _worker = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_worker_init, initargs=(os.getpid(),))
        _worker.submit(validation.import_gx)


def stop() -> None:
    """Stop the worker, once the steps that hand it work are done."""
    global _worker
    if _worker is not None:
        _worker.shutdown(wait=True, cancel_futures=True)
        _worker = None


@contextlib.contextmanager
def for_step() -> Iterator[None]:
    """The worker for one step: started with it, and stopped with it unless it is kept. A step
    Dagster runs in a process of its own must stop it: that process waits for its children
    before it would tell the worker to end."""
    start()
    try:
        yield
    finally:
        if not _kept:
            stop()


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """One worker for every step run in this process meanwhile (``junheng run``'s runs: its
    Great Expectations import is paid once), started now, so that the import goes on while
    the caller imports Dagster and sets up its runs, and stopped at the end of the outermost."""
    global _kept
    _kept += 1
    try:
        start()
        yield
    finally:
        _kept -= 1
        if not _kept:
            stop()


class Pending:
    """A validation under way; ``report()`` waits for it."""

    def __init__(self, run, args: tuple, future: Future | None):
        self._run, self._args, self._future = run, args, future
        self._report = None

    def report(self):
        if self._report is None:
            try:
                self._report = self._future.result() if self._future is not None else self._run(*self._args)
            except BrokenProcessPool:
                stop()
                self._report = self._run(*self._args)
        return self._report


def _submit(run, *args) -> Pending:
    """``run(*args)`` in the worker, or here and now without one."""
    if _worker is not None:
        try:
            return Pending(run, args, _worker.submit(run, *args))
        except BrokenProcessPool:
            stop()
    return _submit_here(run, *args)


def _submit_here(run, *args) -> Pending:
    pending = Pending(run, args, None)
    pending.report()
    return pending


def validate(con: duckdb.DuckDBPyConnection, table: str, year: int | None = None,
             results_dir: Path | None = None) -> Pending:
    """Start the validation of ``table`` (its rows of ``year``) by its suite."""
    rows = validation.TableRows.of(con, table, year)
    if rows.stored is None:   # nothing another process could read: here, now
        return _submit_here(validation.validate_rows, rows, results_dir, con)
    return _submit(validation.validate_rows, rows, results_dir)


def validate_part(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame, part: str,
                  results_dir: Path | None = None) -> Pending:
    """Start the validation of one part of ``table`` as it is staged (``rows``, the part's years
    ``part``), before the table is written: the worker reads a file of the columns its suite
    reads, removed once it is done. A decade's school rows validated whole kept the ingest step
    waiting some ten seconds at its end, and the worker holding three gigabytes."""
    suite = validation.load_suite(table)
    rows = rows.select([c for c in validation.suite_columns(suite) if c in rows.columns])
    folder = warehouse.tables_folder(con)
    if folder is None or _worker is None:   # validated here and now
        return _submit_here(validation.validate_frame, rows, suite, results_dir, part)
    path = folder / f"{table}.parts" / f"{part}.parquet"
    path.parent.mkdir(exist_ok=True)
    rows.write_parquet(path, compression="lz4", statistics=False)
    return _submit(_validate_part_file, validation.TableRows(table, suite, None, rows.columns, [], str(path), part),
                   results_dir)


def _validate_part_file(rows: validation.TableRows, results_dir: Path | None) -> validation.Report:
    report = validation.validate_rows(rows, results_dir)
    Path(rows.stored).unlink(missing_ok=True)
    return report


class Parts:
    """The validations of a table's parts (see validate_part); ``report()`` waits for them all
    and gives the whole table's report."""

    def __init__(self, table: str, parts: list[Pending]):
        self._suite, self._parts = validation.load_suite(table), parts

    def report(self) -> validation.Report:
        return validation.merged([p.report() for p in self._parts], self._suite)


def data_docs(output_dir: Path) -> Pending:
    """Start building the Data Docs of the results kept under ``output_dir``."""
    return _submit(validation.build_data_docs, output_dir)
