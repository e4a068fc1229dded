"""The pipeline's steps as plain functions on a warehouse connection.

Dagster assets (:mod:`junheng.assets`), the command line and the benchmark all call these,
so what is tested is what runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

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
    TYPE_LEVELS,
    Column,
)
from junheng.ingest import InputFileError, InputFilesError, read_files, survey_folder
from junheng.milestones import load_milestones
from junheng.models import ALL_YEARS_MODELS, YEAR_MODELS
from junheng.policy import InputChecks, Policy
from junheng.publish import publish_year, write_json
from junheng.staging import DuplicateFilesError, Staged, combine, independent_files, stage_counties, stage_schools

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
INPUT_TABLES = (SCHOOLS, COUNTIES)
_VALIDATORS = {"schools": stage_schools, "counties": stage_counties}

@dataclass
class StageSummary:
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    problems: int    # errors: each sets its row aside
    warnings: int    # the row is used; check it
    years: list[int]


SKIPPED_SCHEMA = {"file": pl.String, "sheet": pl.String, "reason": pl.String, "reason_zh": pl.String,
                  "reason_en": pl.String}


def ingest(con: duckdb.DuckDBPyConnection, input_dir: Path, table: InputTable, include_subfolders: bool = False,
           include_hidden_sheets: bool = False) -> tuple[int, list[str]]:
    """Land every ``<stem>*`` file of ``input_dir`` in ``raw_<name>``, as it came; list every
    file, folder and sheet that is not read, with the reason, in ``ingest_skipped_<name>``."""
    found, folder_skips = survey_folder(Path(input_dir), [t.stem for t in INPUT_TABLES], include_subfolders)
    paths = found[table.stem]
    if not paths and table.required:
        raise FileNotFoundError(
            f"在 {input_dir} 中没有找到{table.zh}文件（文件名应以 {table.stem} 开头，格式为 xlsx/xls/csv/parquet）。"
            f" / no {table.stem}*.xlsx|xls|csv|parquet file found in {input_dir}."
        )
    read = read_files(paths, table.columns, table.zh, include_hidden_sheets)
    if table.required and read.frame.height == 0:
        raise InputFilesError([
            InputFileError(p, f"文件中没有{table.zh}的数据行（只有表头，或数据所在的工作表被隐藏/标为备份）。",
                           f"the file holds no {table.stem} rows (a header only, or the data sheet is hidden "
                           "or marked as a backup).") for p in paths])
    warehouse.replace_table(con, f"raw_{table.name}", read.frame)
    files = pl.DataFrame(
        [{k: (",".join(v) if isinstance(v, list) else v) for k, v in asdict(r).items()} for r in read.reports],
        schema=FILE_REPORT_SCHEMA,
    )
    warehouse.replace_table(con, f"ingest_files_{table.name}", files)
    skips = (folder_skips if table is SCHOOLS else []) + read.skipped
    warehouse.replace_table(con, f"ingest_skipped_{table.name}", pl.DataFrame(
        [(s.path, s.sheet, s.reason, s.reason_zh, s.reason_en) for s in skips], schema=SKIPPED_SCHEMA, orient="row"))
    return read.frame.height, [str(p) for p in paths]


def stage(con: duckdb.DuckDBPyConnection, table: InputTable, checks: InputChecks | None = None,
          on_part: Callable[[pl.DataFrame, str], None] | None = None) -> StageSummary:
    """Validate ``raw_<name>`` into ``stg_<name>`` and ``quarantine_<name>`` (schools also give
    ``quarantined_schools``: what could be read of each row set aside, to mark its county).

    When the rows are staged in parts (files sharing no year, see :class:`_RawParts`),
    ``on_part`` is given each part's staged rows as soon as they are staged, with a label naming
    the part's years, so that what checks them can start before the other parts are staged."""
    checks = checks or InputChecks.load()
    parts, pairs = [], []
    raw_parts = _RawParts(con, table)
    for raw in raw_parts:
        try:
            parts.append(_VALIDATORS[table.name](raw, checks))
        except DuplicateFilesError as exc:  # every such pair is named, whichever part it is in
            pairs += exc.pairs
            continue
        rows = parts[-1].rows
        if on_part is not None and len(raw_parts) > 1 and rows.height and not pairs:
            on_part(rows, "_".join(str(y) for y in sorted(rows.get_column("year").unique().to_list())))
    if pairs:
        raise DuplicateFilesError(sorted(pairs))
    staged: Staged = combine(parts)
    warehouse.replace_table(con, f"stg_{table.name}", staged.rows)
    quarantine = staged.problems.select([pl.col(c.name).cast(c.dtype) for c in QUARANTINE_COLUMNS])
    if table is SCHOOLS:
        warehouse.replace_table(con, "quarantined_schools", staged.quarantined)
    if table is COUNTIES:
        warehouse.replace_table(con, "stg_county_inputs", county_inputs(staged.rows))
        quarantine = pl.concat([quarantine, _forms_without_schools(con)])
    warehouse.replace_table(con, f"quarantine_{table.name}", quarantine)
    _refresh_quarantine_view(con)
    years = sorted(staged.rows.get_column("year").unique().to_list()) if staged.rows.height else []
    errors = quarantine.filter(pl.col("severity") == "error").height
    return StageSummary(staged.rows_in, staged.rows_staged, staged.rows_quarantined, errors,
                        quarantine.height - errors, years)


class _RawParts:
    """The raw rows, in parts that can be staged apart (files sharing no year): a decade of
    national rows checked as one frame needs ten times the memory of a year. Each part is read
    when it is reached."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: InputTable):
        self._con, self._table = con, f"raw_{table.name}"
        self._groups = independent_files(con.sql(f"select distinct source_file, year from {self._table}").pl(),
                                         table.columns)

    def __len__(self) -> int:
        return max(1, len(self._groups))

    def __iter__(self) -> Iterator[pl.DataFrame]:
        if len(self._groups) <= 1:
            yield warehouse.table_frame(self._con, self._table)
            return
        for files in self._groups:  # in the order the rows were read
            yield warehouse.table_frame(self._con, self._table, where=pl.col("source_file").is_in(list(files)))


def _forms_without_schools(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """A county form for a county with no school in the school table is not assessed (it would
    be a county of no schools): one warning per such row."""
    if not (warehouse.table_exists(con, "stg_schools") and warehouse.table_exists(con, "quarantined_schools")):
        return pl.DataFrame(schema={c.name: c.dtype for c in QUARANTINE_COLUMNS})
    return con.sql("""
        select 'counties' as table_name, 'warning' as severity, c.source_file, c.source_sheet, c.source_row,
               c.year, null as school_id, 'county_code' as "column", '县区代码' as column_zh, c.county_code as value,
               'county_without_schools' as rule,
               '学校表中没有这个县（' || c.county_code || '）' || c.year || ' 学年的任何学校，本县不参加评估。请核对县区代码，或补交该县的学校数据。' as reason_zh,
               'the school table has no school of this county (' || c.county_code || ') in ' || c.year
                   || '; the county is not assessed. Check the code, or hand in its schools.' as reason_en
        from stg_counties c
        where not exists (select 1 from stg_schools s where s.year = c.year and s.county_code = c.county_code)
          and not exists (select 1 from quarantined_schools q
                          where coalesce(q.year, c.year) = c.year and q.county_code = c.county_code)
        order by c.source_file, c.source_row
    """).pl().select([pl.col(c.name).cast(c.dtype) for c in QUARANTINE_COLUMNS])


def _refresh_quarantine_view(con: duckdb.DuckDBPyConnection) -> None:
    parts = [f"select * from quarantine_{t.name}" for t in (SCHOOLS, COUNTIES)
             if warehouse.table_exists(con, f"quarantine_{t.name}")]
    con.sql("create or replace view quarantine as " + " union all by name ".join(parts))


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
    warehouse.replace_table(con, "policy_plan_costs", policy.plan_cost_table(provinces))
    milestones, _ = load_milestones(policy_dir)
    warehouse.replace_table(con, "policy_milestones", milestones)
    dim = pl.DataFrame(
        [{"method": method, "indicator": i.code, "indicator_name": i.zh, "unit": i.unit, "unit_zh": i.unit_zh}
         for method, group in ((QUALITY_METHOD, INDICATORS), (BASIC_METHOD, BASIC_INDICATORS)) for i in group]
    )
    warehouse.replace_table(con, "dim_indicators", dim)
    warehouse.replace_table(con, "dim_school_type_levels", pl.DataFrame(
        [(t, lv) for t, levels in TYPE_LEVELS.items() for lv in levels], schema=["school_type", "level"], orient="row"))
    warehouse.replace_table(con, "dim_provinces", pl.DataFrame(
        [(code, name) for code, (name, _) in InputChecks.load(policy_dir).provinces.items()],
        schema=["province_code", "province_name"], orient="row"))
    return sorted(provinces)


def staged_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    if not warehouse.table_exists(con, "stg_schools"):
        return []
    return [r[0] for r in con.sql("select distinct year from stg_schools order by year").fetchall()]


def build_year(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, int]:
    """Every yearly SQL model for one year, in the registry's order."""
    return {m.name: warehouse.run_model(con, m.name, year) for m in YEAR_MODELS}


def build_all_years(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The roll-ups over every year (trends, pace), after the yearly models."""
    return {m.name: warehouse.run_model_all_years(con, m.name) for m in ALL_YEARS_MODELS}


def build(con: duckdb.DuckDBPyConnection, years: list[int] | None = None) -> dict[str, int]:
    """Every model: each staged year (or those given), then the roll-ups."""
    counts: dict[str, int] = {}
    for year in years if years is not None else staged_years(con):
        for name, n in build_year(con, year).items():
            counts[name] = counts.get(name, 0) + n
    counts.update(build_all_years(con))
    return counts


def publish_years(con: duckdb.DuckDBPyConnection, table: str, years: list[int], out_dir: Path,
                  ) -> dict[int, tuple[Path, int, int]]:
    """Write each year of a published table; per year its path, rows written and rows read back."""
    out = {}
    for year in years:
        path, rows = publish_year(con, table, year, out_dir)
        out[year] = (path, rows, pl.scan_parquet(path).select(pl.len()).collect().item())
    return out


PUBLICATION_FILE = "publication.json"


def record_publication(con: duckdb.DuckDBPyConnection, out_dir: Path, years: list[int]) -> None:
    """publication.json: when the results in the folder were published, so a later run that
    fails can say which run they come from."""
    import time

    write_json(Path(out_dir) / PUBLICATION_FILE, {"published_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                   "years": years})
