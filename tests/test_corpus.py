"""The corpus of broken input files (tests/corpus/, written by make_corpus.py): for each, the
exact problem reported (file, row, column, rule) and rows in = rows staged + rows quarantined."""

import json
from pathlib import Path

import duckdb
import pytest

from junheng import steps
from junheng.ingest import InputFilesError

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").exists())


def test_corpus_has_at_least_twenty_kinds():
    assert len(CASES) >= 20


def _ingest(case: str, tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for table in (steps.SCHOOLS, steps.COUNTIES):
        steps.ingest(con, CORPUS / case, table)
    return con


@pytest.mark.parametrize("case", CASES)
def test_broken_input_is_reported_exactly(case, tmp_path):
    expected = json.loads((CORPUS / case / "expected.json").read_text(encoding="utf-8"))
    if isinstance(expected, dict) and "file_error" in expected:
        with pytest.raises(InputFilesError) as err:
            _ingest(case, tmp_path)
        (problem,) = err.value.errors
        assert Path(problem.path).name == expected["file_error"]
        assert expected["zh"] in problem.zh and expected["en"] in problem.en
        return
    con = _ingest(case, tmp_path)
    summaries = {t.name: steps.stage(con, t) for t in (steps.SCHOOLS, steps.COUNTIES)}
    for table, s in summaries.items():
        raw = con.sql(f"select count(*) from raw_{table}").fetchall()[0][0]
        assert s.rows_in == raw == s.rows_staged + s.rows_quarantined, table
    got = {(Path(f).name, r, c, rule) for f, r, c, rule in con.sql(
        'select source_file, source_row, "column", rule from quarantine').fetchall()}
    if isinstance(expected, dict) and "missing_county_columns" in expected:
        assert got == set()
        missing = con.sql("select missing_columns from ingest_files_counties").fetchall()[0][0].split(",")
        assert set(expected["missing_county_columns"]) <= set(missing)
        return
    assert got == {(e["file"], e["row"], e["column"], e["rule"]) for e in expected}
    # every quarantined line says what is wrong in both languages
    assert con.sql("select count(*) from quarantine where reason_zh is null or reason_en is null").fetchall() == [(0,)]
