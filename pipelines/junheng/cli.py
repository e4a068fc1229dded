"""Command line: ``junheng run`` runs the Dagster assets in process on a folder of files.

    junheng run                                  # the bundled sample → data/out/
    junheng run --input DIR --output DIR         # a statistician's own folder
    junheng sample                               # regenerate the bundled sample
    junheng ui                                   # the Dagster UI on this project
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from junheng.paths import (
    DEFAULT_DAGSTER_HOME,
    DEFAULT_INPUT_DIR,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_WAREHOUSE,
    POLICY_DIR,
    PROJECT_ROOT,
    SAMPLE_DIR,
)


# Dagster's SQLite storage in its usual place, with its connections kept open (see
# junheng.dagster_storage); telemetry off.
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_storage:
  module: junheng.dagster_storage
  class: KeptOpenSqliteRunStorage
event_log_storage:
  module: junheng.dagster_storage
  class: KeptOpenSqliteEventLogStorage
"""
# what earlier versions wrote: replaced, since it says nothing the new file does not
_EARLIER_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def configure_dagster_home() -> Path:
    """A DAGSTER_HOME inside the project's data folder (or the one set), with the project's
    ``dagster.yaml`` unless the home already has one of its own."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") == _EARLIER_DAGSTER_YAML:
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


def _dagster_instance():
    """The project's Dagster instance. Its first use creates the run database; two runs starting
    at once on a new DAGSTER_HOME would both try, so the first use is serialised by a lock."""
    from dagster import DagsterInstance

    from junheng.warehouse import file_lock

    home = configure_dagster_home()
    busy = f"另一次运行正在初始化 {home} / another run is initialising {home}"
    with file_lock(home / ".instance.lock", 600.0, busy):
        return DagsterInstance.get()


class RunFailed(Exception):
    pass


def _failed_error_checks(result) -> list:
    """Failed error-severity checks: they block what is downstream, so the run has failed."""
    from dagster import AssetCheckSeverity

    return [e for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == AssetCheckSeverity.ERROR]



def _failures(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                messages.append(f"[{event.step_key}] {data.user_failure_data.description}")
            elif data.error:
                error = data.error
                while error.cause is not None:  # the user's exception sits under Dagster's wrappers
                    error = error.cause
                messages.append(f"[{event.step_key}] {error.message.strip()}")
    for evaluation in _failed_error_checks(result):
        messages.append(
            f"[check {evaluation.asset_key.to_user_string()}.{evaluation.check_name}] {evaluation.description or ''}"
        )
    return messages


LOG_FILE = Path("logs") / "last_run.log"


def _write_log(path: Path, results: list) -> None:
    """Every event of the run, with full error traces, for whoever must look deeper than the
    terminal's message (the terminal shows only the clean message)."""
    from junheng.publish import atomic_write_bytes

    lines = []
    for result in results:
        for event in result.all_events:
            lines.append(f"{event.event_type_value} {event.step_key or ''} {event.message or ''}".rstrip())
            if event.event_type_value == "STEP_FAILURE" and event.step_failure_data.error:
                lines.append(event.step_failure_data.error.to_string())
    atomic_write_bytes(path, "\n".join(lines).encode("utf-8"))


def _earlier_publication(output_dir: Path) -> dict | None:
    import json

    from junheng.steps import PUBLICATION_FILE

    try:
        return json.loads((output_dir / PUBLICATION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_pipeline(input_dir: Path, output_dir: Path, warehouse: Path, policy_dir: Path,
                 years: list[int] | None = None, instance=None, log_level: str = "CRITICAL",
                 with_dashboards: bool = True, include_subfolders: bool = False,
                 include_hidden_sheets: bool = False) -> dict:
    """Start the runs the sensors would start (ingest, each year, then publication), in process,
    and return the run summary the run wrote. Raises RunFailed; the quarantine workbook and
    ``run_summary.json`` are written either way."""
    import json

    from junheng import report, validation_process
    from junheng.warehouse import exclusive_run, locked_connection

    started = time.time()
    results: list = []
    # the validation worker starts first: its import of Great Expectations goes on while this
    # process imports Dagster, which the first step would otherwise wait for
    with exclusive_run(warehouse), validation_process.kept():
        from dagster import AssetKey, materialize

        from junheng.assets import ALL_ASSETS, INGEST_ASSETS, PUBLISH_ASSETS, YEAR_ASSETS
        from junheng.resources import JunhengSettings, WarehouseResource
        from junheng.steps import staged_years

        quiet = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        resources = {
            "warehouse_db": WarehouseResource(database=str(warehouse)),
            "settings": JunhengSettings(input_dir=str(input_dir), output_dir=str(output_dir),
                                        policy_dir=str(policy_dir), include_subfolders=include_subfolders,
                                        include_hidden_sheets=include_hidden_sheets),
        }
        if instance is None:
            instance = _dagster_instance()
        shutil.rmtree(output_dir / "validation", ignore_errors=True)  # this run's reports only

        def run(selection, partition_key=None, label=""):
            """Materialise a selection in process; a failed step or error check fails the run."""
            result = materialize(ALL_ASSETS, selection=selection, partition_key=partition_key, resources=resources,
                                 instance=instance, run_config=quiet, raise_on_error=False,
                                 tags={"junheng/trigger": "cli"})
            results.append(result)
            if not result.success or _failed_error_checks(result):
                raise RunFailed(label + ("\n".join(_failures(result)) or "run failed"))
            return result

        try:
            run(INGEST_ASSETS)
            with locked_connection(warehouse) as con:
                present = staged_years(con)
            if not present:
                raise RunFailed(
                    "没有任何学校数据行通过校验，本次没有发布任何学年的结果。请按隔离报告（quarantine_report.xlsx）修改文件后重新运行。"
                    " / No school row passed validation, so no year was published. Fix the rows listed in "
                    "quarantine_report.xlsx and run again.")
            for year in [y for y in (years or present) if y in present]:
                run(YEAR_ASSETS, str(year), f"{year}:\n")
            publish = [k for a in PUBLISH_ASSETS for k in a.keys
                       if with_dashboards or k != AssetKey("dashboards")]
            run(publish)
        except RunFailed as exc:
            with locked_connection(warehouse) as con:
                report.write_failed_run_reports(con, output_dir, {
                    "published": False, "error": str(exc), "earlier_publication": _earlier_publication(output_dir),
                    "input_dir": str(input_dir), "output_dir": str(output_dir),
                    "log": str(output_dir / LOG_FILE), "seconds": round(time.time() - started, 1)})
            raise
        finally:
            _write_log(output_dir / LOG_FILE, results)
    summary = json.loads((output_dir / "run_summary.json").read_text(encoding="utf-8"))
    summary["seconds"] = round(time.time() - started, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    import signal

    if hasattr(signal, "SIGPIPE") and argv is None:  # `junheng plan … | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(prog="junheng", description="县域义务教育优质均衡评估 / county quality-balance assessment")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole pipeline / 运行全部步骤")
    run.add_argument("--input", type=Path, default=DEFAULT_INPUT_DIR, help="folder with schools*.csv|xlsx|parquet")
    run.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder for Parquet and reports")
    run.add_argument("--warehouse", type=Path, default=None, help="DuckDB file (default: data/warehouse/junheng.duckdb)")
    run.add_argument("--policy", type=Path, default=POLICY_DIR, help="folder with national.toml and provinces/")
    run.add_argument("--verbose", action="store_true", help="show Dagster's step log")
    run.add_argument("--include-subfolders", action="store_true", help="also read files in sub-folders / 读取子文件夹")
    run.add_argument("--include-hidden-sheets", action="store_true", help="also read hidden sheets / 读取隐藏工作表")
    run.add_argument("--years", type=lambda s: [int(y) for y in s.split(",")], default=None,
                     help="only these years, e.g. 2023,2024")
    smp = sub.add_parser("sample", help="regenerate the bundled sample data / 重新生成示例数据")
    smp.add_argument("--dir", type=Path, default=SAMPLE_DIR)
    sub.add_parser("ui", help="start the Dagster UI / 启动 Dagster 界面")
    pln = sub.add_parser("plan", help="one county's plan to pass / 打印一个县的达标方案")
    pln.add_argument("--county", required=True, help="6-digit county code / 县区代码")
    pln.add_argument("--year", type=int, default=None, help="school year (default: the latest published)")
    pln.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder of the published results")
    tpl = sub.add_parser("template", help="the county form to fill in / 生成县级补充表模板")
    tpl.add_argument("--input", type=Path, default=DEFAULT_INPUT_DIR, help="folder with the school files")
    tpl.add_argument("--year", type=int, default=None, help="school year (default: the latest in the school files)")
    tpl.add_argument("--output", type=Path, default=None, help="workbook to write (default: counties_<year>_模板.xlsx)")
    args = parser.parse_args(argv)

    if args.command == "template":
        from junheng.ingest import InputFilesError
        from junheng.template import write_template

        if not args.input.is_dir():
            print(f"找不到输入文件夹 {args.input}。 / no such input folder: {args.input}", file=sys.stderr)
            return 1
        try:
            written = write_template(args.input.resolve(), args.output, args.year)
        except (InputFilesError, FileNotFoundError, ValueError) as exc:
            print(f"无法生成模板 / cannot write the template: {exc}", file=sys.stderr)
            return 1
        print(f"县级补充表模板 / county form: {written['path']}（{written['year']} 学年，{written['counties']} 个县；"
              f"其中 {written['with_last_year']} 个县附上一学年数值）")
        return 0

    if args.command == "plan":
        from junheng.brief import BriefError, brief_from_published

        try:
            print(brief_from_published(args.output.resolve(), args.county.strip(), args.year).text())
        except BriefError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return 0

    if args.command == "sample":
        from junheng.sample import write_sample

        frame = write_sample(args.dir)
        print(f"wrote {frame.height} school rows to {args.dir}/xlsx/schools.xlsx, {args.dir}/csv/schools.csv "
              f"and, as the statistics system exports them, {args.dir}/exports/")
        return 0
    if args.command == "ui":
        configure_dagster_home()
        os.chdir(PROJECT_ROOT)
        dagster = Path(sys.executable).with_name("dagster")
        os.execv(str(dagster), [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")])

    from junheng import report

    warehouse = args.warehouse or DEFAULT_WAREHOUSE
    print(f"junheng run: {args.input} → {args.output}")
    try:
        summary = run_pipeline(args.input.resolve(), args.output.resolve(), warehouse.resolve(), args.policy.resolve(),
                               args.years, log_level="DEBUG" if args.verbose else "CRITICAL",
                               include_subfolders=args.include_subfolders,
                               include_hidden_sheets=args.include_hidden_sheets)
    except RunFailed as exc:
        print("运行失败 / run failed:\n" + str(exc), file=sys.stderr)
        print(report.format_failure(args.output.resolve()), file=sys.stderr)
        return 1
    except Exception as exc:  # a clear line instead of a traceback for errors outside the assets
        print(f"运行失败 / run failed: {exc}", file=sys.stderr)
        return 1
    print(report.format_summary(summary, summary["years"]))
    print(report.format_skipped(summary["skipped"]))
    print(report.format_provinces(summary["provinces"]))
    print(f"输出 outputs: {args.output}")
    print(f"看板 dashboards: {args.output / 'dashboards' / 'index.html'}")
    return 0


def console() -> None:
    """The ``junheng`` command: ``main()``, then out at once. Everything a command writes is
    written and closed by then, its worker processes ended; the interpreter's own teardown
    (freeing a national run's objects one by one) would add half a second to every run."""
    import logging

    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
