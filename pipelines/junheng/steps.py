"""The pipeline's steps as plain functions on a warehouse connection.

Dagster assets (:mod:`junheng.assets`), the command line and the benchmark all call these,
so what is tested is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, asdict
from pathlib import Path

import duckdb
import polars as pl

from junheng import warehouse
from junheng.contract import INDICATORS, QUARANTINE_COLUMNS, SCHOOL_COLUMNS
from junheng.ingest import find_input_files, read_files
from junheng.policy import Policy
from junheng.publish import publish_year
from junheng.staging import stage_schools

SCHOOL_FILE_STEM = "schools"
FILE_REPORT_SCHEMA = {
    "file": pl.String, "sheet": pl.String, "encoding": pl.String, "header_row": pl.Int64, "rows": pl.Int64,
    "blank_rows": pl.Int64, "matched_columns": pl.String, "missing_columns": pl.String, "extra_columns": pl.String,
}


@dataclass
class IngestSummary:
    files: list[str]
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    problems: int
    years: list[int]

    def as_dict(self) -> dict:
        return asdict(self)


def ingest_schools(con: duckdb.DuckDBPyConnection, input_dir: Path) -> tuple[int, list[str]]:
    """Land every school file under ``input_dir`` in ``raw_schools``, as it came."""
    paths = find_input_files(Path(input_dir), SCHOOL_FILE_STEM)
    if not paths:
        raise FileNotFoundError(
            f"在 {input_dir} 中没有找到学校数据文件（文件名应以 schools 开头，格式为 csv/xlsx/parquet）。"
            f" / no school file (schools*.csv|xlsx|parquet) found under {input_dir}."
        )
    read = read_files(paths, SCHOOL_COLUMNS, "学校基础数据表")
    warehouse.replace_table(con, "raw_schools", read.frame)
    files = pl.DataFrame(
        [{k: (",".join(v) if isinstance(v, list) else v) for k, v in asdict(r).items()} for r in read.reports],
        schema=FILE_REPORT_SCHEMA,
    )
    warehouse.replace_table(con, "ingest_files", files)
    return read.frame.height, [str(p) for p in paths]


def stage(con: duckdb.DuckDBPyConnection) -> IngestSummary:
    """Validate ``raw_schools`` into ``stg_schools`` and ``quarantine``."""
    raw = con.sql("select * from raw_schools").pl()
    staged = stage_schools(raw)
    warehouse.replace_table(con, "stg_schools", staged.schools)
    quarantine = staged.problems.select([pl.col(c.name).cast(c.dtype) for c in QUARANTINE_COLUMNS])
    warehouse.replace_table(con, "quarantine", quarantine)
    files = sorted(raw.get_column("source_file").unique().to_list()) if raw.height else []
    years = sorted(staged.schools.get_column("year").unique().to_list()) if staged.schools.height else []
    return IngestSummary(files, staged.rows_in, staged.rows_staged, staged.rows_quarantined,
                         quarantine.height, years)


def load_policy(con: duckdb.DuckDBPyConnection, policy: Policy) -> list[str]:
    """Policy tables for the provinces present in the staged schools."""
    provinces = [r[0] for r in con.sql("select distinct province_code from stg_schools").fetchall()]
    warehouse.replace_table(con, "policy_province", policy.province_table(provinces))
    warehouse.replace_table(con, "policy_level_thresholds", policy.level_threshold_table(provinces))
    warehouse.replace_table(con, "policy_split_weights", policy.split_weight_table(provinces))
    dim = pl.DataFrame(
        {"indicator": [i.code for i in INDICATORS], "indicator_name": [i.zh for i in INDICATORS],
         "unit": [i.unit for i in INDICATORS], "unit_zh": [i.unit_zh for i in INDICATORS]}
    )
    warehouse.replace_table(con, "dim_indicators", dim)
    return sorted(provinces)


def staged_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    if not warehouse.table_exists(con, "stg_schools"):
        return []
    return [r[0] for r in con.sql("select distinct year from stg_schools order by year").fetchall()]


def build_units(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, int]:
    return {m: warehouse.run_model(con, m, year) for m in ("school_units", "unit_exclusions")}


def build_school_indicators(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, int]:
    return {m: warehouse.run_model(con, m, year) for m in ("unit_indicator_values", "school_indicators")}


def build_county_cv(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, int]:
    return {"county_cv": warehouse.run_model(con, "county_cv", year)}


def publish(con: duckdb.DuckDBPyConnection, table: str, year: int, out_dir: Path) -> tuple[Path, int]:
    return publish_year(con, table, year, out_dir)
