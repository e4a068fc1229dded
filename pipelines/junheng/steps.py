"""The pipeline's steps as plain functions on a warehouse connection.

Dagster assets (:mod:`junheng.assets`), the command line and the benchmark all call these,
so what is tested is what runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import polars as pl

from junheng import warehouse
from junheng.contract import (
    BASIC_INDICATORS,
    BASIC_METHOD,
    COUNTY_COLUMNS,
    INDICATORS,
    QUALITY_METHOD,
    QUARANTINE_COLUMNS,
    SCHOOL_COLUMNS,
    Column,
)
from junheng.ingest import empty_raw, find_input_files, read_files
from junheng.milestones import load_milestones
from junheng.policy import Policy
from junheng.publish import publish_year
from junheng.staging import Staged, stage_counties, stage_schools

FILE_REPORT_SCHEMA = {
    "file": pl.String, "sheet": pl.String, "encoding": pl.String, "header_row": pl.Int64, "rows": pl.Int64,
    "blank_rows": pl.Int64, "matched_columns": pl.String, "missing_columns": pl.String, "extra_columns": pl.String,
}


@dataclass(frozen=True)
class InputTable:
    """One kind of input file: its name stem, its columns, and its validator."""

    name: str        # warehouse suffix: raw_<name>, stg_<name>, quarantine_<name>
    stem: str        # files are named <stem>*.csv|xlsx|parquet
    zh: str
    columns: tuple[Column, ...]
    required: bool   # a run without any such file is an error


SCHOOLS = InputTable("schools", "schools", "学校基础数据表", SCHOOL_COLUMNS, required=True)
COUNTIES = InputTable("counties", "counties", "县级补充数据表", COUNTY_COLUMNS, required=False)
_VALIDATORS = {"schools": stage_schools, "counties": stage_counties}

# SQL models in dependency order (each replaces one year of its table).
UNIT_MODELS = ("school_units", "unit_exclusions")
INDICATOR_MODELS = ("unit_indicator_values", "school_indicators")
CV_MODELS = ("county_variation", "county_cv", "county_basic_balance")
ASSESSMENT_MODELS = ("county_school_conditions", "county_item_values", "county_item_verdicts", "county_items",
                     "county_scorecard", "county_progress")
PROGRESS_MODELS = ("province_progress",)
YEAR_MODEL_GROUPS = (UNIT_MODELS, INDICATOR_MODELS, CV_MODELS, ASSESSMENT_MODELS, PROGRESS_MODELS)


@dataclass
class StageSummary:
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    problems: int
    years: list[int]


def ingest(con: duckdb.DuckDBPyConnection, input_dir: Path, table: InputTable) -> tuple[int, list[str]]:
    """Land every ``<stem>*`` file under ``input_dir`` in ``raw_<name>``, as it came."""
    paths = find_input_files(Path(input_dir), table.stem)
    if not paths and table.required:
        raise FileNotFoundError(
            f"在 {input_dir} 中没有找到{table.zh}文件（文件名应以 {table.stem} 开头，格式为 csv/xlsx/parquet）。"
            f" / no {table.stem}*.csv|xlsx|parquet file found under {input_dir}."
        )
    read = read_files(paths, table.columns, table.zh)
    warehouse.replace_table(con, f"raw_{table.name}", read.frame if paths else empty_raw(table.columns))
    files = pl.DataFrame(
        [{k: (",".join(v) if isinstance(v, list) else v) for k, v in asdict(r).items()} for r in read.reports],
        schema=FILE_REPORT_SCHEMA,
    )
    warehouse.replace_table(con, f"ingest_files_{table.name}", files)
    return read.frame.height, [str(p) for p in paths]


def stage(con: duckdb.DuckDBPyConnection, table: InputTable) -> StageSummary:
    """Validate ``raw_<name>`` into ``stg_<name>`` and ``quarantine_<name>``."""
    raw = con.sql(f"select * from raw_{table.name}").pl()
    staged: Staged = _VALIDATORS[table.name](raw)
    warehouse.replace_table(con, f"stg_{table.name}", staged.rows)
    quarantine = staged.problems.select([pl.col(c.name).cast(c.dtype) for c in QUARANTINE_COLUMNS])
    warehouse.replace_table(con, f"quarantine_{table.name}", quarantine)
    if table is COUNTIES:
        warehouse.replace_table(con, "stg_county_inputs", county_inputs(staged.rows))
    _refresh_quarantine_view(con)
    years = sorted(staged.rows.get_column("year").unique().to_list()) if staged.rows.height else []
    return StageSummary(staged.rows_in, staged.rows_staged, staged.rows_quarantined, quarantine.height, years)


def _refresh_quarantine_view(con: duckdb.DuckDBPyConnection) -> None:
    parts = [f"select * from quarantine_{t.name}" for t in (SCHOOLS, COUNTIES)
             if warehouse.table_exists(con, f"quarantine_{t.name}")]
    con.sql("create or replace view quarantine as " + " union all ".join(parts))


def county_inputs(counties: pl.DataFrame) -> pl.DataFrame:
    """The county table's numbers and yes/no answers in long form (yes = 1, no = 0)."""
    inputs = [c.name for c in COUNTY_COLUMNS if c.kind in ("int", "float", "bool") and c.name != "year"]
    return (
        counties.select("year", "province_code", "county_code", *[pl.col(c).cast(pl.Float64) for c in inputs])
        .unpivot(on=inputs, index=["year", "province_code", "county_code"], variable_name="input", value_name="value")
    )


def load_policy(con: duckdb.DuckDBPyConnection, policy: Policy, policy_dir: Path | None = None) -> list[str]:
    """Policy tables for the provinces present in the staged tables."""
    provinces = [r[0] for r in con.sql(
        "select province_code from stg_schools union select province_code from stg_counties").fetchall()]
    warehouse.replace_table(con, "policy_province", policy.province_table(provinces))
    warehouse.replace_table(con, "policy_level_thresholds", policy.level_threshold_table(provinces))
    warehouse.replace_table(con, "policy_split_weights", policy.split_weight_table(provinces))
    warehouse.replace_table(con, "policy_items", policy.item_table(provinces))
    milestones, _ = load_milestones(policy_dir)
    warehouse.replace_table(con, "policy_milestones", milestones)
    dim = pl.DataFrame(
        [{"method": method, "indicator": i.code, "indicator_name": i.zh, "unit": i.unit, "unit_zh": i.unit_zh}
         for method, group in ((QUALITY_METHOD, INDICATORS), (BASIC_METHOD, BASIC_INDICATORS)) for i in group]
    )
    warehouse.replace_table(con, "dim_indicators", dim)
    return sorted(provinces)


def staged_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    if not warehouse.table_exists(con, "stg_schools"):
        return []
    return [r[0] for r in con.sql("select distinct year from stg_schools order by year").fetchall()]


def run_models(con: duckdb.DuckDBPyConnection, models: tuple[str, ...], year: int) -> dict[str, int]:
    return {m: warehouse.run_model(con, m, year) for m in models}


def build_year(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, int]:
    """Every SQL model for one year, in order (the Dagster assets run the same groups one by one)."""
    return {m: n for group in YEAR_MODEL_GROUPS for m, n in run_models(con, group, year).items()}


def publish(con: duckdb.DuckDBPyConnection, table: str, year: int, out_dir: Path) -> tuple[Path, int]:
    return publish_year(con, table, year, out_dir)
