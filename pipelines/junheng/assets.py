"""Dagster assets: one per step, thin; the logic is in :mod:`junheng.steps` and ``sql/``.

Unpartitioned assets read the statisticians' files (any number of years at once); the
computation and publication are partitioned by school year.
"""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    StaticPartitionsDefinition,
    asset,
)

from junheng import steps, warehouse
from junheng.ingest import InputFilesError
from junheng.publish import PUBLISHED_KEYS
from junheng.resources import JunhengSettings, WarehouseResource

FIRST_YEAR, LAST_YEAR = 2012, 2035
def _spec(name: str, asset: str, description: str) -> AssetCheckSpec:
    # Blocking: a failed check stops everything downstream, so nothing is published from it.
    return AssetCheckSpec(name=name, asset=asset, description=description, blocking=True)


school_years = StaticPartitionsDefinition([str(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)])


def _duplicates(con, table: str, keys: tuple[str, ...], year: int | None = None) -> int:
    where = f"where year = {int(year)}" if year is not None else ""
    k = ", ".join(keys)
    return int(warehouse.scalar(con, f"select count(*) from (select {k} from {table} {where} group by {k} having count(*) > 1)"))


def _result(check: str, passed: bool, description: str, severity=AssetCheckSeverity.ERROR, **meta) -> AssetCheckResult:
    return AssetCheckResult(check_name=check, passed=bool(passed), severity=severity,
                            description=description, metadata=meta)


@asset(
    group_name="ingest",
    description="原始学校数据：统计人员提交的文件逐行原样入库（含文件名、行号）。"
    " Raw school rows, every file under the input folder, kept as they came with file and row.",
    check_specs=[_spec("raw_not_empty", asset="raw_schools", description="at least one row was read")],
)
def raw_schools(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    try:
        with warehouse_db.get_connection() as con:
            rows, files = steps.ingest_schools(con, settings.input_dir)
    except (InputFilesError, FileNotFoundError) as exc:
        raise Failure(description=str(exc)) from exc
    context.log.info(f"read {rows} rows from {len(files)} file(s)")
    return MaterializeResult(
        metadata={"rows": rows, "files": MetadataValue.json(files)},
        check_results=[_result("raw_not_empty", rows > 0, f"{rows} rows read")],
    )


@asset(
    group_name="ingest",
    deps=[raw_schools],
    description="校验后的学校数据（staging）：按数据规范转换类型；不合格的行进入隔离表 quarantine，注明文件、行、列和原因。"
    " Typed school rows; rows that break the contract go to the quarantine table with the reason.",
    check_specs=[
        _spec("rows_reconcile", asset="stg_schools",
                       description="rows in = rows staged + rows quarantined (nothing lost)"),
        _spec("school_id_unique_per_year", asset="stg_schools",
                       description="(year, school_id) is unique among staged rows"),
        _spec("staged_not_empty", asset="stg_schools", description="at least one row passed validation"),
    ],
)
def stg_schools(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    policy = settings.policy()
    with warehouse_db.get_connection() as con:
        summary = steps.stage(con)
        raw = int(warehouse.scalar(con, "select count(*) from raw_schools"))
        staged = int(warehouse.scalar(con, "select count(*) from stg_schools"))
        quarantined = int(warehouse.scalar(
            con, "select count(*) from (select distinct source_file, source_sheet, source_row from quarantine)"))
        dups = _duplicates(con, "stg_schools", ("year", "school_id"))
    if summary.rows_quarantined and policy.national["ingest"]["on_bad_rows"] == "stop":
        raise Failure(
            description=f"{summary.rows_quarantined} 行数据不合格，按设置停止运行；详见隔离报告。"
            f" / {summary.rows_quarantined} rows failed validation and the policy says stop; see the quarantine report.",
        )
    context.log.info(f"rows in {raw}, staged {staged}, quarantined {quarantined}")
    return MaterializeResult(
        metadata={"rows_in": raw, "rows_staged": staged, "rows_quarantined": quarantined,
                  "problems": summary.problems, "years": MetadataValue.json(summary.years)},
        check_results=[
            _result("rows_reconcile", raw == staged + quarantined,
                    f"{raw} in = {staged} staged + {quarantined} quarantined"),
            _result("school_id_unique_per_year", dups == 0, f"{dups} duplicated keys"),
            _result("staged_not_empty", staged > 0, f"{staged} rows staged"),
        ],
    )


@asset(
    group_name="ingest",
    deps=[stg_schools],
    description="政策参数表：国家标准及各省覆盖值（阈值、开关、折算系数），来自 policy/*.toml。"
    " Policy tables (thresholds, switches, split weights) for the provinces present.",
)
def policy_tables(warehouse_db: WarehouseResource, settings: JunhengSettings):
    with warehouse_db.get_connection() as con:
        provinces = steps.load_policy(con, settings.policy())
    return MaterializeResult(metadata={"provinces": MetadataValue.json(provinces)})


def _year(context: AssetExecutionContext) -> int:
    return int(context.partition_key)


@asset(
    group_name="indicators",
    partitions_def=school_years,
    deps=[stg_schools, policy_tables],
    description="评估单元：学校分学段（九年一贯制等按加权在校生分摊校舍、设备），教学点与排除规则。"
    " Assessment units: school sections and teaching points, with the facility split.",
    check_specs=[
        _spec("units_not_empty", asset="school_units", description="the year has at least one unit"),
        _spec("units_unique", asset="school_units", description="(school_id, level) is unique"),
    ],
)
def school_units(context: AssetExecutionContext, warehouse_db: WarehouseResource):
    year = _year(context)
    with warehouse_db.get_connection() as con:
        if year not in steps.staged_years(con):
            raise Failure(description=f"{year} 学年没有通过校验的学校数据。 / no staged school rows for {year}.")
        counts = steps.build_units(con, year)
        dups = _duplicates(con, "school_units", ("year", "school_id", "level"), year)
    return MaterializeResult(
        metadata={"units": counts["school_units"], "excluded_or_merged": counts["unit_exclusions"]},
        check_results=[
            _result("units_not_empty", counts["school_units"] > 0, f"{counts['school_units']} units"),
            _result("units_unique", dups == 0, f"{dups} duplicated keys"),
        ],
    )


@asset(
    group_name="indicators",
    partitions_def=school_years,
    deps=[school_units],
    description="学校资源配置七项指标及达标判定（至少6项达标且其余不低于标准的85%）。"
    " The seven resource indicators per unit and the school rule (6 of 7, 85% floor).",
    check_specs=[
        _spec("one_row_per_unit", asset="school_indicators",
                       description="as many rows as school_units, keys unique"),
        _spec("indicators_met_in_range", asset="school_indicators", description="indicators_met in 0..7"),
    ],
)
def school_indicators(context: AssetExecutionContext, warehouse_db: WarehouseResource):
    year = _year(context)
    with warehouse_db.get_connection() as con:
        counts = steps.build_school_indicators(con, year)
        units = int(warehouse.scalar(con, f"select count(*) from school_units where year = {year}"))
        dups = _duplicates(con, "school_indicators", PUBLISHED_KEYS["school_indicators"], year)
        bad = int(warehouse.scalar(
            con, f"select count(*) from school_indicators where year = {year} and indicators_met not between 0 and 7"))
        share = warehouse.scalar(
            con, f"select avg(meets_school_standard::int) from school_indicators where year = {year}")
    rows = counts["school_indicators"]
    return MaterializeResult(
        metadata={"units": rows, "share_meeting_standard": float(share or 0)},
        check_results=[
            _result("one_row_per_unit", rows == units and dups == 0, f"{rows} rows for {units} units, {dups} duplicates"),
            _result("indicators_met_in_range", bad == 0, f"{bad} rows out of range"),
        ],
    )


@asset(
    group_name="indicators",
    partitions_def=school_years,
    deps=[school_indicators],
    description="县域校际差异系数（按在校生加权）：每县 × 学段 × 指标，与 0.50（小学）/0.45（初中）比较。"
    " Enrolment-weighted inter-school variation coefficient per county, level and indicator.",
    check_specs=[
        _spec("county_cv_keys_unique", asset="county_cv",
                       description="(county_code, level, indicator) unique"),
        _spec("county_cv_units_reconcile", asset="county_cv",
                       description="units counted per county and level equal the units with a value"),
        _spec("county_cv_undefined_explained", asset="county_cv",
                       description="every null cv carries a reason"),
    ],
)
def county_cv(context: AssetExecutionContext, warehouse_db: WarehouseResource):
    year = _year(context)
    with warehouse_db.get_connection() as con:
        counts = steps.build_county_cv(con, year)
        dups = _duplicates(con, "county_cv", PUBLISHED_KEYS["county_cv"], year)
        units_cv = int(warehouse.scalar(con, f"select coalesce(sum(units), 0) from county_cv where year = {year}"))
        units_with_value = int(warehouse.scalar(
            con, f"select count(*) from unit_indicator_values where year = {year} and value is not null"))
        unexplained = int(warehouse.scalar(
            con, f"select count(*) from county_cv where year = {year} and cv is null and cv_undefined_reason is null"))
        failing = int(warehouse.scalar(
            con, f"select count(distinct county_code) from county_cv where year = {year} and not cv_meets"))
    return MaterializeResult(
        metadata={"rows": counts["county_cv"], "counties_with_a_failing_cv": failing},
        check_results=[
            _result("county_cv_keys_unique", dups == 0, f"{dups} duplicated keys"),
            _result("county_cv_units_reconcile", units_cv == units_with_value,
                    f"{units_cv} unit-indicator values in CVs, {units_with_value} in the indicators"),
            _result("county_cv_undefined_explained", unexplained == 0, f"{unexplained} null cv without a reason"),
        ],
    )


def _publish_asset(table: str, upstream, description: str):
    check = f"{table}_parquet_matches_warehouse"

    @asset(
        name=f"{table}_parquet",
        group_name="publish",
        partitions_def=school_years,
        deps=[upstream],
        description=description,
        check_specs=[_spec(check, asset=f"{table}_parquet",
                                    description="the published file reads back with the warehouse's row count")],
    )
    def _published(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
        import polars as pl

        year = _year(context)
        with warehouse_db.get_connection() as con:
            path, rows = steps.publish(con, table, year, settings.output_path)
            expected = int(warehouse.scalar(con, f"select count(*) from {table} where year = {year}"))
        read_back = pl.read_parquet(path).height
        return MaterializeResult(
            metadata={"path": MetadataValue.path(str(path)), "rows": rows},
            check_results=[_result(check, read_back == expected, f"{read_back} rows in file, {expected} in warehouse")],
        )

    return _published


school_indicators_parquet = _publish_asset(
    "school_indicators", school_indicators,
    "发布：school_indicators.parquet（按学年分区，原子写入）。 Published school_indicators, one Parquet file per year.",
)
county_cv_parquet = _publish_asset(
    "county_cv", county_cv,
    "发布：county_cv.parquet（按学年分区，原子写入）。 Published county_cv, one Parquet file per year.",
)

INGEST_ASSETS = [raw_schools, stg_schools, policy_tables]
YEAR_ASSETS = [school_units, school_indicators, county_cv, school_indicators_parquet, county_cv_parquet]
ALL_ASSETS = INGEST_ASSETS + YEAR_ASSETS
