"""The registry of models and the Dagster graph derived from it: every SQL file registered once,
upstream before downstream, the published list equal to the contract, the graph as committed,
and a run started by the sensors producing exactly what `junheng run` produces."""

import hashlib
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, Definitions, build_run_status_sensor_context, build_sensor_context

from conftest import county, county_frame, raw_frame, school
from junheng import definitions
from junheng.cli import run_pipeline
from junheng.contract import PUBLISHED
from junheng.models import MODELS, PUBLISHED_MODELS, SOURCES
from junheng.paths import POLICY_DIR, SQL_DIR
from junheng.resources import JunhengSettings, WarehouseResource

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.txt"
pytestmark = pytest.mark.usefixtures("kept_validation_worker")   # see conftest


def test_every_sql_file_is_one_registered_model():
    files = sorted(p.stem for p in SQL_DIR.rglob("*.sql"))
    assert files == sorted(m.name for m in MODELS if not m.python)


def test_every_python_model_names_a_function():
    import importlib

    for m in MODELS:
        if m.python:
            module, function = m.python.split(":")
            assert callable(getattr(importlib.import_module(module), function)), m.name


def test_models_read_only_what_comes_before_them():
    seen: set[str] = set()
    for m in MODELS:
        for u in m.upstream:
            assert u in seen or u in SOURCES, f"{m.name} reads {u} before it is made"
        seen.add(m.name)


def test_the_key_check_counts_each_repeated_key_once():
    """The blocking keys_unique check: a key that occurs twice or three times counts once, a
    key left null is a key like any other, and another year's rows do not count."""
    import duckdb

    from junheng.assets import _duplicates

    con = duckdb.connect()
    con.sql("create table t (year int, school_id varchar, level varchar)")
    con.sql("insert into t values (2024, 'a', 'primary'), (2024, 'a', 'junior'), (2024, 'b', 'primary'),"
            " (2023, 'a', 'primary')")
    assert _duplicates(con, "t", ("year", "school_id", "level"), 2024) == 0
    assert _duplicates(con, "t", ("year", "school_id", "level")) == 0
    con.sql("insert into t values (2024, 'a', 'primary'), (2024, 'b', 'primary'), (2024, 'b', 'primary'),"
            " (2024, null, 'junior'), (2024, null, 'junior'), (2023, 'c', 'junior'), (2023, 'c', 'junior')")
    assert _duplicates(con, "t", ("year", "school_id", "level"), 2024) == 3
    assert _duplicates(con, "t", ("year", "school_id", "level"), 2023) == 1
    assert _duplicates(con, "t", ("school_id",), 2024) == 3


def test_published_models_are_the_contract_tables():
    assert {m.name for m in PUBLISHED_MODELS} == set(PUBLISHED)


def graph_text() -> str:
    """Every asset: partitioned or not, its upstream assets and its checks, one line each."""
    graph = definitions.defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parts = "yearly" if node.partitions_def else "all"
        deps = ",".join(sorted(p.to_user_string() for p in node.parent_keys))
        checks = ",".join(sorted(c.name for c in node.check_keys))
        lines.append(f"{key.to_user_string()} [{parts}] <- {deps or '-'} | checks: {checks or '-'}")
    return "\n".join(lines) + "\n"


def test_asset_graph_is_as_committed():
    """A change to the graph (an asset, a dependency, a check) must be deliberate: regenerate with
    `.venv/bin/python -c 'import sys; sys.path.insert(0, "tests"); from test_graph import write_snapshot; write_snapshot()'`."""
    assert graph_text() == SNAPSHOT.read_text(encoding="utf-8")


def write_snapshot() -> None:
    SNAPSHOT.write_text(graph_text(), encoding="utf-8")


def _inbox(tmp: Path) -> Path:
    d = tmp / "inbox"
    d.mkdir()
    drop = ["source_file", "source_sheet", "source_row", "source_missing_columns", "extra_columns"]
    rows = [school(f"10000000{i:02d}", primary=300 + 10 * i, year=y) for y in (2023, 2024) for i in range(5)]
    rows[7]["primary_pe_arts_teachers"] = 0  # one school short of PE/arts teachers in 2024
    raw_frame(rows).drop(drop).write_csv(d / "schools.csv")
    county_frame([county(year=2023), county(year=2024)]).drop(drop).write_csv(d / "counties.csv")
    return d


def _digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.parquet"))}


def test_a_run_started_by_the_sensors_gives_what_junheng_run_gives(tmp_path):
    src = _inbox(tmp_path)
    run_pipeline(src, tmp_path / "cli", tmp_path / "cli.duckdb", POLICY_DIR, instance=DagsterInstance.ephemeral())

    out, database = tmp_path / "sensor", str(tmp_path / "sensor.duckdb")
    settings = JunhengSettings(input_dir=str(src), output_dir=str(out), policy_dir=str(POLICY_DIR))
    resources = {"settings": settings, "warehouse_db": WarehouseResource(database=database)}
    defs = Definitions(assets=definitions.ALL_ASSETS, resources=resources,
                       jobs=[definitions.ingest_job, definitions.assess_year_job, definitions.publish_job])
    with DagsterInstance.ephemeral() as instance:
        request = definitions.school_files_inbox(build_sensor_context(resources={"settings": settings}))
        ingest = defs.resolve_job_def("ingest_school_files").execute_in_process(instance=instance, tags=request.tags)
        assert ingest.success

        def after(sensor, result):
            context = build_run_status_sensor_context(
                sensor_name=sensor.name, dagster_event=result.get_run_success_event(), dagster_instance=instance,
                dagster_run=result.dagster_run, resources=resources)
            return sensor(context)

        years = after(definitions.assess_years_after_ingest, ingest)
        assert [r.partition_key for r in years] == ["2023", "2024"]
        publish = None
        for r in years:
            assert publish is None  # nothing is published while a year of the batch is still to run
            done = defs.resolve_job_def("assess_year").execute_in_process(
                instance=instance, partition_key=r.partition_key, tags=r.tags)
            assert done.success
            publish = after(definitions.publish_after_assessment, done)
            publish = publish if hasattr(publish, "run_key") else None
        assert publish is not None and publish.run_key.endswith("-publish")
        assert defs.resolve_job_def("publish_results").execute_in_process(instance=instance, tags=publish.tags).success

    cli = tmp_path / "cli"
    assert _digests(out) == _digests(cli) and len(_digests(out)) == 2 * len(PUBLISHED_MODELS) + len(list((out / "reference").glob("*.parquet")))
    for made in ("quarantine_report.xlsx", "run_summary.json", "SCHEMA.md", "dashboards/index.html"):
        assert (out / made).exists() and (cli / made).exists(), made
    pages = sorted(p.relative_to(out / "dashboards") for p in (out / "dashboards").rglob("*.html"))
    assert pages == sorted(p.relative_to(cli / "dashboards") for p in (cli / "dashboards").rglob("*.html"))
    assert pl.read_excel(out / "quarantine_report.xlsx", sheet_name="问题清单").height == pl.read_excel(
        cli / "quarantine_report.xlsx", sheet_name="问题清单").height


def test_trends_do_not_depend_on_the_order_years_run_in(tmp_path):
    """Years run newest first give the same county_items and province_progress as oldest first."""
    src = _inbox(tmp_path)
    outs = []
    for order in ([2023, 2024], [2024, 2023]):
        out = tmp_path / f"out-{order[0]}"
        database = tmp_path / f"w-{order[0]}.duckdb"
        run_pipeline(src, out, database, POLICY_DIR, years=order, instance=DagsterInstance.ephemeral(),
                     with_dashboards=False)
        outs.append(_digests(out))
    assert outs[0] == outs[1]
