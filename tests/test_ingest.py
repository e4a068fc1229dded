"""Reading statisticians' files: encodings, headers, Excel's habits, and the quarantine."""

from pathlib import Path

import polars as pl
import pytest

from conftest import build_from_rows, raw_frame, school
from junheng.contract import SCHOOL_COLUMNS
from junheng.ingest import InputFileError, read_file
from junheng.sample import with_chinese_headers, write_xlsx
from junheng.staging import stage_schools


def frame(rows):
    """Hand-made rows as a typed frame with the contract's English headers."""
    return raw_frame(rows).drop("source_file", "source_sheet", "source_row", "source_missing_columns", "extra_columns")


ROWS = [school("1000000001", primary=100), school("1000000002", "初级中学", junior=200)]


def read(path: Path):
    return read_file(path, SCHOOL_COLUMNS, "学校基础数据表")


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8", "utf-8-sig"])
def test_csv_encodings_detected(tmp_path, encoding):
    path = tmp_path / "schools.csv"
    path.write_bytes(with_chinese_headers(frame(ROWS)).write_csv().encode(encoding))
    got = read(path)
    assert got.frame.height == 2
    assert got.frame.get_column("county_name").to_list() == ["测试县", "测试县"]
    assert got.frame.get_column("school_type").to_list() == ["小学", "初级中学"]
    expected = {"gbk": "gb18030", "utf-8-sig": "utf-8-sig"}.get(encoding, encoding)
    assert got.reports[0].encoding == expected


def test_english_headers_and_unknown_columns_kept(tmp_path):
    path = tmp_path / "schools.csv"
    frame(ROWS).with_columns(pl.lit("x").alias("备注")).write_csv(path)
    got = read(path)
    assert got.frame.height == 2
    assert got.frame.get_column("extra_columns").to_list() == ['{"备注":"x"}'] * 2
    assert got.reports[0].extra_columns == ["备注"]


def test_header_variants_full_width_brackets_and_spaces(tmp_path):
    path = tmp_path / "schools.csv"
    headed = with_chinese_headers(frame(ROWS)).rename({"教学仪器设备资产值（万元）": " 教学仪器设备资产值(万元) "})
    headed.write_csv(path)
    got = read(path)
    assert "equipment_value_10k_yuan" in got.reports[0].matched_columns


def test_xlsx_title_rows_and_row_numbers(tmp_path):
    path = tmp_path / "schools.xlsx"
    write_xlsx(frame(ROWS).with_columns(pl.col("school_id")), path, "2024年 学校基本情况")
    got = read(path)
    assert got.reports[0].header_row == 2
    assert got.frame.get_column("source_row").to_list() == [3, 4]  # as Excel shows them
    assert got.frame.get_column("source_sheet").to_list() == ["学校基本情况"] * 2


def test_xlsx_without_the_table_names_the_sheets(tmp_path):
    import xlsxwriter

    path = tmp_path / "schools.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("封面").write_row(0, 0, ["说明", "没有数据"])
    wb.close()
    with pytest.raises(InputFileError) as err:
        read(path)
    assert "封面" in err.value.zh and "no worksheet" in err.value.en


def test_undecodable_csv_is_a_clear_file_error(tmp_path):
    path = tmp_path / "schools.csv"
    path.write_bytes("学校标识码,县区代码\n".encode("utf-8") + b"\xff\xfe\xfa\x81\x30\n")
    with pytest.raises(InputFileError) as err:
        read(path)
    assert "编码" in err.value.zh and "encoding" in err.value.en


def test_empty_file_reads_as_no_rows(tmp_path):
    path = tmp_path / "schools.csv"
    path.write_bytes(b"")
    assert read(path).frame.height == 0


def test_parquet_input(tmp_path):
    path = tmp_path / "schools.parquet"
    frame(ROWS).write_parquet(path)
    got = read(path)
    assert got.frame.get_column("source_row").to_list() == [1, 2]


# ---- staging: typing, repairs and the quarantine ---------------------------------------------


def stage(rows):
    staged = stage_schools(raw_frame(rows))
    assert staged.rows_in == staged.rows_staged + staged.rows_quarantined
    return staged


def problems(staged):
    return {(r["source_row"], r["column"], r["rule"]) for r in staged.problems.iter_rows(named=True)}


def test_clean_rows_are_staged_typed():
    staged = stage(ROWS)
    assert staged.rows_staged == 2 and staged.problems.height == 0
    s = staged.rows
    assert s.schema["primary_students"] == pl.Int64 and s.schema["equipment_value_10k_yuan"] == pl.Float64
    # A 小学's blank junior columns are 0, a 初级中学's blank primary columns are 0.
    assert s.filter(pl.col("school_id") == "1000000001").get_column("junior_students").item() == 0


def test_excel_float_codes_repaired_short_codes_rejected():
    rows = [school("1000000001.0", primary=100, county="520102.0"), school("1000000002", primary=100, county="52010")]
    staged = stage(rows)
    assert staged.rows.get_column("county_code").to_list() == ["520102"]
    assert staged.rows.get_column("school_id").to_list() == ["1000000001"]
    assert problems(staged) == {(3, "county_code", "county_code_short")}
    reason = staged.problems.get_column("reason_zh").item()
    assert "6 位" in reason and "开头的 0" in reason


def test_scientific_notation_id_rejected():
    staged = stage([school("1.52E+09", primary=100)])
    assert problems(staged) == {(2, "school_id", "scientific_notation")}


def test_negative_and_text_counts():
    staged = stage([school("1000000001", primary=-5), school("1000000002", primary=100, books="很多")])
    got = problems(staged)
    assert (2, "primary_students", "negative") in got
    assert (3, "books", "not_a_number") in got
    assert staged.rows_quarantined == 2


def test_duplicate_school_id_quarantines_every_copy():
    staged = stage([school("1000000001", primary=100), school("1000000001", primary=120)])
    assert problems(staged) == {(2, "school_id", "duplicate_school_id"), (3, "school_id", "duplicate_school_id")}
    assert "test.csv:2、test.csv:3" in staged.problems.get_column("reason_zh")[0]


def test_school_type_aliases_and_unknown_types():
    staged = stage([school("1000000001", "九年一贯制", primary=100, junior=100),
                    school("1000000002", "职业高中", primary=100)])
    assert staged.rows.get_column("school_type").to_list() == ["九年一贯制学校"]
    assert problems(staged) == {(3, "school_type", "unknown_school_type")}


def test_required_blank_and_level_not_taught():
    staged = stage([school("1000000001", primary=100, primary_teachers=None),
                    school("1000000002", primary=100, junior_students=30)])
    assert problems(staged) == {(2, "primary_teachers", "required_blank"),
                                (3, "junior_students", "level_not_taught")}


def test_missing_required_column_named_on_every_row():
    raw = raw_frame([school("1000000001", primary=100)]).with_columns(
        pl.lit(None, pl.String).alias("primary_teachers"), pl.lit("primary_teachers").alias("source_missing_columns"))
    staged = stage_schools(raw)
    assert {(r["column"], r["rule"]) for r in staged.problems.iter_rows(named=True)} == {
        ("primary_teachers", "missing_column")}


def test_cross_field_contradictions():
    staged = stage([school("1000000001", primary=100, primary_teachers=5, primary_teachers_above_qual=9),
                    school("1000000002", primary=100, primary_teachers=0, primary_teachers_above_qual=0,
                           primary_backbone_teachers=0, primary_pe_arts_teachers=0)])
    assert problems(staged) == {(2, "primary_teachers_above_qual", "exceeds_total"),
                                (3, "primary_teachers", "students_without_teachers")}


def test_every_problem_has_both_languages_and_a_location():
    staged = stage([school("1000000001", primary=-1, county="5201", school_type="x", ownership="国有")])
    p = staged.problems
    assert p.height >= 3
    for col in ("source_file", "source_row", "column", "rule", "reason_zh", "reason_en"):
        assert p.get_column(col).null_count() == 0, col


def test_a_county_form_of_plain_ascii_needs_no_folding():
    """A form with nothing to fold (English yes/no, plain digits) stages as it is."""
    from conftest import county, county_frame
    from junheng.staging import stage_counties

    yes_no = {k: ("true" if v == "是" else "false" if v == "否" else v) for k, v in county().items()}
    staged = stage_counties(county_frame([dict(yes_no, county_name=None, province=None, evidence_note=None)]))
    assert staged.rows_quarantined == 0 and staged.rows.height == 1
    assert staged.rows.get_column("layout_planning_ok").to_list() == [True]


def test_row_numbers_follow_the_sheet_when_it_starts_below_row_one(tmp_path):
    import xlsxwriter

    from junheng.contract import SCHOOL_COLUMNS
    from junheng.ingest import read_file

    path = tmp_path / "schools.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("学校")
    ws.write_row(2, 1, ["学年", "学校标识码", "学校名称", "县区代码"])     # header at B3
    ws.write_row(3, 1, [2024, "5201020001", "甲小学", "520102"])
    ws.write_row(4, 1, [2024, "5201020002", "乙小学", "520102"])
    book.close()
    read = read_file(path, SCHOOL_COLUMNS, "学校表")
    assert read.reports[0].header_row == 3
    assert read.frame["source_row"].to_list() == [4, 5]          # as Excel numbers the rows


# ---- staging a decade in parts ----------------------------------------------------------------------


def _decade(rows_by_file: dict[str, list[dict]]) -> pl.DataFrame:
    return pl.concat([raw_frame(rows, source) for source, rows in rows_by_file.items()])


def test_files_sharing_no_year_are_staged_apart_and_a_stray_year_joins_them():
    from junheng.staging import independent_files

    def groups(rows_by_file):
        return independent_files(_decade(rows_by_file).select("source_file", "year"), SCHOOL_COLUMNS)

    files = {"a_2023.csv": [school("1", year=2023)], "b_2023.csv": [school("2", year=2023)],
             "c_2024.csv": [school("3", year="２０２４")],                  # full-width digits: still 2024
             "d_2024.csv": [school("4", year=2024)], "e.csv": [school("5", year="不详")]}
    assert groups(files) == [["a_2023.csv", "b_2023.csv"], ["c_2024.csv", "d_2024.csv"], ["e.csv"]]
    # one row of 2024 typed in a 2023 file: the two years are checked together
    files["a_2023.csv"].append(school("6", year=2024))
    assert groups(files) == [["a_2023.csv", "b_2023.csv", "c_2024.csv", "d_2024.csv"], ["e.csv"]]


def test_staging_in_parts_finds_what_one_frame_finds(tmp_path):
    """The same rows staged through the warehouse (apart, one part per year) and as one frame:
    the same rows, problems and quarantine, in the same order."""
    import duckdb

    from junheng import steps
    from junheng.staging import combine

    raw = _decade({
        "schools_2023.csv": [school("1000000001", primary=100, year=2023),
                             school("1000000001", primary=90, year=2023),          # duplicate within a year
                             school("1000000002", primary=-5, year=2023)],
        "schools_2024.csv": [school("1000000001", primary=100),                    # same id, another year: fine
                             school("1000000003", "小学教学点", primary=60, parent_school_id="1000000009"),
                             school("1000000004", primary=100, county_name="别的县")],
        "schools_2024b.csv": [school("1000000005", primary=100), school("1000000006", primary=100)],
    })
    whole = stage_schools(raw)
    con = duckdb.connect()
    con.register("raw_schools", raw)
    parts = list(steps._RawParts(con, steps.SCHOOLS))
    assert [p.get_column("source_file").unique().sort().to_list() for p in parts] == [
        ["schools_2023.csv"], ["schools_2024.csv", "schools_2024b.csv"]]
    apart = combine([stage_schools(p) for p in parts])
    assert apart.rows.sort("year", "school_id").equals(whole.rows.sort("year", "school_id"))
    assert apart.problems.equals(whole.problems)
    assert apart.quarantined.equals(whole.quarantined)
    assert (apart.rows_in, apart.rows_staged, apart.rows_quarantined) == (
        whole.rows_in, whole.rows_staged, whole.rows_quarantined) == (8, 4, 4)
    assert {r for r in problems(apart)} >= {(2, "school_id", "duplicate_school_id"),
                                            (4, "primary_students", "negative"),
                                            (3, "parent_school_id", "parent_not_found")}


def test_copies_across_files_are_named_from_every_year(tmp_path):
    """Two years each with a file handed in twice: the one error names both pairs."""
    import duckdb

    from junheng import steps
    from junheng.staging import DuplicateFilesError

    raw = _decade({"a_2023.csv": [school("1000000001", primary=100, year=2023)],
                   "b_2023.csv": [school("1000000001", primary=100, year=2023)],
                   "c_2024.csv": [school("1000000002", primary=100)],
                   "d_2024.csv": [school("1000000002", primary=100)]})
    con = duckdb.connect()
    con.register("raw_schools", raw)
    with pytest.raises(DuplicateFilesError) as err:
        steps.stage(con, steps.SCHOOLS)
    assert [(a, b) for a, b, _, _ in err.value.pairs] == [("a_2023.csv", "b_2023.csv"), ("c_2024.csv", "d_2024.csv")]


def test_a_problem_text_puts_each_value_in_its_place():
    """The problem texts are made by ``text_with`` (``pl.format`` panicked on a national decade);
    it fills each ``{}`` in order, casts numbers to text, and gives null when a value is null."""
    from junheng.staging import text_with

    frame = pl.DataFrame({"school": ["甲校", "乙校", None], "ratio": [64.79, None, 1.5]})
    made = frame.select(text_with("“{}”折合为 {}，请核对。", pl.col("school"), pl.col("ratio").round(2)))
    assert made.to_series().to_list() == ["“甲校”折合为 64.79，请核对。", None, None]
    assert frame.select(text_with("{}", pl.col("ratio"))).to_series().to_list() == ["64.79", None, "1.5"]
    with pytest.raises(ValueError):
        text_with("{} and {}", pl.col("school"))


def test_the_quarantine_workbook_shows_a_typed_formula_as_text(tmp_path):
    """A cell typed as a formula is quarantined, and the workbook shows it as the statistician typed
    it: text, never a formula Excel would run."""
    import zipfile

    from junheng import report, warehouse

    rows = [school("1000000001", primary=300), school("1000000002", primary=200)]
    rows[1]["primary_students"] = "=A1+1"
    with warehouse.locked_connection(tmp_path / "w.duckdb") as con:
        build_from_rows(con, rows)
        path = tmp_path / "quarantine_report.xlsx"
        report.write_quarantine_workbook(con, path, [])
    with zipfile.ZipFile(path) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any("<f>" in book.read(n).decode() for n in sheets)
    problems = pl.read_excel(path, sheet_name="问题清单")
    assert problems.filter(pl.col("学校标识码") == "1000000002")["发现的值"].to_list() == ["=A1+1"]
