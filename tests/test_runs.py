"""Runs that lose nothing: validation blocks publication, a killed run leaves the previous
outputs whole, two runs at once do not corrupt the warehouse, the inbox sensor."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from conftest import county, county_frame, raw_frame, school
from junheng.cli import RunFailed, run_pipeline
from junheng.paths import POLICY_DIR, PROJECT_ROOT

JUNHENG = str(Path(sys.executable).with_name("junheng"))
pytestmark = pytest.mark.usefixtures("kept_validation_worker")   # see conftest


def inbox(tmp: Path, rows: list[dict], forms: list[dict] | None = None, name: str = "inbox") -> Path:
    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    drop = ["source_file", "source_sheet", "source_row", "source_missing_columns", "extra_columns"]
    raw_frame(rows).drop(drop).write_csv(d / "schools.csv")
    county_frame(forms if forms is not None else [county()]).drop(drop).write_csv(d / "counties.csv")
    return d


def small_county(**over) -> list[dict]:
    rows = [school(f"10000000{i:02d}", primary=300 + 10 * i) for i in range(5)]
    rows[0].update(over)
    return rows


def run(tmp: Path, input_dir: Path, out: str = "out"):
    return run_pipeline(input_dir, tmp / out, tmp / "w.duckdb", POLICY_DIR, instance=DagsterInstance.ephemeral(),
                        with_dashboards=False)


def parquet_digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.parquet"))}


def test_failed_error_expectation_stops_publication_and_names_it(tmp_path):
    # staging accepts 0 junior students (a count may be 0), but a 初级中学 without any junior
    # student breaks the stg_schools suite's error-severity expectation
    rows = small_county() + [school("1000000099", "初级中学", junior=0)]
    with pytest.raises(RunFailed) as err:
        run(tmp_path, inbox(tmp_path, rows))
    message = str(err.value)
    assert "stg_schools_expectations" in message
    assert "expect_column_values_to_be_between(junior_students)" in message and "初级中学应有初中在校生" in message
    assert list((tmp_path / "out").rglob("*.parquet")) == []  # nothing published
    report = json.loads((tmp_path / "out" / "validation" / "stg_schools.json").read_text(encoding="utf-8"))
    (failure,) = [f for f in report["failures"] if f["severity"] == "error"]
    assert failure["rows"] == [{"source_file": str(tmp_path / "inbox" / "schools.csv"), "source_sheet": None,
                                "source_row": 7, "school_id": "1000000099"}]


def test_years_in_files_of_their_own_are_validated_as_they_are_staged(tmp_path):
    """Files that share no year are staged apart, and each part is validated as soon as it is
    staged: the run stops on the same expectation, its report counts the rows of every part and
    lists them in the table's order, and each part's result is kept under its year."""
    d = tmp_path / "inbox"
    d.mkdir()
    drop = ["source_file", "source_sheet", "source_row", "source_missing_columns", "extra_columns"]
    for year in (2023, 2024):
        rows = [dict(r, year=year) for r in small_county() + [school("1000000099", "初级中学", junior=0)]]
        raw_frame(rows).drop(drop).write_csv(d / f"schools_{year}.csv")
    county_frame([county(), county(year=2023)]).drop(drop).write_csv(d / "counties.csv")
    with pytest.raises(RunFailed) as err:
        run(tmp_path, d)
    assert "stg_schools_expectations" in str(err.value) and "初级中学应有初中在校生" in str(err.value)
    report = json.loads((tmp_path / "out" / "validation" / "stg_schools.json").read_text(encoding="utf-8"))
    (failure,) = [f for f in report["failures"] if f["severity"] == "error"]
    assert failure["unexpected_count"] == 2
    assert failure["rows"] == [{"source_file": str(d / f"schools_{y}.csv"), "source_sheet": None,
                                "source_row": 7, "school_id": "1000000099"} for y in (2023, 2024)]
    kept = sorted(p.name for p in (tmp_path / "out" / "validation" / "gx").glob("stg_schools*"))
    assert kept == ["stg_schools-2023.json", "stg_schools-2024.json"]


def test_warning_is_reported_but_does_not_block(tmp_path):
    # one school with 20× the county's median teaching area: plausible typo, a warning
    rows = small_county(teaching_aux_area_m2=300 * 8.0 * 20)
    summary = run(tmp_path, inbox(tmp_path, rows))
    assert (tmp_path / "out" / "school_indicators" / "year=2024" / "part-0.parquet").exists()
    report = json.loads((tmp_path / "out" / "validation" / "school_indicators-2024.json").read_text(encoding="utf-8"))
    (warning,) = report["failures"]
    assert warning["severity"] == "warning" and warning["column"] == "teaching_area_per_student__x_county_median"
    assert warning["rows"] == [{"county_code": "520102", "school_id": "1000000000", "level": "primary"}]
    book = pl.read_excel(tmp_path / "out" / "quarantine_report.xlsx", sheet_name="数据校验")
    assert book.height >= 1 and "警告" in book.get_column("严重程度").to_list()[0]
    assert summary["schools"]["rows_staged"] == 5


def test_a_models_failing_rows_are_listed_in_key_order_however_it_was_stored(tmp_path):
    """A model's rows are stored in the order DuckDB's threads produced them; the rows a failed
    expectation lists (the first 20) are the same, in key order, whatever that order was."""
    import duckdb

    from junheng import validation, warehouse

    suite = {"table": "county_scorecard", "keys": ["county_code"], "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "v", "min_value": 0, "max_value": 1},
         "severity": "error", "zh": "v 在 0 到 1 之间", "en": "v between 0 and 1"}]}
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    listed = []
    for order in ("county_code", "county_code desc", "hash(range)"):
        warehouse.replace_year(con, "county_scorecard", "select getvariable('run_year') as year, lpad(range::varchar, 6, '5')"
                               f" as county_code, (range % 3)::double as v from range(90) order by {order}", 2024)
        report = validation.validate_table(con, "county_scorecard", 2024, suite=suite)
        assert report.errors[0].unexpected_count == 30
        listed.append([r["county_code"] for r in report.errors[0].rows])
    assert listed[0] == listed[1] == listed[2] == sorted(str(i).rjust(6, "5") for i in range(2, 90, 3))[:20]


def test_great_expectations_loads_without_its_unused_modules_until_they_are_read():
    # in a process of its own: the deferral only acts where they are not imported yet
    code = """
import sys
from junheng.validation import DEFERRED_MODULES, import_gx
gx = import_gx()
assert all(type(sys.modules[m]).__name__ == "_Deferred" for m in DEFERRED_MODULES), "imported at once"
from scipy import stats
assert abs(stats.entropy([0.5, 0.5], [0.25, 0.75]) - 0.1438410362258904) < 1e-12   # ln(2/sqrt(3))
assert type(sys.modules["scipy.stats"]).__name__ == "module"
import scipy.stats.distributions
import altair
assert altair.Chart.__name__ == "Chart" and type(sys.modules["altair"]).__name__ == "module"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


KILLER = """
import os, sys
sys.path.insert(0, {tests!r})
import junheng.publish as publish
calls = {{"n": 0}}
real_replace = os.replace
def replace_then_die(src, dst):
    if str(dst).endswith(".parquet"):
        calls["n"] += 1
        if calls["n"] == 3:   # killed in the middle of publishing, the third file half-made
            os._exit(9)
    real_replace(src, dst)
publish.os.replace = replace_then_die
from dagster import DagsterInstance
from pathlib import Path
from junheng.cli import run_pipeline
from junheng.paths import POLICY_DIR
run_pipeline(Path({inbox!r}), Path({out!r}), Path({warehouse!r}), POLICY_DIR,
             instance=DagsterInstance.ephemeral(), with_dashboards=False)
"""


def test_killed_run_leaves_previous_outputs_whole(tmp_path):
    run(tmp_path, inbox(tmp_path, small_county()))
    out = tmp_path / "out"
    before = parquet_digests(out)
    changed = inbox(tmp_path, small_county(primary_students=555), name="inbox2")
    script = KILLER.format(tests=str(Path(__file__).parent), inbox=str(changed), out=str(out),
                           warehouse=str(tmp_path / "w.duckdb"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 9, proc.stderr[-2000:]
    after = parquet_digests(out)
    run(tmp_path / "complete", changed)           # what the killed run would have published
    new = parquet_digests(tmp_path / "complete" / "out")
    assert set(after) == set(before)             # no file lost, none half-written under its own name
    for k in before:
        assert after[k] in (before[k], new[k]), k  # each file is whole: the old one or the new one
    assert any(after[k] == before[k] != new[k] for k in before)  # the kill left old files in place
    from junheng.models import MODEL_BY_NAME

    for path in out.rglob("*.parquet"):      # every published file reads whole
        model = MODEL_BY_NAME.get(path.parent.parent.name)
        assert pl.read_parquet(path).height > 0 or (model is not None and model.may_be_empty), path
    # the next run picks up where it stopped and cleans the left-over temporary file
    run(tmp_path, changed)
    assert not list(out.rglob(".*.tmp"))


def test_two_runs_at_once_do_not_corrupt_the_warehouse(tmp_path):
    src = inbox(tmp_path, small_county())
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    cmd = [JUNHENG, "run", "--input", str(src), "--output", str(tmp_path / "out"),
           "--warehouse", str(tmp_path / "w.duckdb")]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    results = [p.communicate(timeout=600) + (p.returncode,) for p in (first, second)]
    for out_text, err_text, code in results:
        assert code == 0, err_text[-3000:]  # the second waited for the first
    cards = pl.read_parquet(tmp_path / "out" / "county_scorecard" / "year=2024" / "part-0.parquet")
    assert cards.height == 1
    # both runs' logs, written through the kept-open storage, read back by Dagster's own SQLite
    # storage: the files are Dagster's, so the UI (or a plain dagster.yaml) reads them as any other
    from dagster import DagsterEventType
    from dagster._core.storage.event_log import SqliteEventLogStorage
    from dagster._core.storage.runs import SqliteRunStorage

    home = tmp_path / "dagster_home"
    assert "KeptOpenSqliteEventLogStorage" in (home / "dagster.yaml").read_text(encoding="utf-8")
    runs = SqliteRunStorage.from_local(str(home / "history")).get_runs()
    assert len(runs) == 2 * 3 and {r.status.value for r in runs} == {"SUCCESS"}  # inputs, year, outputs
    events = SqliteEventLogStorage(str(home / "history" / "runs"))
    for r in runs:
        logged = events.get_records_for_run(r.run_id, limit=10_000).records
        kinds = {e.event_log_entry.dagster_event_type for e in logged if e.event_log_entry.is_dagster_event}
        assert {DagsterEventType.RUN_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.ASSET_MATERIALIZATION,
                DagsterEventType.RUN_SUCCESS} <= kinds, kinds


def test_the_command_exits_with_the_runs_status(tmp_path):
    """The junheng command leaves without the interpreter's teardown (cli.console): what it
    prints and the status it exits with are the run's all the same."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "empty").mkdir()
    failed = subprocess.run([JUNHENG, "run", "--input", str(tmp_path / "empty"), "--output", str(tmp_path / "out"),
                             "--warehouse", str(tmp_path / "w.duckdb")], capture_output=True, text=True, env=env,
                            timeout=600)
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "运行失败 / run failed" in failed.stderr and "Traceback" not in failed.stderr
    assert (tmp_path / "out" / "quarantine_report.xlsx").exists()
    unknown = subprocess.run([JUNHENG, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_inbox_sensor_starts_a_run_for_new_or_changed_files(tmp_path, monkeypatch):
    from dagster import RunRequest, SkipReason, build_sensor_context

    from junheng import definitions

    from junheng.resources import JunhengSettings

    src = inbox(tmp_path, small_county())
    resources = {"settings": JunhengSettings(input_dir=str(src))}
    first = definitions.school_files_inbox(build_sensor_context(resources=resources))
    assert isinstance(first, RunRequest)
    assert "schools.csv" in first.tags["junheng/changed_files"]
    cursor = first.run_key
    unchanged = definitions.school_files_inbox(build_sensor_context(cursor=cursor, resources=resources))
    assert isinstance(unchanged, SkipReason)
    (src / "schools_2025.csv").write_text((src / "schools.csv").read_text())
    again = definitions.school_files_inbox(build_sensor_context(cursor=cursor, resources=resources))
    assert isinstance(again, RunRequest) and again.tags["junheng/changed_files"].endswith("schools_2025.csv")


def test_schedule_and_sensors_are_in_the_code_location():
    from junheng.definitions import defs

    assert defs.get_schedule_def("yearly_after_statistics_deadline").cron_schedule == "0 6 1 10 *"
    for name in ("school_files_inbox", "assess_years_after_ingest", "publish_after_assessment", "report_failed_run"):
        assert defs.get_sensor_def(name).name == name
    assert PROJECT_ROOT.joinpath("workspace.yaml").exists()


def test_code_location_loads():
    from dagster import Definitions

    from junheng.definitions import defs

    Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw_schools", "stg_schools", "county_cv", "county_scorecard", "dashboards"} <= keys


def _cli(tmp: Path, input_dir: Path, capfd, out: str = "out") -> tuple[int, str]:
    from junheng import cli

    code = cli.main(["run", "--input", str(input_dir), "--output", str(tmp / out),
                     "--warehouse", str(tmp / "w.duckdb")])
    printed = capfd.readouterr()
    return code, printed.out + printed.err


def _every_row_rejected(tmp: Path) -> Path:
    rows = small_county()
    for r in rows:
        r["county_code"] = None  # merged county cells: no row can be placed
    return inbox(tmp, rows, name="rejected")


@pytest.fixture
def one_instance(monkeypatch):
    from junheng import cli

    with DagsterInstance.ephemeral() as instance:
        monkeypatch.setattr(cli, "_dagster_instance", lambda: instance)
        yield instance


def test_file_rejected_whole_into_a_new_folder_still_reports(tmp_path, capfd, one_instance):
    code, printed = _cli(tmp_path, _every_row_rejected(tmp_path), capfd)
    out = tmp_path / "out"
    assert code != 0
    assert "没有任何学校数据行通过校验" in printed and "Nothing was published" in printed
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["published"] is False and summary["earlier_publication"] is None
    assert summary["schools"] == {"rows_in": 5, "rows_staged": 0, "rows_quarantined": 5, "problems": 5,
                                  "warnings": 0}
    problems = pl.read_excel(out / "quarantine_report.xlsx", sheet_name="问题清单")
    errors = problems.filter(pl.col("严重程度").str.starts_with("错误"))
    assert errors.get_column("行号").to_list() == [2, 3, 4, 5, 6]
    assert set(errors.get_column("规则代码")) == {"required_blank"}
    assert "合并单元格" in errors.get_column("问题说明")[0]
    assert list(out.rglob("*.parquet")) == [p for p in out.rglob("*.parquet") if "reference" in p.parts]
    assert "Traceback" not in printed


def test_file_rejected_whole_into_an_old_folder_keeps_and_labels_the_earlier_results(tmp_path, capfd, one_instance):
    code, _ = _cli(tmp_path, inbox(tmp_path, small_county()), capfd)
    assert code == 0
    out = tmp_path / "out"
    before = {k: v for k, v in parquet_digests(out).items() if not k.startswith("reference")}
    earlier = json.loads((out / "publication.json").read_text(encoding="utf-8"))

    code, printed = _cli(tmp_path, _every_row_rejected(tmp_path), capfd)
    assert code != 0
    after = {k: v for k, v in parquet_digests(out).items() if not k.startswith("reference")}
    assert after == before  # the earlier results are kept whole
    assert f"来自 {earlier['published_at']} 的运行" in printed and "not from this run" in printed
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["published"] is False and summary["earlier_publication"] == earlier
    assert json.loads((out / "publication.json").read_text(encoding="utf-8")) == earlier
