"""The Dagster code location: assets, jobs, the yearly schedule and the sensors.

A run started by files arriving goes exactly as ``junheng run`` goes:

    school_files_inbox (or the yearly schedule) → ingest_school_files
    assess_years_after_ingest                   → assess_year, one run per year the files hold
    publish_after_assessment                    → publish_results, once every year of the batch is done:
                                                  roll-ups, Parquet, workbook, summary, schema, dashboards
    report_failed_run                           → the workbook and summary of a run that failed

``dagster dev -w workspace.yaml`` shows the whole graph.
"""

from __future__ import annotations

import os

from dagster import (
    DagsterRunStatus,
    Definitions,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    run_failure_sensor,
    run_status_sensor,
    schedule,
    sensor,
)

from junheng.assets import ALL_ASSETS, INGEST_ASSETS, PUBLISH_ASSETS, YEAR_ASSETS, school_years
from junheng.inbox import inbox_changes
from junheng.paths import DEFAULT_INPUT_DIR, DEFAULT_OUTPUT_DIR, DEFAULT_WAREHOUSE, POLICY_DIR
from junheng.resources import JunhengSettings, WarehouseResource
from junheng.warehouse import locked_connection

BATCH_TAG = "junheng/batch"  # the ingest run a year or publication run belongs to

ingest_job = define_asset_job(
    "ingest_school_files", selection=INGEST_ASSETS,
    description="读取并校验统计人员提交的学校数据文件。 Read and validate the school files.",
)
assess_year_job = define_asset_job(
    "assess_year", selection=YEAR_ASSETS,
    description="按学年计算指标、差异系数和县域评估。 Compute one school year.",
)
publish_job = define_asset_job(
    "publish_results", selection=PUBLISH_ASSETS,
    description="汇总历年趋势，发布 Parquet、问题清单、运行摘要、数据规范和看板。"
                " Roll-ups, Parquet, workbook, summary, schema document and dashboards.",
)


def _resources() -> dict:
    return {
        "warehouse_db": WarehouseResource(database=os.environ.get("JUNHENG_WAREHOUSE", str(DEFAULT_WAREHOUSE))),
        "settings": JunhengSettings(
            input_dir=os.environ.get("JUNHENG_INPUT", str(DEFAULT_INPUT_DIR)),
            output_dir=os.environ.get("JUNHENG_OUTPUT", str(DEFAULT_OUTPUT_DIR)),
            policy_dir=os.environ.get("JUNHENG_POLICY", str(POLICY_DIR)),
        ),
    }


# Statistics are taken on 1 September and submissions close around 20 September.
@schedule(job=ingest_job, cron_schedule="0 6 1 10 *", execution_timezone="Asia/Shanghai",
          description="每年10月1日（统计报送截止后）自动运行。 Yearly, after the statistics deadline.")
def yearly_after_statistics_deadline():
    return RunRequest()


@sensor(job=ingest_job, minimum_interval_seconds=60,
        description="收件箱中出现新的或修改过的学校数据文件时启动运行。 Starts a run when school files in the inbox change.")
def school_files_inbox(context: SensorEvaluationContext, settings: JunhengSettings):
    changed, cursor = inbox_changes(settings.input_dir, context.cursor)
    if not changed:
        return SkipReason("收件箱没有新的文件 / no new or changed files")
    context.update_cursor(cursor)
    return RunRequest(run_key=cursor, tags={"junheng/changed_files": ",".join(changed)[:1000]})


def _staged_years(database: str) -> list[str]:
    with locked_connection(database) as con:
        return [str(r[0]) for r in con.sql("select distinct year from stg_schools order by year").fetchall()]


def year_requests(run_id: str, database: str) -> list[RunRequest]:
    """After an ingest run: one assess_year run per school year the staged files hold."""
    return [RunRequest(run_key=f"{run_id}-{y}", partition_key=y, tags={BATCH_TAG: run_id})
            for y in _staged_years(database) if y in school_years.get_partition_keys()]


def publish_request(instance, batch: str, database: str) -> RunRequest | None:
    """After a year run: the publication run, once every year of its batch has been assessed."""
    runs = instance.get_runs(RunsFilter(tags={BATCH_TAG: batch}, job_name=assess_year_job.name,
                                        statuses=[DagsterRunStatus.SUCCESS]))
    done = {r.tags.get("dagster/partition") for r in runs}
    if not set(_staged_years(database)) <= done:
        return None
    return RunRequest(run_key=f"{batch}-publish", tags={BATCH_TAG: batch})


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[ingest_job], request_job=assess_year_job,
                   description="文件校验完成后，为其中每个学年启动计算。 After ingest, assess every year the files contain.")
def assess_years_after_ingest(context, warehouse_db: WarehouseResource):
    return year_requests(context.dagster_run.run_id, warehouse_db.database)


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[assess_year_job], request_job=publish_job,
                   description="一批学年全部计算完成后发布结果。 Publish once every year of the batch is assessed.")
def publish_after_assessment(context, warehouse_db: WarehouseResource):
    batch = context.dagster_run.tags.get(BATCH_TAG)
    request = publish_request(context.instance, batch, warehouse_db.database) if batch else None
    return request or SkipReason("本批次还有学年未完成 / years of this batch still running")


@run_failure_sensor(monitored_jobs=[ingest_job, assess_year_job, publish_job],
                    description="运行失败时仍写出问题清单和运行摘要。 A failed run still writes the workbook and summary.")
def report_failed_run(context, warehouse_db: WarehouseResource, settings: JunhengSettings):
    from junheng import report

    with warehouse_db.get_connection() as con:
        report.write_failed_run_reports(con, settings.output_path, {
            "published": False, "run_id": context.dagster_run.run_id,
            "error": context.failure_event.message or "run failed"})


defs = Definitions(
    assets=ALL_ASSETS,
    jobs=[ingest_job, assess_year_job, publish_job],
    schedules=[yearly_after_statistics_deadline],
    sensors=[school_files_inbox, assess_years_after_ingest, publish_after_assessment, report_failed_run],
    resources=_resources(),
)
