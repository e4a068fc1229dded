"""The corpus of broken input files (tests/corpus/, written by make_corpus.py). For each kind:
the exact problems reported (file, sheet, row, column, rule, severity), the files and sheets not
read and why, rows in = rows staged + rows quarantined, and no county judged to pass on
incomplete data. Every case also goes through the command line, which must show no stack trace."""

import json
from pathlib import Path

import duckdb
import pytest

from conftest import county, county_frame
from junheng import steps, warehouse
from junheng.contract import INDICATOR_CODES
from junheng.ingest import InputFilesError
from junheng.policy import Policy
from junheng.staging import DuplicateFilesError

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").exists())
pytestmark = pytest.mark.usefixtures("kept_validation_worker")   # see conftest


def test_corpus_has_at_least_fifty_kinds():
    assert len(CASES) >= 50


def expected_of(case: str) -> dict:
    expected = json.loads((CORPUS / case / "expected.json").read_text(encoding="utf-8"))
    return {"problems": expected} if isinstance(expected, list) else expected


def _ingest(case: str, tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for table in steps.INPUT_TABLES:
        steps.ingest(con, CORPUS / case, table)
    return con


def _assess(con) -> None:
    """Every SQL model on what was staged. Where the case has no county form, every county gets
    one on which all items pass, so that incomplete school data is the only thing that can keep
    a county from passing."""
    if con.sql("select count(*) from raw_counties").fetchall()[0][0] == 0:
        codes = [r[0] for r in con.sql(
            "select county_code from stg_schools union select county_code from quarantined_schools "
            "where county_code is not null order by 1").fetchall()]
        warehouse.replace_table(con, "raw_counties", county_frame([county(c) for c in codes]))
        steps.stage(con, steps.COUNTIES)
    steps.load_policy(con, Policy.load())
    steps.build(con)


@pytest.mark.parametrize("case", CASES)
def test_broken_input_is_reported_exactly(case, tmp_path):
    expected = expected_of(case)
    if "file_error" in expected:
        with pytest.raises(InputFilesError) as err:
            _ingest(case, tmp_path)
        (problem,) = err.value.errors
        assert Path(problem.path).name == expected["file_error"]
        assert expected["zh"] in problem.zh and expected["en"] in problem.en
        return
    con = _ingest(case, tmp_path)
    if "stop_error" in expected:
        with pytest.raises(DuplicateFilesError) as err:
            steps.stage(con, steps.SCHOOLS)
        assert [Path(f).name for pair in err.value.pairs for f in pair[:2]] == expected["stop_error"]
        assert expected["zh"] in str(err.value) and expected["en"] in str(err.value)
        return
    summaries = {t.name: steps.stage(con, t) for t in steps.INPUT_TABLES}
    for table, s in summaries.items():
        raw = con.sql(f"select count(*) from raw_{table}").fetchall()[0][0]
        assert s.rows_in == raw == s.rows_staged + s.rows_quarantined, table
    if "missing_county_columns" in expected:
        missing = con.sql("select missing_columns from ingest_files_counties").fetchall()[0][0].split(",")
        assert set(expected["missing_county_columns"]) <= set(missing)
        expected["problems"] = []
    got = {(Path(f).name, sheet, r, c, rule, sev) for f, sheet, r, c, rule, sev in con.sql(
        'select source_file, source_sheet, source_row, "column", rule, severity from quarantine').fetchall()}
    want = {(e["file"], e.get("sheet"), e["row"], e["column"], e["rule"], e.get("severity", "error"))
            for e in expected["problems"]}
    assert got == want
    skipped = {(Path(f).name, sheet, reason) for f, sheet, reason in con.sql(
        "select file, sheet, reason from ingest_skipped_schools union all "
        "select file, sheet, reason from ingest_skipped_counties").fetchall()}
    skipped.discard(("expected.json", None, "unsupported_format"))  # the corpus's own answer sheet
    assert skipped == {(s["file"], s["sheet"], s["reason"]) for s in expected.get("skipped", [])}
    # every line says what is wrong in both languages
    assert con.sql("select count(*) from quarantine where reason_zh is null or reason_en is null").fetchall() == [(0,)]

    if not steps.staged_years(con):  # nothing staged: nothing is assessed or published
        return
    _assess(con)
    passing_on_incomplete = con.sql(
        "select county_code from county_scorecard where schools_quarantined > 0 "
        "and (status = 'quality_balanced' or resource_ok)").fetchall()
    assert passing_on_incomplete == []
    errors = [w for w in want if w[5] == "error" and w[0].startswith("schools")]
    if errors:  # a quarantined school leaves its county short of data, never silently complete
        assert con.sql("select count(*) from county_scorecard where schools_quarantined > 0").fetchall()[0][0] > 0


@pytest.mark.parametrize("case", ["excel_float_codes_repaired", "dash_where_level_not_taught",
                                  "old_copy_in_subfolder", "hidden_backup_sheet", "full_width_county_code"])
def test_clean_or_repaired_input_passes(case, tmp_path):
    """The control: the same schools, read correctly, make a county that passes. So when a case
    above is not passing, it is the problem in its file that holds it back."""
    con = _ingest(case, tmp_path)
    for t in steps.INPUT_TABLES:
        steps.stage(con, t)
    _assess(con)
    assert con.sql("select distinct status from county_scorecard").fetchall() == [("quality_balanced",)]
    assert con.sql("select count(*) from county_scorecard").fetchall() == [(1,)]  # no phantom county


def test_quarantining_the_one_failing_school_keeps_its_county_from_passing(tmp_path):
    """A county whose only failing school is quarantined is not quality_balanced, but
    insufficient_data, and its scorecard names the school."""
    con = _ingest("approximate_area_in_only_failing_school", tmp_path)
    for t in steps.INPUT_TABLES:
        steps.stage(con, t)
    _assess(con)
    card = con.sql("select status, resource_ok, schools_in_file, schools_assessed, schools_quarantined, "
                   "quarantined_schools, insufficient_items from county_scorecard").fetchall()
    # the missing school could move any primary CV either way: those are undecided too
    cvs = sorted(f"R_cv_primary_{i}" for i in INDICATOR_CODES)
    assert card == [("insufficient_data", None, 4, 3, 1, ["学校1000000001（1000000001）"],
                     ["R00_all_schools_assessed", *cvs])]
    assert con.sql("select distinct units, units_quarantined from county_cv where level = 'primary'").fetchall() == [
        (3, 1)]


def test_merged_county_cells_leave_the_county_undecided(tmp_path):
    """Rows whose county code is blank could be any county of their sheet: that county cannot pass."""
    con = _ingest("merged_county_cells", tmp_path)
    for t in steps.INPUT_TABLES:
        steps.stage(con, t)
    _assess(con)
    assert con.sql("select status, schools_in_file, schools_quarantined from county_scorecard").fetchall() == [
        ("insufficient_data", 4, 3)]


def test_county_form_without_schools_is_not_assessed(tmp_path):
    con = _ingest("county_form_without_schools", tmp_path)
    for t in steps.INPUT_TABLES:
        steps.stage(con, t)
    _assess(con)
    assert con.sql("select county_code from county_scorecard").fetchall() == [("520102",)]
    assert con.sql("select counties from province_progress").fetchall() == [(1,)]


@pytest.mark.parametrize("case", ["county_form_percent_cells", "county_form_percent_as_fractions"])
def test_percent_cells_are_read_as_percentages(case, tmp_path):
    con = _ingest(case, tmp_path)
    for t in steps.INPUT_TABLES:
        steps.stage(con, t)
    assert con.sql("select certified_teachers_pct, satisfaction_pct from stg_counties").fetchall() == [(100.0, 90.0)]
    _assess(con)
    assert con.sql("select status from county_scorecard").fetchall() == [("quality_balanced",)]


@pytest.fixture(scope="module")
def shared_instance():
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.mark.parametrize("case", CASES)
def test_no_stack_trace_reaches_the_terminal(case, tmp_path, capfd, monkeypatch, shared_instance):
    """The command line on every corpus case: a clean message, never a Python or Dagster trace."""
    from junheng import cli

    monkeypatch.setattr(cli, "_dagster_instance", lambda: shared_instance)
    code = cli.main(["run", "--input", str(CORPUS / case), "--output", str(tmp_path / "out"),
                     "--warehouse", str(tmp_path / "w.duckdb")])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Stack Trace" not in out + err and "dagster - ERROR" not in out + err
    assert (tmp_path / "out" / "run_summary.json").exists() and (tmp_path / "out" / "quarantine_report.xlsx").exists()
    if code != 0:
        assert "运行失败 / run failed" in err
