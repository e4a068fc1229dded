"""The DuckDB warehouse: one file, one writer at a time, SQL models run by name.

DuckDB lets only one process open a database file for writing; a second one fails with a
lock error that means nothing to a statistician. Every connection here therefore takes an
exclusive file lock first: a second run waits for the first (up to ``lock_timeout``
seconds) and is then refused with a clear message, never corrupting the warehouse.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import os
import threading
import time
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from junheng.paths import SQL_DIR

_thread_lock = threading.RLock()


class WarehouseBusyError(RuntimeError):
    pass


@contextlib.contextmanager
def file_lock(lock_path: Path, timeout: float, busy_message: str) -> Iterator[None]:
    """Exclusive advisory lock on ``lock_path``; waits up to ``timeout`` s, then refuses."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock_file:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(busy_message) from None
                time.sleep(0.2)
        try:
            lock_file.seek(0)
            lock_file.truncate()
            lock_file.write(f"{os.getpid()}\n")
            lock_file.flush()
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked_connection(database: Path | str, lock_timeout: float = 600.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse under an exclusive lock (across processes and threads)."""
    database = Path(database)
    busy = (
        f"数据仓库 {database} 正被另一次运行使用，等待 {lock_timeout:.0f} 秒后仍未释放，本次运行已停止。"
        f"请等另一次运行结束后再试。 / The warehouse {database} is in use by another run and was not "
        f"released within {lock_timeout:.0f} s; this run stopped. Retry when the other run has finished."
    )
    with _thread_lock, file_lock(database.with_suffix(database.suffix + ".lock"), lock_timeout, busy):
        try:
            con = duckdb.connect(str(database))
        except duckdb.IOException as exc:
            if "version number" not in str(exc):
                raise
            raise WarehouseBusyError(
                f"数据仓库 {database} 由另一版本的 DuckDB 创建，无法打开。它只是由输入文件生成的中间数据：删除该文件后重新运行即可。"
                f" / The warehouse {database} was written by another DuckDB version and cannot be opened. It only "
                f"holds what the input files determine: delete it and run again. ({exc})"
            ) from exc
        # One checkpoint when the connection closes, rather than several in the middle of a
        # year's models: each checkpoint rewrites the tables written so far.
        con.sql("set checkpoint_threshold = '4GB'")
        try:
            yield con
        finally:
            con.close()


def model_sql(name: str, sql_dir: Path = SQL_DIR) -> str:
    """The SQL of a model, its template filled in (see :func:`render_sql`)."""
    matches = sorted(Path(sql_dir).rglob(f"{name}.sql"))
    if len(matches) != 1:
        raise FileNotFoundError(f"expected one SQL model named {name}.sql under {sql_dir}, found {len(matches)}")
    return render_sql(matches[0].read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=64)
def render_sql(text: str) -> str:
    """A model's text as a Jinja template, with the contract's ``quality_indicators`` (the codes
    of the seven), ``resources`` (what a school adds to raise each: ``Resource``),
    ``basic_indicators`` (the eight of 基本均衡), ``checkpoint_years`` (the national plan's), and
    the school types and ownership the units treat apart (``teaching_point`` 小学教学点,
    ``special_education`` 特殊教育学校, ``private_ownership`` 民办), each written once there
    (see sql/README.md). SQL alone cannot pair two sets of columns by name (each indicator's value
    with its threshold) without a long form and a grouping back, which costs more than the rest of
    the model; a loop over the seven writes the pairs out. Plain SQL passes through unchanged."""
    import jinja2

    from junheng.contract import (BASIC_INDICATORS, CHECKPOINT_YEARS, INDICATORS, PRIVATE, RESOURCES,
                                  SPECIAL_EDUCATION, TEACHING_POINT)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(text).render(quality_indicators=tuple(i.code for i in INDICATORS),
                                        resources=RESOURCES,
                                        basic_indicators=tuple(i.code for i in BASIC_INDICATORS),
                                        checkpoint_years=CHECKPOINT_YEARS, teaching_point=TEACHING_POINT,
                                        special_education=SPECIAL_EDUCATION, private_ownership=PRIVATE)


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return _kind(con, name) is not None


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """'BASE TABLE', 'VIEW', or None when there is no such relation."""
    # names as literals: a prepared parameter makes DuckDB's client import pandas (half a second)
    rows = con.sql(f"select table_type from information_schema.tables where table_name = {sql_literal(name)}"
                   ).fetchall()
    return rows[0][0] if rows else None


def _drop_unless(con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """Drop ``name`` if it is there as the other kind of relation (a table an earlier version
    stored where a view is now made, or the reverse): ``create or replace`` keeps to its kind."""
    found = _kind(con, name)
    if found is not None and found != kind:
        con.sql(f"drop {'view' if found == 'VIEW' else 'table'} {name}")


def _columns(con: duckdb.DuckDBPyConnection, relation_sql: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.sql(f"describe {relation_sql}").fetchall()]


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: a failure leaves the tables as they were."""
    con.sql("begin transaction")
    try:
        yield
        con.sql("commit")
    except BaseException:
        con.sql("rollback")
        raise


def replace_year(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, year: int) -> int:
    """Replace the rows of one year in ``table`` with the result of ``select_sql``.

    Beside a warehouse file, each year is one Parquet file, ``<warehouse>.tables/<table>/
    year=YYYY.parquet``, behind a view of the table's name: writing a year is one file
    replaced atomically (a failure leaves the year as it was), with none of the compression
    DuckDB's own storage spends on every string, and no deleting of the year's old rows.
    Files whose columns no longer match the model (after an upgrade) are removed: the
    warehouse only caches what the inputs determine.
    """
    con.sql(f"set variable run_year = {int(year)}")
    wrapped = f"(\n{select_sql}\n)"
    folder = tables_folder(con)
    if folder is not None:
        return _replace_year_file(con, table, wrapped, year, folder / table)
    with transaction(con):
        _drop_unless(con, table, "BASE TABLE")
        if table_exists(con, table) and _columns(con, table) != _columns(con, f"select * from {wrapped}"):
            con.sql(f"drop table {table}")
        con.sql(f"create table if not exists {table} as select * from {wrapped} where false")
        con.sql(f"delete from {table} where year = {int(year)}")
        con.sql(f"insert into {table} by name select * from {wrapped}")
    return con.sql(f"select count(*) from {table} where year = {int(year)}").fetchall()[0][0]


# Rows per row group of a model's year file. A national year of units is 272,146 rows: in
# DuckDB's default groups of 122,880 that is three, which is all the parallelism a writer or a
# reader of the file gets; in groups of 32,768 it is nine, and the models of a year ran about a
# tenth faster on two cores.
YEAR_FILE_ROW_GROUP = 32_768


def _write_year_file(con: duckdb.DuckDBPyConnection, path: Path, rows: str | pl.DataFrame) -> int:
    """``rows`` (a query, or a frame made in Python) as the Parquet file ``path``, replaced whole
    or not at all; returns how many rows."""
    from junheng.publish import atomic_path

    with atomic_path(path) as tmp:
        if isinstance(rows, pl.DataFrame):  # polars writes its own frame faster than DuckDB scans it
            rows.write_parquet(tmp, compression="lz4", row_group_size=YEAR_FILE_ROW_GROUP)
            return rows.height
        return con.execute(f"copy (select * from {rows}) to {sql_literal(tmp)} "
                           f"(format parquet, compression lz4, row_group_size {YEAR_FILE_ROW_GROUP})").fetchall()[0][0]


# Where a table's rows are kept beside a warehouse file: <tables>/<table>.parquet for a whole
# table (replace_table), <tables>/<model>/year=YYYY.parquet for each year of a model (replace_year).
YEAR_FILES = "year=*.parquet"


def _table_file(tables: Path, table: str) -> Path:
    return tables / f"{table}.parquet"


def _year_file(folder: Path, year: int) -> Path:
    """The file of one year in a model's folder."""
    return folder / f"year={int(year)}.parquet"


def _replace_year_file(con: duckdb.DuckDBPyConnection, table: str, rows: str | pl.DataFrame, year: int,
                       folder: Path) -> int:
    """``rows`` (a query, or a frame made in Python) as the year's file of ``table``."""
    path = _year_file(folder, year)
    count = _write_year_file(con, path, rows)
    columns = _columns(con, f"select * from read_parquet({sql_literal(path)})")
    kind = _kind(con, table)
    if kind == "BASE TABLE":  # a warehouse of an earlier version: its other years become files
        if _columns(con, table) == columns:
            for (other,) in con.sql(f"select distinct year from {table} where year <> {int(year)}").fetchall():
                _write_year_file(con, _year_file(folder, other),
                                 f"(select * from {table} where year = {int(other)})")
        con.sql(f"drop table {table}")
    elif kind == "VIEW" and _columns(con, table) != columns:
        for other in folder.glob(YEAR_FILES):
            if other != path:
                other.unlink()
    con.sql(f"create or replace view {table} as select * from read_parquet("
            f"{sql_literal(folder / YEAR_FILES)}, hive_partitioning = false)")
    return count


def run_model(con: duckdb.DuckDBPyConnection, name: str, year: int, sql_dir: Path = SQL_DIR) -> int:
    """Run one model for one year; returns its row count for that year."""
    from junheng.models import MODEL_BY_NAME

    model = MODEL_BY_NAME.get(name)
    if model is not None and model.view:
        return replace_view(con, name, model_sql(name, sql_dir), year)
    if model is not None and model.python:
        module, function = model.python.split(":")
        frame = getattr(importlib.import_module(module), function)(con, year)
        folder = tables_folder(con)
        if folder is not None:
            return _replace_year_file(con, name, frame, year, folder / name)
        con.register("__model_rows", frame)
        try:
            return replace_year(con, name, "select * from __model_rows", year)
        finally:
            con.unregister("__model_rows")
    return replace_year(con, name, model_sql(name, sql_dir), year)


def replace_view(con: duckdb.DuckDBPyConnection, name: str, select_sql: str, year: int) -> int:
    """(Re)define a view model; returns its row count for ``year``."""
    with transaction(con):
        _drop_unless(con, name, "VIEW")
        con.sql(f"create or replace view {name} as {select_sql}")
    return con.sql(f"select count(*) from {name} where year = {int(year)}").fetchall()[0][0]


def run_model_all_years(con: duckdb.DuckDBPyConnection, name: str, sql_dir: Path = SQL_DIR) -> int:
    """Run one roll-up model over every year at once, replacing its table; returns its rows."""
    with transaction(con):
        con.sql(f"create or replace table {name} as {model_sql(name, sql_dir)}")
    return con.sql(f"select count(*) from {name}").fetchall()[0][0]


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Replace a whole table with a Polars frame (raw, staging, quarantine and policy tables).

    Beside a warehouse file, the rows go to a Parquet file in ``<warehouse>.tables/`` (replaced
    atomically) behind a view of the table's name: DuckDB compresses every string of a table as
    it stores it, and a national year's raw rows, nearly all text, cost ten times as long to
    store that way as to write as Parquet, and three times as long to read back."""
    from junheng.publish import atomic_path

    folder = tables_folder(con)
    if folder is None:  # a warehouse in memory
        con.register("__frame", frame)
        try:
            _drop_unless(con, table, "BASE TABLE")
            con.sql(f"create or replace table {table} as select * from __frame")
        finally:
            con.unregister("__frame")
        return
    path = _table_file(folder, table)
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="lz4", statistics=False)
    _drop_unless(con, table, "VIEW")
    con.sql(f"create or replace view {table} as select * from read_parquet({sql_literal(path)})")


def table_frame(con: duckdb.DuckDBPyConnection, table: str, columns: list[str] | None = None,
                year: int | None = None, where: pl.Expr | None = None) -> pl.DataFrame:
    """Rows of a table as a polars frame (``columns``, the rows of ``year`` and ``where``), in the
    order they were stored. A table kept as a Parquet file (replace_table, replace_year) is read by
    polars straight from its file: taking a national table's text columns out of DuckDB costs
    three to four times as long."""
    path = stored_file(con, table, year)
    if path is None:
        select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        frame = con.sql(f"select {select} from {table}" + (f" where year = {int(year)}" if year is not None else "")).pl()
        return frame.filter(where) if where is not None else frame
    return read_stored(path, columns, year, where)


def read_stored(path: Path | str, columns: list[str] | None = None, year: int | None = None,
                where: pl.Expr | None = None) -> pl.DataFrame:
    """Rows of a table's stored file (see stored_file), without the warehouse: another process
    can read them while this one holds the warehouse."""
    scan = pl.scan_parquet(path)
    if year is not None:
        scan = scan.filter(pl.col("year") == int(year))
    if where is not None:
        scan = scan.filter(where)
    return (scan.select(columns) if columns else scan).collect()


def stored_file(con: duckdb.DuckDBPyConnection, table: str, year: int | None) -> Path | None:
    """The Parquet file holding ``table`` (or its rows of ``year``) when the table is a view of
    stored files; None otherwise (a warehouse in memory, a table, a view computed by SQL)."""
    folder = tables_folder(con)
    if folder is None:
        return None
    rows = con.sql(f"select sql from duckdb_views() where view_name = {sql_literal(table)} "
                   "and database_name = current_database()").fetchall()
    if not rows:
        return None
    view = rows[0][0]
    whole = _table_file(folder, table)
    if sql_literal(whole) in view and whole.exists():
        return whole
    if year is not None and sql_literal(folder / table / YEAR_FILES) in view:
        one = _year_file(folder / table, year)
        return one if one.exists() else None
    return None


def tables_folder(con: duckdb.DuckDBPyConnection) -> Path | None:
    """``<warehouse file>.tables``, or None for a warehouse in memory."""
    path = con.sql("select path from duckdb_databases() where database_name = current_database()").fetchall()[0][0]
    return Path(f"{path}.tables").resolve() if path else None


def sql_literal(text: object) -> str:
    """``text`` as a SQL string literal (a path with a quote in it stays one path)."""
    return "'" + str(text).replace("'", "''") + "'"


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.sql(sql).fetchall()[0][0]


@contextlib.contextmanager
def exclusive_run(database: Path | str, timeout: float = 600.0) -> Iterator[None]:
    """Hold the run lock for a whole run, so two runs never interleave their steps.

    Separate from the connection lock: one run opens and closes many connections, and a
    second run must not slip its ingest in between them.
    """
    database = Path(database)
    busy = (
        f"另一次运行正在使用数据仓库 {database}，等待 {timeout:.0f} 秒后仍未结束，本次运行已停止。"
        f" / another run is using {database} and did not finish within {timeout:.0f} s; this run stopped."
    )
    with file_lock(database.with_suffix(database.suffix + ".run.lock"), timeout, busy):
        yield
