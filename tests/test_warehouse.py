"""The warehouse runner: year replacement, aggregates after a write, locking."""

import multiprocessing as mp
import time

import duckdb
import pytest

from junheng import warehouse


def test_replace_year_keeps_other_years_and_is_idempotent(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    select = "select getvariable('run_year')::int as year, range as i from range(10)"
    assert warehouse.replace_year(con, "t", select, 2023) == 10
    assert warehouse.replace_year(con, "t", select, 2024) == 10
    assert warehouse.replace_year(con, "t", select, 2024) == 10
    assert con.sql("select year, count(*) from t group by year order by year").fetchall() == [(2023, 10), (2024, 10)]


def test_a_year_is_one_file_replaced_whole(tmp_path):
    """Beside a warehouse file a year is one Parquet file: a failed model leaves the year as it
    was, and a model whose columns changed (an upgrade) drops the other years' stale files."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    select = "select getvariable('run_year')::int as year, range as i from range(3)"
    warehouse.replace_year(con, "t", select, 2023)
    warehouse.replace_year(con, "t", select, 2024)
    assert sorted(p.name for p in (tmp_path / "w.duckdb.tables" / "t").iterdir()) == [
        "year=2023.parquet", "year=2024.parquet"]
    with pytest.raises(duckdb.Error):
        warehouse.replace_year(con, "t", "select getvariable('run_year')::int as year, error('bad row') as i", 2024)
    assert con.sql("select year, count(*) from t group by year order by year").fetchall() == [(2023, 3), (2024, 3)]
    assert len(list((tmp_path / "w.duckdb.tables" / "t").iterdir())) == 2   # no temporary file left

    warehouse.replace_year(con, "t", "select getvariable('run_year')::int as year, 'x' as label", 2024)
    assert con.sql("select * from t").fetchall() == [(2024, "x")]


def test_a_stored_table_is_read_from_its_file_as_duckdb_reads_it(tmp_path, monkeypatch):
    """table_frame reads a table kept as Parquet with polars, in the order it was stored; a view
    computed by SQL, a year without a file and a warehouse in memory go through DuckDB. Each
    gives the rows DuckDB gives (checked against DuckDB, and against a DuckDB-only reader)."""
    import polars as pl

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    rows = pl.DataFrame({"year": [2024, 2023, 2024, 2023], "name": ["乙", "甲", None, "丁"], "v": [3.5, 1.0, 2.0, None]})
    warehouse.replace_table(con, "raw", rows)
    for y in (2023, 2024):
        warehouse.replace_year(con, "m", "select * from raw where year = getvariable('run_year')", y)
    con.sql("create view computed as select year, v * 2 as v2 from raw")
    cases = [("raw", None, None, None), ("raw", ["name"], None, pl.col("name").is_in(["甲", "乙"])),
             ("m", ["name", "v"], 2024, None), ("m", None, 2023, pl.col("v").is_null()), ("m", None, 2030, None),
             ("computed", ["v2"], None, None)]
    got = [warehouse.table_frame(con, t, c, y, w) for t, c, y, w in cases]
    assert got[0].equals(rows)                                     # every row, in the order stored
    assert got[1]["name"].to_list() == ["乙", "甲"]
    assert got[2].to_dicts() == [{"name": "乙", "v": 3.5}, {"name": None, "v": 2.0}]
    assert got[3].to_dicts() == [{"year": 2023, "name": "丁", "v": None}]
    assert got[4].height == 0 and got[4].columns == ["year", "name", "v"]
    assert got[5]["v2"].to_list() == [7.0, 2.0, 4.0, None]
    stored = [warehouse.stored_file(con, t, y) for t, _, y, _ in cases]
    assert [p.name if p else None for p in stored] == ["raw.parquet", "raw.parquet", "year=2024.parquet",
                                                      "year=2023.parquet", None, None]
    monkeypatch.setattr(warehouse, "stored_file", lambda *a: None)  # DuckDB for everything
    assert all(a.equals(warehouse.table_frame(con, t, c, y, w)) for a, (t, c, y, w) in zip(got, cases))
    memory = duckdb.connect()
    warehouse.replace_table(memory, "raw", rows)
    assert warehouse.table_frame(memory, "raw", ["name"], 2024)["name"].to_list() == ["乙", None]


def test_a_warehouse_of_an_earlier_version_keeps_its_other_years(tmp_path):
    """A model stored as a table by an earlier version: running one year moves the others to
    their own files, so no year is lost until it is run again."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.sql("create table t as select y::int as year, range as i from range(3), range(2023, 2025) r(y)")
    warehouse.replace_year(con, "t", "select getvariable('run_year')::int as year, range as i from range(5)", 2024)
    assert con.sql("select year, count(*) from t group by year order by year").fetchall() == [(2023, 3), (2024, 5)]
    assert warehouse._kind(con, "t") == "VIEW"


def test_aggregates_see_a_large_write_on_the_same_connection(tmp_path):
    """Regression guard: with duckdb 2.0.0 an aggregate over rows just written by a grouped
    insert on the same connection returned count 0 (300,000 rows; fine at 100,000)."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    n = 300_000
    con.sql(f"create table src as select 2024 as year, range as i, (range % 97)::int as x, 'id' || range as sid "
            f"from range({n})")
    select = ("select year, sid, any_value(i) as i, sum(x)::bigint as s from src "
              "where year = getvariable('run_year') group by year, sid")
    warehouse.replace_year(con, "big", select, 2024)
    expected = con.sql("select count(*), sum(x) from src").fetchall()
    assert con.sql("select count(*), sum(s) from big").fetchall() == expected


def _hold_lock(path, seconds, ready):
    with warehouse.locked_connection(path):
        ready.set()
        time.sleep(seconds)


def test_second_writer_waits_then_is_refused_clearly(tmp_path):
    path = tmp_path / "w.duckdb"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(path), 3.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(warehouse.WarehouseBusyError) as err:
            with warehouse.locked_connection(path, lock_timeout=0.5):
                pass
        assert "另一次运行" in str(err.value) and "another run" in str(err.value)
        # once the first run finishes, the second gets in
        with warehouse.locked_connection(path, lock_timeout=30) as con:
            assert con.sql("select 1").fetchall() == [(1,)]
    finally:
        holder.join()
