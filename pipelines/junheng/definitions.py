"""The Dagster code location: assets, jobs, the yearly schedule and the inbox sensor.

``dagster dev -w workspace.yaml`` shows the whole graph; ``junheng run`` runs the same
assets in process.
"""

from __future__ import annotations

import os

from dagster import (
    DagsterRunStatus,
    Definitions,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    run_status_sensor,
    schedule,
    sensor,
)

from junheng.assets import ALL_ASSETS, INGEST_ASSETS, YEAR_ASSETS, school_years
from junheng.inbox import inbox_changes
from junheng.paths import DEFAULT_INPUT_DIR, DEFAULT_OUTPUT_DIR, DEFAULT_WAREHOUSE, POLICY_DIR
from junheng.resources import JunhengSettings, WarehouseResource
from junheng.warehouse import locked_connection

ingest_job = define_asset_job(
    "ingest_school_files", selection=INGEST_ASSETS,
    description="读取并校验统计人员提交的学校数据文件。 Read and validate the school files.",
)
assess_year_job = define_asset_job(
    "assess_year", selection=YEAR_ASSETS,
    description="按学年计算指标、差异系数并发布。 Compute indicators and CVs for one year and publish them.",
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
def school_files_inbox(context: SensorEvaluationContext):
    settings = _resources()["settings"]
    changed, cursor = inbox_changes(settings.input_dir, context.cursor)
    if not changed:
        return SkipReason("收件箱没有新的文件 / no new or changed files")
    context.update_cursor(cursor)
    return RunRequest(run_key=cursor, tags={"junheng/changed_files": ",".join(changed)[:1000]})


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[ingest_job], request_job=assess_year_job,
                   description="文件校验完成后，为其中每个学年启动计算。 After ingest, assess every year the files contain.")
def assess_years_after_ingest(context):
    database = _resources()["warehouse_db"].database
    with locked_connection(database) as con:
        years = [r[0] for r in con.sql("select distinct year from stg_schools order by year").fetchall()]
    run_id = context.dagster_run.run_id
    return [RunRequest(run_key=f"{run_id}-{y}", partition_key=str(y)) for y in years
            if str(y) in school_years.get_partition_keys()]


defs = Definitions(
    assets=ALL_ASSETS,
    jobs=[ingest_job, assess_year_job],
    schedules=[yearly_after_statistics_deadline],
    sensors=[school_files_inbox, assess_years_after_ingest],
    resources=_resources(),
)
