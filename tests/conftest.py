"""Shared helpers: build school rows by hand and run the real steps on them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from junheng import steps, validation_process, warehouse
from junheng.contract import COUNTY_COLUMNS, SCHOOL_COLUMNS
from junheng.ingest import RAW_META_COLUMNS
from junheng.policy import InputChecks, Policy

YEAR = 2024
COUNTY = "520102"
PROVINCES = {code: name for code, (name, _) in InputChecks.load().provinces.items()}


def school(school_id: str, school_type: str = "小学", *, primary: int = 0, junior: int = 0, senior: int = 0,
           county: str = COUNTY, **over) -> dict:
    """A school row that meets every threshold comfortably unless told otherwise.

    Teachers and facilities are sized from the students so each indicator is well above
    its threshold; pass keyword arguments (contract column names) to set any value.
    """
    students = primary + junior + senior
    row = {
        "year": YEAR, "school_id": school_id, "school_name": f"学校{school_id}", "province": PROVINCES[county[:2]],
        "prefecture": "贵阳市", "county_code": county, "county_name": "测试县", "school_type": school_type,
        "ownership": "公办", "location": "城区", "parent_school_id": None, "boarding": "否",
        "primary_students": primary, "junior_students": junior, "senior_students": senior,
        "primary_classes": max(1, primary // 40) if primary else 0, "junior_classes": max(1, junior // 40) if junior else 0,
        "primary_max_class_size": 40 if primary else None, "junior_max_class_size": 45 if junior else None,
        "primary_teachers": primary // 10, "junior_teachers": junior // 8,
        "primary_teachers_above_qual": primary // 15, "junior_teachers_above_qual": junior // 12,
        "primary_backbone_teachers": primary // 50, "junior_backbone_teachers": junior // 50,
        "primary_pe_arts_teachers": primary // 50, "junior_pe_arts_teachers": junior // 50,
        "teaching_aux_area_m2": students * 8.0, "indoor_sports_area_m2": 0.0,
        "sports_ground_area_m2": students * 12.0, "equipment_value_10k_yuan": students * 0.3,
        "multimedia_classrooms": max(1, students // 30), "music_rooms": 1, "art_rooms": 1,
        "music_room_min_area_m2": 100.0, "art_room_min_area_m2": 95.0,
        "books": students * 30, "computers": students // 10, "teachers_mid_senior_title": students // 30,
    }
    row.update(over)
    return row


def raw_frame(rows: list[dict], source: str = "test.csv", columns=SCHOOL_COLUMNS) -> pl.DataFrame:
    """Rows as the raw layer holds them: every value text, with file and row number."""
    data = {c.name: [None if r.get(c.name) is None else str(r[c.name]) for r in rows] for c in columns}
    frame = pl.DataFrame(data, schema={c.name: pl.String for c in columns})
    meta = pl.DataFrame({
        "source_file": [source] * len(rows), "source_sheet": [None] * len(rows),
        "source_row": list(range(2, len(rows) + 2)), "source_missing_columns": [""] * len(rows),
        "extra_columns": [None] * len(rows),
    }, schema={"source_file": pl.String, "source_sheet": pl.String, "source_row": pl.Int64,
               "source_missing_columns": pl.String, "extra_columns": pl.String})
    return pl.concat([meta, frame], how="horizontal").select(list(RAW_META_COLUMNS) + [c.name for c in columns])


def county(county_code: str = COUNTY, **over) -> dict:
    """A county-table row on which every item passes unless told otherwise."""
    row = {
        "year": YEAR, "county_code": county_code, "county_name": "测试县", "province": "贵州省",
        "layout_planning_ok": "是", "urban_rural_standards_unified": "是", "small_schools_funded_as_100": "是",
        "special_education_funding_per_student_yuan": 6500, "teacher_avg_pay_yuan": 120000,
        "civil_servant_avg_pay_yuan": 118000, "training_360h_completion_pct": 100,
        "staffing_allocated_county_wide": "是", "rotation_share_pct": 12, "rotation_backbone_share_pct": 25,
        "certified_teachers_pct": 100, "nearby_enrolment_primary_pct": 100, "nearby_enrolment_junior_pct": 97,
        "quota_allocation_pct": 55, "migrant_children_public_pct": 96, "left_behind_care_system": "是",
        "junior_retention_pct": 98, "disabled_enrolment_pct": 99.5, "training_budget_share_pct": 6,
        "monitoring_min_level": 3, "monitoring_school_gap_rate": 0.1, "charters_and_ict_management": "是",
        "teachers_use_ict": "是", "moral_education_good": "是", "full_curriculum": "是", "homework_burden_ok": "是",
        "satisfaction_pct": 90, "basic_balance_year": 2016, "veto_exam_admission": "否",
        "veto_illegal_school_choice": "否", "veto_key_schools_classes": "否", "evidence_note": "见附件",
    }
    row.update(over)
    return row


def county_frame(rows: list[dict]) -> pl.DataFrame:
    return raw_frame(rows, "counties.csv", COUNTY_COLUMNS)


def build_from_rows(con: duckdb.DuckDBPyConnection, rows: list[dict], county_rows: list[dict] | None = None,
                    policy: Policy | None = None) -> duckdb.DuckDBPyConnection:
    """Hand-made rows through staging, policy and every SQL model of every year."""
    warehouse.replace_table(con, "raw_schools", raw_frame(rows))
    warehouse.replace_table(con, "raw_counties", county_frame(county_rows or []))
    steps.stage(con, steps.SCHOOLS)
    steps.stage(con, steps.COUNTIES)
    steps.load_policy(con, policy or Policy.load())
    steps.build(con)
    return con


def build_folder(con: duckdb.DuckDBPyConnection, folder: Path) -> duckdb.DuckDBPyConnection:
    """A folder of input files through ingest, staging, policy and every model, as a run does."""
    steps.ingest(con, folder, steps.SCHOOLS)
    steps.ingest(con, folder, steps.COUNTIES)
    steps.stage(con, steps.SCHOOLS)
    steps.stage(con, steps.COUNTIES)
    steps.load_policy(con, Policy.load())
    steps.build(con)
    return con


@pytest.fixture(scope="module")
def kept_validation_worker():
    """One validation worker for a module's pipeline runs, as ``junheng run`` keeps one for its
    steps (validation_process.kept): its Great Expectations import, some seconds, is paid once a
    module instead of once a run. (The command-line tests that start ``junheng`` in a process of
    its own still start a worker each.)"""
    with validation_process.kept():
        yield


@pytest.fixture
def assess(tmp_path: Path):
    """Run staging, policy and every SQL model on hand-made rows; returns the connection."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def _run(rows: list[dict], policy: Policy | None = None,
             county_rows: list[dict] | None = None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(tmp_path / f"w{len(opened)}.duckdb"))
        opened.append(con)
        return build_from_rows(con, rows, county_rows, policy)

    yield _run
    for con in opened:
        con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str):
    rows = con.sql(sql).fetchall()
    assert len(rows) == 1, f"expected one row from {sql!r}, got {rows}"
    return rows[0] if len(rows[0]) > 1 else rows[0][0]
