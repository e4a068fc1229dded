"""Dagster assets, thin; the logic is in :mod:`junheng.steps`, :mod:`junheng.report` and ``sql/``.

    ingest (unpartitioned)      raw_* → stg_* (one step, input_tables) → policy_tables, reference:
                                the statisticians' files, any number of years at once
    per year (partitioned)      one asset per yearly SQL model of the registry (junheng.models),
                                computed together in one step per year
    all years (unpartitioned)   the roll-ups (trends, pace), the published Parquet, the quarantine
                                workbook, the run summary, the schema document and the dashboards

Every asset, its upstream, keys and checks come from ``junheng.models.MODELS``. Every check is
blocking: a failed check stops everything downstream, so nothing is published from it. (The
tables of one step, input_tables or a year's models, are all computed before their checks
decide: the Great Expectations suites validate beside the step, see validation_process.)
"""

from dataclasses import dataclass

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    AssetKey,
    AssetSpec,
    StaticPartitionsDefinition,
    asset,
    multi_asset,
)

from junheng import report, steps, validation, validation_process, warehouse
from junheng.contract import YEARS
from junheng.models import ALL_YEARS_MODELS, PUBLISHED_MODELS, YEAR_MODELS, Model
from junheng.ingest import InputFilesError
from junheng.staging import DuplicateFilesError
from junheng.resources import JunhengSettings, WarehouseResource

school_years = StaticPartitionsDefinition([str(y) for y in YEARS])


def _spec(name: str, asset: str, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(name=name, asset=asset, description=description, blocking=True)


def _result(check: str, passed: bool, description: str, asset_key: str | None = None, **meta) -> AssetCheckResult:
    return AssetCheckResult(check_name=check, passed=bool(passed), severity=AssetCheckSeverity.ERROR,
                            description=description, metadata=meta, asset_key=asset_key)


def _duplicates(con, table: str, keys: tuple[str, ...], year: int | None = None) -> int:
    """How many keys of ``table`` (its rows of ``year``) occur more than once.

    Grouping on one 64-bit hash of the keys costs about half of grouping on the keys themselves
    (1.9 million rows of unit_gaps, three of the keys text, in every year's run). Equal keys have
    equal hashes, so when no hash repeats the keys are unique; only a repeated hash (a duplicate,
    or two keys sharing a hash) is counted again on the keys."""
    where = f"where year = {int(year)}" if year is not None else ""
    k = ", ".join(keys)
    if not warehouse.scalar(con, f"select count(*) from (select hash({k}) as h from {table} {where} "
                                 "group by h having count(*) > 1)"):
        return 0
    return int(warehouse.scalar(con, f"select count(*) from (select {k} from {table} {where} group by {k} having count(*) > 1)"))


def _expectations_spec(table: str) -> AssetCheckSpec:
    return _spec(f"{table}_expectations", table,
                 f"Great Expectations suite expectations/{table}.json: errors block publication, warnings are reported")


def _expectations_check(table: str, pending: validation_process.Pending, settings: JunhengSettings,
                        year: int | None = None, asset_key: str | None = None) -> AssetCheckResult:
    """The table's suite as a check, once its validation (see validation_process) is done: a
    failed error-severity expectation fails the check (and blocks everything downstream),
    warnings only are reported with WARN severity."""
    outcome = _expectations_report(pending, settings, year)
    severity = AssetCheckSeverity.ERROR if outcome.errors else AssetCheckSeverity.WARN
    return AssetCheckResult(check_name=f"{table}_expectations", passed=not outcome.failures, severity=severity,
                            asset_key=asset_key or table,
                            description=outcome.summary()[:2000],
                            metadata={"errors": len(outcome.errors), "warnings": len(outcome.warnings),
                                      "expectations": outcome.evaluated})


def _expectations_report(pending: validation_process.Pending, settings: JunhengSettings,
                         year: int | None = None) -> validation.Report:
    """The suite's report, once done, kept beside the outputs."""
    outcome = pending.report()
    validation.save_report(outcome, settings.output_path, year)
    return outcome


def _results_dir(settings: JunhengSettings):
    """Where Great Expectations' own results are kept, for the Data Docs."""
    return settings.output_path / validation.RESULTS_DIR


def _validate(con, table: str, settings: JunhengSettings, year: int | None = None) -> validation_process.Pending:
    return validation_process.validate(con, table, year, _results_dir(settings))


@dataclass
class _Materialised:
    """An asset written by a step, its checks, and its suite's validation under way (if any):
    the step's result once that is done."""

    asset: str
    metadata: dict
    checks: list[AssetCheckResult]
    expectations: validation_process.Pending | validation_process.Parts | None

    def result(self, settings: JunhengSettings, year: int | None) -> MaterializeResult:
        checks = self.checks + ([_expectations_check(self.asset, self.expectations, settings, year)]
                                if self.expectations is not None else [])
        return MaterializeResult(asset_key=self.asset, metadata=self.metadata, check_results=checks)


# ---- ingest (unpartitioned) --------------------------------------------------------------------


_INPUT_DESCRIPTIONS = {
    "raw_schools": "原始学校数据：统计人员提交的文件逐行原样入库（含文件名、行号）。"
                   " Raw school rows from every schools* file, kept as they came with file and row.",
    "raw_counties": "原始县级补充数据（政府保障、教育质量、满意度、否决项）。"
                    " Raw county rows from every counties* file (what the statistics lack).",
    "stg_schools": "校验后的学校数据：不合格的行进入隔离表，注明文件、行、列和原因。"
                   " Typed school rows; rows that break the contract go to the quarantine with the reason.",
    "stg_counties": "校验后的县级补充数据。 Typed county rows; bad rows quarantined with the reason.",
}
# staged tables: their key, and what they are staged after (a county form is checked against
# the counties that have schools)
_STAGED = {steps.SCHOOLS: ("school_id", ["raw_schools"]),
           steps.COUNTIES: ("county_code", ["raw_counties", "stg_schools"])}


def _input_check_specs() -> list[AssetCheckSpec]:
    specs = []
    for t in steps.INPUT_TABLES:
        raw = f"raw_{t.name}"
        specs += [_spec(f"{raw}_read", raw, "the files were read" + (" and hold at least one row" if t.required else "")),
                  _expectations_spec(raw)]
    for t, (key, _) in _STAGED.items():
        name = f"stg_{t.name}"
        specs += [_spec(f"{name}_rows_reconcile", name, "rows in = rows staged + rows quarantined (nothing lost)"),
                  _spec(f"{name}_key_unique", name, f"(year, {key}) is unique among staged rows"),
                  _expectations_spec(name)]
    return specs


@multi_asset(
    name="input_tables",
    specs=[AssetSpec(f"raw_{t.name}", group_name="ingest", description=_INPUT_DESCRIPTIONS[f"raw_{t.name}"])
           for t in steps.INPUT_TABLES]
          + [AssetSpec(f"stg_{t.name}", deps=upstream, group_name="ingest", description=_INPUT_DESCRIPTIONS[f"stg_{t.name}"])
             for t, (_, upstream) in _STAGED.items()],
    check_specs=_input_check_specs(), can_subset=True,
    description="读取统计人员的文件（raw_*）并逐行校验（stg_*，不合格的行进入隔离表）。"
                " The statisticians' files as they came (raw_*), then typed and checked row by row (stg_*).",
)
def input_tables(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    """Each table's Great Expectations suite validates beside the step (validation_process) while
    the next table is read or staged; the step ends with every check decided."""
    selected = {k.path[-1] for k in context.selected_asset_keys}
    with validation_process.for_step():
        yield from _input_tables(context, selected, warehouse_db, settings)


def _input_tables(context: AssetExecutionContext, selected: set, warehouse_db: WarehouseResource,
                  settings: JunhengSettings):
    done: list[_Materialised] = []
    try:
        with warehouse_db.get_connection() as con:
            for table in (steps.COUNTIES, steps.SCHOOLS):
                name = f"raw_{table.name}"
                if name not in selected:
                    continue
                try:
                    rows, files = steps.ingest(con, settings.input_dir, table, settings.include_subfolders,
                                               settings.include_hidden_sheets)
                except (InputFilesError, FileNotFoundError) as exc:
                    raise Failure(description=str(exc)) from None
                context.log.info(f"read {rows} rows from {len(files)} file(s)")
                done.append(_Materialised(name, {"rows": rows, "files": MetadataValue.json(files)},
                                          [_result(f"{name}_read", rows > 0 or not table.required,
                                                   f"{rows} rows from {len(files)} files", name)],
                                          _validate(con, name, settings)))
            for table, (key, _) in _STAGED.items():
                name = f"stg_{table.name}"
                if name not in selected:
                    continue
                validation.clear_results(_results_dir(settings), name)
                parts: list[validation_process.Pending] = []   # a decade's years validate as they are staged

                def validate_part(rows, years, name=name, parts=parts):
                    parts.append(validation_process.validate_part(con, name, rows, years, _results_dir(settings)))

                try:
                    summary = steps.stage(con, table, settings.input_checks(), on_part=validate_part)
                except DuplicateFilesError as exc:
                    raise Failure(description=str(exc)) from None
                counts = report.stage_counts(con)[table.name]  # what the run summary will say
                raw, staged, quarantined = counts["rows_in"], counts["rows_staged"], counts["rows_quarantined"]
                dups = _duplicates(con, name, ("year", key))
                done.append(_Materialised(
                    name, {"rows_in": raw, "rows_staged": staged, "rows_quarantined": quarantined,
                           "problems": summary.problems, "warnings": summary.warnings,
                           "years": MetadataValue.json(summary.years)},
                    [_result(f"{name}_rows_reconcile", raw == staged + quarantined,
                             f"{raw} in = {staged} staged + {quarantined} quarantined", name),
                     _result(f"{name}_key_unique", dups == 0, f"{dups} duplicated keys", name)],
                    validation_process.Parts(name, parts) if parts else _validate(con, name, settings)))
                if summary.rows_quarantined and settings.policy().national["ingest"]["on_bad_rows"] == "stop":
                    raise Failure(
                        description=f"{summary.rows_quarantined} 行数据不合格，按设置停止运行；详见隔离报告。"
                        f" / {summary.rows_quarantined} rows failed validation and the policy says stop; "
                        "see the quarantine report.",
                    )
    except Failure:
        for m in done:   # what was validated is reported all the same
            _expectations_report(m.expectations, settings)
        raise
    for m in done:
        yield m.result(settings, None)


@asset(
    group_name="ingest",
    deps=["stg_schools", "stg_counties"],
    description="政策参数表：国家标准及各省覆盖值（阈值、开关、折算系数、评估项目、阶段目标），来自 policy/。"
    " Policy tables (thresholds, switches, split weights, items, milestones) for the provinces present.",
)
def policy_tables(warehouse_db: WarehouseResource, settings: JunhengSettings):
    with warehouse_db.get_connection() as con:
        provinces = steps.load_policy(con, settings.policy(), settings.policy_dir)
    return MaterializeResult(metadata={"provinces": MetadataValue.json(provinces)})


# ---- the SQL models of the registry ------------------------------------------------------------


def _model_check_specs(m: Model) -> list[AssetCheckSpec]:
    specs = [_spec(f"{m.name}_keys_unique", m.name, f"({', '.join(m.keys)}) is unique")]
    if not m.may_be_empty:
        specs.append(_spec(f"{m.name}_not_empty", m.name, "has rows"))
    specs += [_spec(c.name, m.name, c.description) for c in m.checks]
    if m.expectations:
        specs.append(_expectations_spec(m.name))
    return specs


def _model_results(con, m: Model, rows: int, settings: JunhengSettings, year: int | None,
                   selected: set) -> _Materialised:
    """The model's checks, for the year (or all years), as far as they were selected; its suite
    is started, and decided when the result is taken."""
    results = []

    def want(name: str) -> bool:
        return AssetCheckKey(AssetKey(m.name), name) in selected

    if want(f"{m.name}_keys_unique"):
        dups = _duplicates(con, m.name, m.keys, year)
        results.append(_result(f"{m.name}_keys_unique", dups == 0, f"{dups} duplicated keys", m.name))
    if want(f"{m.name}_not_empty"):
        results.append(_result(f"{m.name}_not_empty", rows > 0, f"{rows} rows", m.name))
    for c in m.checks:
        if want(c.name):
            passed, text = con.sql(c.sql).fetchall()[0]
            results.append(_result(c.name, passed, str(text), m.name))
    pending = _validate(con, m.name, settings, year) if m.expectations and want(f"{m.name}_expectations") else None
    return _Materialised(m.name, {"rows": rows}, results, pending)


def _model_specs(models: tuple[Model, ...], group: str) -> list[AssetSpec]:
    return [AssetSpec(m.name, deps=list(m.asset_upstream), description=m.description, group_name=group,
                      metadata={"keys": list(m.keys), "sql": f"sql/**/{m.name}.sql", "scope": m.scope})
            for m in models]


@multi_asset(
    name="yearly_models", specs=_model_specs(YEAR_MODELS, "assessment"), partitions_def=school_years,
    check_specs=[c for m in YEAR_MODELS for c in _model_check_specs(m)], can_subset=True,
    description="按学年计算：评估单元、七项指标、差异系数、县域评估项目与结论。 One school year: units, "
                "indicators, variation coefficients, county items and scorecard (sql/, in the registry's order).",
)
def yearly_models(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    year = int(context.partition_key)
    selected = {k.path[-1] for k in context.selected_asset_keys}
    checks = set(context.selected_asset_check_keys)
    results = []  # yielded after the connection is closed: a generator left suspended would hold the lock
    with validation_process.for_step():
        with warehouse_db.get_connection() as con:
            if year not in steps.staged_years(con):
                raise Failure(description=f"{year} 学年没有通过校验的学校数据。 / no staged school rows for {year}.")
            for m in YEAR_MODELS:
                if m.name not in selected:
                    continue
                rows = warehouse.run_model(con, m.name, year)
                results.append(_model_results(con, m, rows, settings, year, checks))
        # the suites validated beside the later models (validation_process)
        outcomes = [r.result(settings, year) for r in results]
    yield from outcomes


@multi_asset(
    name="all_years_models", specs=_model_specs(ALL_YEARS_MODELS, "progress"),
    check_specs=[c for m in ALL_YEARS_MODELS for c in _model_check_specs(m)], can_subset=True,
    description="历年汇总：趋势、进度与预计达标年份（所有学年一起计算，结果与各学年的计算顺序无关）。"
                " Roll-ups over all years (trends, pace), computed together so no result depends on run order.",
)
def all_years_models(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    selected = {k.path[-1] for k in context.selected_asset_keys}
    checks = set(context.selected_asset_check_keys)
    results = []
    with warehouse_db.get_connection() as con:
        for m in ALL_YEARS_MODELS:
            if m.name in selected:
                rows = warehouse.run_model_all_years(con, m.name)
                results.append(_model_results(con, m, rows, settings, None, checks))
    for r in results:
        yield r.result(settings, None)


# ---- what users receive --------------------------------------------------------------------------


def _parquet_key(m: Model) -> str:
    return f"{m.name}_parquet"


@multi_asset(
    name="published_tables",
    specs=[AssetSpec(_parquet_key(m), deps=[m.name], group_name="publish",
                     description=f"发布：{m.name}（Parquet，按学年分区，原子写入）。 Published {m.name}, "
                                 "one zstd Parquet file per year, each replaced atomically.")
           for m in PUBLISHED_MODELS],
    check_specs=[_spec(f"{_parquet_key(m)}_matches_warehouse", _parquet_key(m),
                       "every published file reads back with the warehouse's rows for its year")
                 for m in PUBLISHED_MODELS],
    can_subset=True,
)
def published_tables(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    selected = {k.path[-1] for k in context.selected_asset_keys}
    results = []
    with warehouse_db.get_connection() as con:
        years = steps.staged_years(con)
        for m in PUBLISHED_MODELS:
            if _parquet_key(m) not in selected:
                continue
            written = steps.publish_years(con, m.name, years, settings.output_path)
            mismatched = [y for y, (path, rows, read_back) in written.items() if rows != read_back]
            results.append(MaterializeResult(
                asset_key=_parquet_key(m),
                metadata={"years": MetadataValue.json(years), "rows": sum(r for _, r, _ in written.values())},
                check_results=[_result(f"{_parquet_key(m)}_matches_warehouse", not mismatched,
                                       f"{len(years)} files; years not matching: {mismatched}",
                                       _parquet_key(m))]))
        steps.record_publication(con, settings.output_path, years)
    yield from results


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


PARQUET_KEYS = [_parquet_key(m) for m in PUBLISHED_MODELS]
REPORT_SPECS = [
    AssetSpec("quarantine_report", deps=["stg_schools", "stg_counties", *PARQUET_KEYS], group_name="publish",
              description="问题清单 quarantine_report.xlsx：输入中的每个问题（文件、工作表、行、列、原因）、数据校验结果、未读取的文件。"
                          " Every problem in the input, every failed table check, every file not read."),
    AssetSpec("run_summary", deps=["quarantine_report"], group_name="publish",
              description="运行摘要 run_summary.json：读入、通过、隔离的行数，各学年、各省结果。"
                          " Rows in / staged / quarantined, per year and per province."),
    AssetSpec("data_docs", deps=["stg_schools", "stg_counties", *PARQUET_KEYS], group_name="publish",
              description="数据校验文档 data_docs/：Great Expectations 的每项检查及结果，离线可用（英文界面）。"
                          " Great Expectations' Data Docs of this run's validations, working offline."),
    AssetSpec("schema_document", group_name="publish",
              description="数据规范 SCHEMA.md：每个发布列的中英文说明。 Every published column, English and Chinese."),
    AssetSpec("dashboards", deps=["reference_parquet", *PARQUET_KEYS], group_name="publish",
              description="领导看板：离线可用的静态网页（总览、各省、各县），只读取已发布的 Parquet。"
                          " Offline Plotly dashboards (index, provinces, counties), built only from the published Parquet."),
]


@multi_asset(
    name="reports", specs=REPORT_SPECS, can_subset=True,
    check_specs=[_spec("dashboards_written", "dashboards", "an index, a page per province and per county")],
)
def reports(context: AssetExecutionContext, warehouse_db: WarehouseResource, settings: JunhengSettings):
    """What a run hands to people: the workbook and summary for statisticians, the schema for
    downstream systems, the dashboards for leaders. (A run that fails writes the workbook and
    summary too: the failure sensor and the command line call the same report functions.)"""
    from junheng import report
    from junheng.publish import write_schema_doc

    selected = {k.path[-1] for k in context.selected_asset_keys}
    out = settings.output_path
    # built where the validations ran (validation_process), beside the workbook
    docs = validation_process.data_docs(out) if "data_docs" in selected else None
    if "quarantine_report" in selected or "run_summary" in selected:
        with warehouse_db.get_connection() as con:
            summary = report.write_run_reports(con, out, {"published": True, "run_id": context.run.run_id,
                                                          "input_dir": settings.input_dir,
                                                          "output_dir": str(out)})
        if "quarantine_report" in selected:
            yield MaterializeResult(asset_key="quarantine_report", metadata={
                "path": MetadataValue.path(str(out / "quarantine_report.xlsx")),
                "problems": sum(summary[t]["problems"] + summary[t]["warnings"] for t in ("schools", "counties"))})
        if "run_summary" in selected:
            yield MaterializeResult(asset_key="run_summary",
                                    metadata={"path": MetadataValue.path(str(out / "run_summary.json"))})
    if "schema_document" in selected:
        write_schema_doc(out / "SCHEMA.md")
        yield MaterializeResult(asset_key="schema_document", metadata={"path": MetadataValue.path(str(out / "SCHEMA.md"))})
    if "dashboards" in selected:
        from dashboards.build import build_dashboards
        from junheng.publish import PublicationError

        try:
            result = build_dashboards(out)
        except PublicationError as exc:  # the dashboards alone, on an old or partial publication
            raise Failure(description=str(exc)) from None
        index = out / "dashboards" / "index.html"
        yield MaterializeResult(
            asset_key="dashboards",
            metadata={"pages": result["pages"], "county_pages_unchanged": result["reused"],
                      "seconds": round(result["seconds"], 1),
                      "index": MetadataValue.path(str(index))},
            check_results=[_result("dashboards_written", index.exists() and result["pages"] > 1,
                                   f"{result['pages']} pages in {result['seconds']:.1f} s", "dashboards")])
    if docs is not None:
        # collected last: the Data Docs are built beside the workbook and the dashboards (a
        # national run's worker holds some 400 MB then, less than the run holds at its peak);
        # the worker is stopped by whoever started it (validation_process.kept or for_step)
        results = docs.report()
        yield MaterializeResult(asset_key="data_docs", metadata={
            "validations": results, "index": MetadataValue.path(str(out / validation.DOCS_DIR / "index.html"))})


INGEST_ASSETS = [input_tables, policy_tables, reference_parquet]
YEAR_ASSETS = [yearly_models]
PUBLISH_ASSETS = [all_years_models, published_tables, reports]
ALL_ASSETS = INGEST_ASSETS + YEAR_ASSETS + PUBLISH_ASSETS
