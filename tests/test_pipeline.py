"""The whole pipeline through Dagster, on the bundled sample: outputs, contract, reruns."""

import hashlib
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from junheng.cli import RunFailed, run_pipeline
from junheng.contract import INDICATOR_CODES, PUBLISHED, REFERENCE
from junheng.paths import POLICY_DIR, SAMPLE_DIR
pytestmark = pytest.mark.usefixtures("kept_validation_worker")   # see conftest


def run(tmp_path: Path, input_dir: Path, name: str, warehouse: str | None = None):
    out = tmp_path / name
    summary = run_pipeline(input_dir, out, tmp_path / f"{warehouse or name}-warehouse" / "w.duckdb", POLICY_DIR,
                           instance=DagsterInstance.ephemeral())
    return out, summary


def digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample")
    return run(tmp, SAMPLE_DIR / "xlsx", "xlsx")


def test_sample_outputs_follow_the_contract(sample_run):
    out, summary = sample_run
    for table in ("schools", "counties"):
        c = summary[table]
        assert c["rows_in"] == c["rows_staged"] + c["rows_quarantined"]
    for table, columns in PUBLISHED.items():
        files = sorted((out / table).glob("year=*/part-0.parquet"))
        assert [f.parent.name for f in files] == ["year=2022", "year=2023", "year=2024"]
        frame = pl.read_parquet(files[-1])
        assert frame.columns == [c.name for c in columns]
        assert frame.height > 0
    cv = pl.read_parquet(out / "county_cv" / "year=2024" / "part-0.parquet")
    assert set(cv.get_column("indicator")) == set(INDICATOR_CODES)
    assert set(cv.get_column("level")) == {"primary", "junior"}
    assert (out / "SCHEMA.md").read_text(encoding="utf-8").count("| `") >= sum(len(c) for c in PUBLISHED.values())


def test_reference_files_follow_the_contract(sample_run):
    """The policy tables beside the results have the contract's columns, in its order and types,
    and SCHEMA.md lists each of them under its file."""
    out, _ = sample_run
    assert sorted(p.name for p in (out / "reference").glob("*.parquet")) == sorted(f"{t}.parquet" for t in REFERENCE)
    schema = (out / "SCHEMA.md").read_text(encoding="utf-8")
    for table, columns in REFERENCE.items():
        frame = pl.read_parquet(out / "reference" / f"{table}.parquet")
        assert frame.schema == pl.Schema({c.name: c.dtype for c in columns}), table
        assert frame.height > 0
        section = schema.split(f"## `reference/{table}`")[1].split("\n## ")[0]
        assert [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")] == [c.name for c in columns]
    thresholds = pl.read_parquet(out / "reference" / "indicator_thresholds.parquet")
    assert thresholds.filter(pl.col("floor_value") != pl.col("floor_share") * pl.col("threshold")).height == 0


def test_sample_tells_a_story(sample_run):
    out, _ = sample_run
    cv = pl.read_parquet(out / "county_cv" / "year=2024" / "part-0.parquet")
    per_county = cv.group_by("county_code").agg(pl.col("cv_meets").all().alias("ok"))
    passing = per_county.filter("ok").height
    assert 0 < passing < per_county.height  # some counties pass, some fail
    schools = pl.read_parquet(out / "school_indicators" / "year=2024" / "part-0.parquet")
    assert set(schools.get_column("unit_kind")) == {"school", "section", "teaching_point"}
    assert schools.get_column("meets_school_standard").any() and not schools.get_column("meets_school_standard").all()


def test_xlsx_and_gb18030_csv_give_identical_outputs_and_reruns_are_byte_identical(sample_run, tmp_path):
    out_xlsx, _ = sample_run
    out_csv, _ = run(tmp_path, SAMPLE_DIR / "csv", "csv")
    assert digests(out_csv) == digests(out_xlsx)
    again, _ = run(tmp_path, SAMPLE_DIR / "csv", "csv")  # same warehouse and output folder
    assert digests(again) == digests(out_xlsx)


def test_published_cv_recomputed_from_published_school_table(sample_run):
    """county_cv agrees with an independent computation from school_indicators."""
    out, _ = sample_run
    schools = pl.read_parquet(out / "school_indicators" / "year=2023" / "part-0.parquet")
    cv = pl.read_parquet(out / "county_cv" / "year=2023" / "part-0.parquet")
    ind = "sports_area_per_student"
    g = schools.group_by("county_code", "level").agg(
        ((pl.col("students") * pl.col(ind)).sum() / pl.col("students").sum()).alias("xbar"),
        pl.col("students"), pl.col(ind))
    for row in g.iter_rows(named=True):
        p = row["students"]
        total = sum(p)
        s = sum(pi / total * (xi - row["xbar"]) ** 2 for pi, xi in zip(p, row[ind])) ** 0.5
        published = cv.filter((pl.col("county_code") == row["county_code"]) & (pl.col("level") == row["level"])
                              & (pl.col("indicator") == ind)).get_column("cv").item()
        assert published == pytest.approx(s / row["xbar"], rel=1e-9)


def test_bad_file_fails_the_run_with_file_and_reason(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "schools.csv").write_bytes(b"\xff\xfe\xfa\x81\x30 not a table")
    with pytest.raises(RunFailed) as err:
        run(tmp_path, inbox, "bad")
    assert "schools.csv" in str(err.value) and "encoding" in str(err.value)


def test_committed_schema_doc_is_current():
    from junheng.paths import PROJECT_ROOT
    from junheng.publish import schema_doc

    assert (PROJECT_ROOT / "docs" / "schema.md").read_text(encoding="utf-8") == schema_doc(), (
        "docs/schema.md is out of date: regenerate it with "
        "`.venv/bin/python -c 'from junheng.publish import write_schema_doc; write_schema_doc(\"docs/schema.md\")'`")


def test_sample_shows_every_county_status(sample_run):
    out, _ = sample_run
    cards = pl.read_parquet(out / "county_scorecard" / "year=2024" / "part-0.parquet")
    assert set(cards.get_column("status")) == {"quality_balanced", "not_yet", "insufficient_data"}
    fails = cards.get_column("failing_items").to_list()
    resources_only = [f for f in fails if f and all(i.startswith("R") for i in f)]
    one_government = [f for f in fails if len(f) == 1 and f[0].startswith("G")]
    vetoed = cards.filter(pl.col("vetoed")).height
    assert resources_only and one_government and vetoed >= 1


def test_published_basic_balance_composite_is_the_mean(sample_run):
    out, _ = sample_run
    bb = pl.read_parquet(out / "county_basic_balance" / "**" / "*.parquet")
    cv_cols = [c for c in bb.columns if c.startswith("cv_")]
    assert len(cv_cols) == 8 and bb.height > 0
    mean = bb.select(pl.mean_horizontal(cv_cols)).to_series()
    assert ((bb.get_column("composite_cv") - mean).abs() <= 0.001).all()


def test_province_progress_published_for_each_province_and_year(sample_run):
    out, _ = sample_run
    pp = pl.read_parquet(out / "province_progress" / "**" / "*.parquet")
    assert pp.height == 4 * 3
    assert set(pp.get_column("province_code")) == {"32", "35", "52", "65"}
    assert pp.filter(pl.col("province_code") == "32").get_column("target_is_assumption").all()


# The columns shared spec/data-contract.md promises downstream systems; they must never move.
SPEC_COLUMNS = {
    "school_indicators": ["year", "province", "county_code", "county_name", "school_id", "school_name", "level",
                          "unit_kind", "students", *INDICATOR_CODES, "indicators_met", "meets_school_standard"],
    "county_cv": ["year", "province", "county_code", "county_name", "level", "indicator", "county_value", "cv",
                  "cv_threshold", "cv_meets", "units"],
    "county_scorecard": ["year", "province", "county_code", "county_name", "resource_ok", "government_ok",
                         "quality_ok", "recognition_ok", "prerequisite_ok", "vetoed", "status", "units_primary",
                         "units_junior", "units_meeting_standard_share", "worst_cv_primary", "worst_cv_junior",
                         "failing_items"],
    "province_progress": ["year", "province", "counties", "counties_quality_balanced", "share_quality_balanced",
                          "next_milestone_year", "next_milestone_target_share", "on_track"],
}


@pytest.mark.parametrize("table", sorted(SPEC_COLUMNS))
def test_published_tables_keep_the_spec_columns(sample_run, table):
    out, _ = sample_run
    frame = pl.read_parquet(out / table / "year=2024" / "part-0.parquet")
    missing = [c for c in SPEC_COLUMNS[table] if c not in frame.columns]
    assert missing == []
    if "county_code" in frame.columns:  # key columns hold codes, as text with every digit
        assert frame.get_column("county_code").str.contains(r"^\d{6}$").all()
