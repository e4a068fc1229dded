"""Dagster assets: one per step, thin; the logic is in :mod:`junheng.steps` and ``sql/``.

Unpartitioned assets read the statisticians' files (any number of years at once); the
computation and publication are partitioned by school year. Every check is blocking: a
failed check stops everything downstream, so nothing is published from it.
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
from junheng.contract import YEARS
from junheng.ingest import InputFilesError
from junheng.staging import DuplicateFilesError
from junheng.publish import PUBLISHED_KEYS
from junheng.resources import JunhengSettings, WarehouseResource

school_years = StaticPartitionsDefinition([str(y) for y in YEARS])


def _spec(name: str, asset: str, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(name=name, asset=asset, description=description, blocking=True)


def _result(check: str, passed: bool, description: str, **meta) -> AssetCheckResult:
    return AssetCheckResult(check_name=check, passed=bool(passed), severity=AssetCheckSeverity.ERROR,
                            description=description, metadata=meta)


def _duplicates(con, table: str, keys: tuple[str, ...], year: int | None = None) -> int:
    where = f"where year = {int(year)}" if year is not None else ""
    k = ", ".join(keys)
    return int(warehouse.scalar(con, f"select count(*) from (select {k} from {table} {where} group by {k} having count(*) > 1)"))


def _expectations_spec(table: str) -> AssetCheckSpec:
    return _spec(f"{table}_expectations", table,
                 f"Great Expectations suite expectations/{table}.json: errors block publication, warnings are reported")


def _expectations_result(con, table: str, settings: JunhengSettings, year: int | None = None) -> AssetCheckResult:
    """Run the table's suite; a failed error-severity expectation fails the check (and blocks
    everything downstream), warnings only are reported with WARN severity."""
    from junheng import validation

    out = settings.output_path
    report = validation.validate_table(con, table, year, docs_dir=out / "data_docs")
    validation.save_report(report, out, year)
    severity = AssetCheckSeverity.ERROR if report.errors else AssetCheckSeverity.WARN
    text = report.summary()
    return AssetCheckResult(check_name=f"{table}_expectations", passed=not report.failures, severity=severity,
                            description=text[:2000],
                            metadata={"errors": len(report.errors), "warnings": len(report.warnings),
                                      "expectations": report.evaluated})


# ---- ingest (unpartitioned) --------------------------------------------------------------------


def _raw_asset(table: steps.InputTable, description: str):
    check = f"raw_{table.name}_read"

    @asset(name=f"raw_{table.name}", group_name="ingest", description=description,
           check_specs=[_spec(check, f"raw_{table.name}", "the files were read" +
                              (" and hold at least one row" if table.required else "")),
                        _expectations_spec(f"raw_{table.name}")])
    def _raw(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
        try:
            with warehouse_db.get_connection() as con:
                rows, files = steps.ingest(con, settings.input_dir, table, settings.include_subfolders,
                                           settings.include_hidden_sheets)
                expectations = _expectations_result(con, f"raw_{table.name}", settings)
        except (InputFilesError, FileNotFoundError) as exc:
            raise Failure(description=str(exc)) from None
        context.log.info(f"read {rows} rows from {len(files)} file(s)")
        return MaterializeResult(
            metadata={"rows": rows, "files": MetadataValue.json(files)},
            check_results=[_result(check, rows > 0 or not table.required, f"{rows} rows from {len(files)} files"),
                           expectations],
        )

    return _raw


def _staged_asset(table: steps.InputTable, upstream: list, key: str, description: str):
    name = f"stg_{table.name}"

    @asset(name=name, group_name="ingest", deps=upstream, description=description, check_specs=[
        _spec(f"{name}_rows_reconcile", name, "rows in = rows staged + rows quarantined (nothing lost)"),
        _spec(f"{name}_key_unique", name, f"(year, {key}) is unique among staged rows"),
        _expectations_spec(name),
    ])
    def _staged(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
        with warehouse_db.get_connection() as con:
            try:
                summary = steps.stage(con, table, settings.input_checks())
            except DuplicateFilesError as exc:
                raise Failure(description=str(exc)) from None
            raw = int(warehouse.scalar(con, f"select count(*) from raw_{table.name}"))
            staged = int(warehouse.scalar(con, f"select count(*) from stg_{table.name}"))
            quarantined = int(warehouse.scalar(
                con, "select count(*) from (select distinct source_file, source_sheet, source_row "
                     f"from quarantine_{table.name} where severity = 'error')"))
            dups = _duplicates(con, f"stg_{table.name}", ("year", key))
            expectations = _expectations_result(con, name, settings)
        if summary.rows_quarantined and settings.policy().national["ingest"]["on_bad_rows"] == "stop":
            raise Failure(
                description=f"{summary.rows_quarantined} 行数据不合格，按设置停止运行；详见隔离报告。"
                f" / {summary.rows_quarantined} rows failed validation and the policy says stop; "
                "see the quarantine report.",
            )
        return MaterializeResult(
            metadata={"rows_in": raw, "rows_staged": staged, "rows_quarantined": quarantined,
                      "problems": summary.problems, "warnings": summary.warnings,
                      "years": MetadataValue.json(summary.years)},
            check_results=[
                _result(f"{name}_rows_reconcile", raw == staged + quarantined,
                        f"{raw} in = {staged} staged + {quarantined} quarantined"),
                _result(f"{name}_key_unique", dups == 0, f"{dups} duplicated keys"),
                expectations,
            ],
        )

    return _staged


raw_schools = _raw_asset(steps.SCHOOLS, "原始学校数据：统计人员提交的文件逐行原样入库（含文件名、行号）。"
                         " Raw school rows from every schools* file, kept as they came with file and row.")
raw_counties = _raw_asset(steps.COUNTIES, "原始县级补充数据（政府保障、教育质量、满意度、否决项）。"
                          " Raw county rows from every counties* file (what the statistics lack).")
stg_schools = _staged_asset(steps.SCHOOLS, [raw_schools], "school_id",
                            "校验后的学校数据：不合格的行进入隔离表，注明文件、行、列和原因。"
                            " Typed school rows; rows that break the contract go to the quarantine with the reason.")
# after stg_schools: a county form is checked against the counties that have schools
stg_counties = _staged_asset(steps.COUNTIES, [raw_counties, stg_schools], "county_code",
                             "校验后的县级补充数据。 Typed county rows; bad rows quarantined with the reason.")


@asset(
    group_name="ingest",
    deps=[stg_schools, stg_counties],
    description="政策参数表：国家标准及各省覆盖值（阈值、开关、折算系数、评估项目、阶段目标），来自 policy/。"
    " Policy tables (thresholds, switches, split weights, items, milestones) for the provinces present.",
)
def policy_tables(warehouse_db: WarehouseResource, settings: JunhengSettings):
    with warehouse_db.get_connection() as con:
        provinces = steps.load_policy(con, settings.policy(), settings.policy_dir)
    return MaterializeResult(metadata={"provinces": MetadataValue.json(provinces)})


# ---- per year ----------------------------------------------------------------------------------


def _year_asset(name: str, models: tuple[str, ...], deps: list, description: str, keys: tuple[str, ...],
                group: str = "indicators", extra_checks=(), expectations: bool = False):
    """An asset that runs SQL models for one year, with not-empty and unique-key checks on
    the table named like the asset.

    ``extra_checks``: (check name, description, fn(con, year) -> (passed, text)).
    """
    specs = [_spec(f"{name}_not_empty", name, "the year has rows"),
             _spec(f"{name}_keys_unique", name, f"({', '.join(keys)}) is unique")]
    specs += [_spec(c[0], name, c[1]) for c in extra_checks]
    if expectations:
        specs.append(_expectations_spec(name))

    @asset(name=name, group_name=group, partitions_def=school_years, deps=deps, description=description,
           check_specs=specs)
    def _compute(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
        year = int(context.partition_key)
        with warehouse_db.get_connection() as con:
            if year not in steps.staged_years(con):
                raise Failure(description=f"{year} 学年没有通过校验的学校数据。 / no staged school rows for {year}.")
            counts = steps.run_models(con, models, year)
            rows = counts[name]
            dups = _duplicates(con, name, keys, year)
            results = [_result(f"{name}_not_empty", rows > 0, f"{rows} rows"),
                       _result(f"{name}_keys_unique", dups == 0, f"{dups} duplicated keys")]
            for check, _, fn in extra_checks:
                passed, text = fn(con, year)
                results.append(_result(check, passed, text))
            if expectations:
                results.append(_expectations_result(con, name, settings, year))
        return MaterializeResult(metadata={f"rows_{m}": n for m, n in counts.items()}, check_results=results)

    return _compute


def _units_match(con, year):
    units = warehouse.scalar(con, f"select count(*) from school_units where year = {year}")
    rows = warehouse.scalar(con, f"select count(*) from school_indicators where year = {year}")
    return units == rows, f"{rows} rows for {units} units"


def _cv_units_reconcile(con, year):
    in_cv = warehouse.scalar(con, f"select coalesce(sum(units), 0) from county_variation where year = {year}")
    values = warehouse.scalar(
        con, f"select count(*) from unit_indicator_values where year = {year} and value is not null")
    return in_cv == values, f"{in_cv} unit values in CVs, {values} in the indicators"


def _cv_undefined_explained(con, year):
    n = warehouse.scalar(
        con, f"select count(*) from county_cv where year = {year} and cv is null and cv_undefined_reason is null")
    return n == 0, f"{n} null cv without a reason"


def _one_scorecard_per_county(con, year):
    counties = warehouse.scalar(con, f"select count(distinct county_code) from county_item_values where year = {year}")
    cards = warehouse.scalar(con, f"select count(*) from county_scorecard where year = {year}")
    return counties == cards, f"{cards} scorecards for {counties} counties"


school_units = _year_asset(
    "school_units", steps.UNIT_MODELS, [stg_schools, policy_tables],
    "评估单元：学校分学段（九年一贯制等按加权在校生分摊校舍、设备），教学点与排除规则。"
    " Assessment units: school sections and teaching points, with the facility split.",
    ("year", "school_id", "level"))
school_indicators = _year_asset(
    "school_indicators", steps.INDICATOR_MODELS, [school_units],
    "学校资源配置七项指标及达标判定（至少6项达标且其余不低于标准的85%）。"
    " The seven resource indicators per unit and the school rule (6 of 7, 85% floor).",
    PUBLISHED_KEYS["school_indicators"],
    extra_checks=[("one_row_per_unit", "as many rows as school_units", _units_match)], expectations=True)
county_variation = _year_asset(
    "county_variation", ("county_variation",), [school_indicators],
    "差异系数（按在校生加权，总体形式）：每县 × 学段 × 方法 × 指标。公式只写在 sql/intermediate/county_variation.sql。"
    " The enrolment-weighted variation coefficient of every county, level, method and indicator.",
    ("year", "county_code", "level", "method", "indicator"),
    extra_checks=[("cv_units_reconcile", "units in the CVs equal the unit values", _cv_units_reconcile)])
county_cv = _year_asset(
    "county_cv", ("county_cv",), [county_variation],
    "优质均衡14项差异系数，与 0.50（小学）/0.45（初中）比较。 The 14 CVs of quality balance against their ceilings.",
    PUBLISHED_KEYS["county_cv"],
    extra_checks=[("cv_undefined_explained", "every null cv carries a reason", _cv_undefined_explained)],
    expectations=True)
county_basic_balance = _year_asset(
    "county_basic_balance", ("county_basic_balance",), [county_variation],
    "基本均衡（2012）：八项指标差异系数及综合差异系数（均值），与 0.65/0.55 比较。"
    " Basic balance (2012): eight CVs, their mean as the composite, against 0.65 / 0.55.",
    PUBLISHED_KEYS["county_basic_balance"])
county_items = _year_asset(
    "county_items", ("county_school_conditions", "county_item_values", "county_item_verdicts", "county_items"),
    [county_cv, stg_counties], "县域评估全部项目：数值、标准、标准来源（国家或省）、判定及趋势。"
    " Every item of every county: value, threshold, the rule that set it, verdict and trend.",
    PUBLISHED_KEYS["county_items"], group="assessment")
county_scorecard = _year_asset(
    "county_scorecard", ("county_scorecard",), [county_items],
    "县域优质均衡评估结论：资源配置、政府保障、教育质量、社会认可、前提条件、一票否决。"
    " The county scorecard: each part, vetoes, status and failing items.",
    PUBLISHED_KEYS["county_scorecard"], group="assessment",
    extra_checks=[("one_scorecard_per_county", "one scorecard per county", _one_scorecard_per_county)],
    expectations=True)
county_progress = _year_asset(
    "county_progress", ("county_progress",), [county_scorecard],
    "各县距优质均衡的差距与按当前进度的预计达标年份（2027/2030/2035）。"
    " How far each county is, and the year it would pass at its current pace.",
    PUBLISHED_KEYS["county_progress"], group="assessment")
province_progress = _year_asset(
    "province_progress", ("province_progress",), [county_scorecard],
    "各省优质均衡县比例与下一阶段目标对比。 Share of counties at quality balance against the next milestone.",
    PUBLISHED_KEYS["province_progress"], group="assessment")


def _publish_asset(table: str, upstream):
    check = f"{table}_parquet_matches_warehouse"

    @asset(name=f"{table}_parquet", group_name="publish", partitions_def=school_years, deps=[upstream],
           description=f"发布：{table}（Parquet，按学年分区，原子写入）。 Published {table}, one Parquet file per year.",
           check_specs=[_spec(check, f"{table}_parquet", "the published file reads back with the warehouse's rows")])
    def _published(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
        import polars as pl

        year = int(context.partition_key)
        with warehouse_db.get_connection() as con:
            path, rows = steps.publish(con, table, year, settings.output_path)
            expected = int(warehouse.scalar(con, f"select count(*) from {table} where year = {year}"))
        read_back = pl.read_parquet(path).height
        return MaterializeResult(
            metadata={"path": MetadataValue.path(str(path)), "rows": rows},
            check_results=[_result(check, read_back == expected, f"{read_back} rows in file, {expected} in warehouse")],
        )

    return _published


COMPUTE_ASSETS = [school_units, school_indicators, county_variation, county_cv, county_basic_balance,
                  county_items, county_scorecard, county_progress, province_progress]
_by_name = {a.key.to_user_string(): a for a in COMPUTE_ASSETS}
PUBLISH_ASSETS = [_publish_asset(t, _by_name[t]) for t in PUBLISHED_KEYS]

@asset(
    group_name="publish",
    deps=[policy_tables],
    description="发布：政策参照表（各省指标标准、差异系数标准、阶段目标、口径假设）。"
    " Published reference: indicator thresholds and CV ceilings per province, milestones, assumptions.",
)
def reference_parquet(warehouse_db: WarehouseResource, settings: JunhengSettings):
    from junheng.milestones import load_milestones
    from junheng.publish import publish_reference

    _, assumptions = load_milestones(settings.policy_dir)
    with warehouse_db.get_connection() as con:
        paths = publish_reference(con, settings.output_path, assumptions)
    return MaterializeResult(metadata={"files": MetadataValue.json([str(p) for p in paths])})


@asset(
    group_name="publish",
    deps=[reference_parquet, *PUBLISH_ASSETS],
    description="领导看板：离线可用的静态网页（总览、各省、各县），只读取已发布的 Parquet。"
    " Offline Plotly dashboards (index, provinces, counties), built only from the published Parquet.",
    check_specs=[_spec("dashboards_written", "dashboards", "an index, a page per province and per county")],
)
def dashboards(settings: JunhengSettings):
    from dashboards.build import build_dashboards

    result = build_dashboards(settings.output_path)
    index = settings.output_path / "dashboards" / "index.html"
    return MaterializeResult(
        metadata={"pages": result["pages"], "seconds": round(result["seconds"], 1),
                  "index": MetadataValue.path(str(index))},
        check_results=[_result("dashboards_written", index.exists() and result["pages"] > 1,
                               f"{result['pages']} pages in {result['seconds']:.1f} s")],
    )


INGEST_ASSETS = [raw_schools, raw_counties, stg_schools, stg_counties, policy_tables, reference_parquet]
YEAR_ASSETS = COMPUTE_ASSETS + PUBLISH_ASSETS
REPORT_ASSETS = [dashboards]
ALL_ASSETS = INGEST_ASSETS + YEAR_ASSETS + REPORT_ASSETS
