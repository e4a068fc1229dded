"""Reading the statistics system's exports: header paths from merged rows, the mapping files,
booklets combined, total and signature rows, a clear refusal, and the sample read both ways."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import build_folder
from junheng import steps
from junheng.exports import booklet_for, header_paths, load_booklets, norm, read_export
from junheng.ingest import InputFilesError, read_files
from junheng.contract import SCHOOL_COLUMNS
from junheng.sample import generate_sample
from junheng.sample_exports import ExportColumn, _booklets, _sheet_rows, _write_xls, _write_xlsx, write_exports

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_header_paths_expand_merges_and_fold_how_headers_are_typed():
    rows = [
        ["2024年小学基层统计报表", None, None, None],
        ["学校名称", "专任教师", None, None],
        [None, "合计", "#按学历分", None],
        [None, None, "本科", "专科\n（含）"],
    ]
    merges = [(0, 0, 0, 3), (1, 0, 3, 0), (1, 1, 1, 3), (2, 1, 3, 1), (2, 2, 2, 3)]
    assert header_paths(rows, merges, 1, 3) == ["学校名称", "专任教师/合计", "专任教师/#按学历分/本科",
                                                "专任教师/#按学历分/专科(含)"]
    assert norm(" 教学仪器设备资产值（万元） ") == "教学仪器设备资产值(万元)"


def test_a_file_is_recognised_by_its_booklet_name():
    booklets = load_booklets()
    assert booklet_for(Path("2024年九年一贯制学校与十二年一贯制学校基层表.xlsx"), booklets).name == \
        "九年一贯制学校与十二年一贯制学校"
    assert booklet_for(Path("小学基层表（2024）.xls"), booklets).name == "小学"
    assert booklet_for(Path("中学.xlsx"), booklets).name == "中学"
    assert booklet_for(Path("会议纪要.xlsx"), booklets) is None


def test_the_sample_as_exports_gives_the_same_results_as_the_flat_sample(tmp_path):
    exports = tmp_path / "exports"
    written = write_exports(generate_sample(), exports)
    assert {p.suffix for p in written} == {".xls", ".xlsx"} and len(written) == 12
    (exports / "counties.xlsx").write_bytes((SAMPLE / "xlsx" / "counties.xlsx").read_bytes())
    flat, from_exports = duckdb.connect(str(tmp_path / "a.duckdb")), duckdb.connect(str(tmp_path / "b.duckdb"))
    try:
        build_folder(flat, SAMPLE / "csv")
        build_folder(from_exports, exports)
        assert from_exports.sql("select count(*) from quarantine_schools").fetchall()[0][0] == 0
        for table, keys in (("school_indicators", "year, school_id, level"),
                            ("county_cv", "year, county_code, level, indicator"),
                            ("county_scorecard", "year, county_code")):
            a = flat.sql(f"select * from {table} order by {keys}").pl()
            b = from_exports.sql(f"select * from {table} order by {keys}").pl()
            assert a.height > 0 and a.equals(b), table
        # every 合计 row and signature line was recognised, counted and left out
        skipped = from_exports.sql("select reason, count(*) from ingest_skipped_schools group by all").fetchall()
        assert dict(skipped) == {"total_rows": 12, "signature_rows": 12}
        text = " ".join(r[0] for r in from_exports.sql("select reason_zh from ingest_skipped_schools").fetchall())
        assert "填表人：" not in text  # the row numbers are named, never what a signature line says
    finally:
        flat.close()
        from_exports.close()


def _one_booklet(tmp_path: Path, name: str, suffix: str, rename: dict[tuple, tuple] | None = None,
                 drop_parent: bool = False) -> Path:
    types, _, columns = _booklets()[name]
    columns = [ExportColumn((rename or {}).get(c.path, c.path), c.value) for c in columns]
    rows = generate_sample().filter(pl.col("school_type").is_in(types) & (pl.col("year") == 2024)).head(12)
    if drop_parent:
        rows = rows.with_columns(pl.lit(None, pl.String).alias("parent_school_id"))
    grid, merges, _ = _sheet_rows(name, 2024, list(rows.iter_rows(named=True)), columns)
    path = tmp_path / f"2024年{name}基层表{suffix}"
    (_write_xls if suffix == ".xls" else _write_xlsx)(path, name, grid, merges)
    return path


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_sums_are_added_from_their_headers(tmp_path, suffix):
    path = _one_booklet(tmp_path, "小学", suffix)
    read = read_export(path, booklet_for(path, load_booklets()))
    rows = generate_sample().filter((pl.col("school_type").is_in(["小学", "小学教学点"])) & (pl.col("year") == 2024)
                                    ).head(12)
    got = read.frame.select("school_id", "primary_teachers_above_qual", "primary_pe_arts_teachers", "year",
                            "school_type")
    assert got["school_id"].to_list() == rows["school_id"].to_list()
    # 专科 + 本科 + 硕士研究生, and 体育与健康 + 音乐 + 美术, add back up to the flat sample's figures
    assert got["primary_teachers_above_qual"].cast(pl.Int64).to_list() == rows["primary_teachers_above_qual"].to_list()
    assert got["primary_pe_arts_teachers"].cast(pl.Int64).to_list() == rows["primary_pe_arts_teachers"].to_list()
    assert set(got["year"]) == {"2024"}             # from the title: the export has no year column
    assert got["school_type"].to_list() == rows["school_type"].to_list()   # 是否计校数 = 0 → 小学教学点
    assert read.reports[0].header_row == 4          # a title, then 3 header rows


def test_a_missing_column_refuses_the_file_and_says_what_to_add(tmp_path):
    path = _one_booklet(tmp_path, "小学", ".xlsx", rename={("在校生数", "合计"): ("在校学生", "总数")})
    with pytest.raises(InputFilesError) as caught:
        read_files([path], SCHOOL_COLUMNS, "学校表")
    message = str(caught.value)
    assert "小学" in message and "primary_students" in message
    assert "在校生数/合计" in message                          # what it looked for
    assert "在校学生/总数" in message                          # the nearest header it found
    assert 'primary_students = ["在校生数/合计", "在校学生数/合计", "在校学生/总数"]' in message  # the line to add
    assert "policy/exports/小学.toml" in message


def test_a_teaching_point_without_its_parent_is_quarantined(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _one_booklet(folder, "小学", ".xlsx", drop_parent=True)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        steps.ingest(con, folder, steps.SCHOOLS)
        steps.stage(con, steps.SCHOOLS)
        points = con.sql("select count(*) from raw_schools where extra_columns like '%\"是否计校数\": \"0\"%'"
                         ).fetchall()[0][0]
        flagged = con.sql("select count(*), any_value(reason_zh) from quarantine_schools "
                          "where rule = 'teaching_point_without_parent'").fetchall()[0]
        assert points > 0 and flagged[0] == points and "所属学校标识码" in flagged[1]
    finally:
        con.close()


def test_the_county_form_template_is_filled_read_back_and_guarded(tmp_path):
    import zipfile

    from junheng.cli import main
    from junheng.contract import COUNTY_COLUMNS
    from junheng.ingest import read_file

    out = tmp_path / "counties_2024.xlsx"
    assert main(["template", "--input", str(SAMPLE / "xlsx"), "--output", str(out)]) == 0
    # the pipeline reads it as a county form: every county of the school files, codes filled in
    read = read_file(out, COUNTY_COLUMNS, "县级表")
    schools = pl.read_csv(SAMPLE / "csv" / "schools.csv", encoding="gb18030", infer_schema_length=0)
    codes = sorted(schools.filter(pl.col("学年") == "2024")["县区代码"].unique().to_list())
    assert sorted(read.frame["county_code"].to_list()) == codes
    assert set(read.frame["year"]) == {"2024"} and read.frame["satisfaction_pct"].null_count() == len(codes)
    assert [s.reason for s in read.skipped] == ["no_header"]          # the instructions sheet
    with zipfile.ZipFile(out) as z:
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
        notes = "".join(z.read(n).decode() for n in z.namelist() if "comments" in n)
        guide = z.read("xl/sharedStrings.xml").decode()
    assert '"是,否"' in sheet                                          # yes/no drop-downs
    assert 'type="decimal"' in sheet and "<formula2>100.0</formula2>" in sheet   # percentages 0-100
    assert notes.count("上一学年（2023）") > 100                     # last year's values beside the cells
    assert "填表说明" in guide and "不要填写 0.95" in guide
    assert main(["template", "--input", str(tmp_path / "nowhere")]) == 1


def test_an_export_that_starts_below_and_right_of_a1_is_read_in_place(tmp_path):
    import xlsxwriter

    types, _, columns = _booklets()["小学"]
    rows = generate_sample().filter(pl.col("school_type").is_in(types) & (pl.col("year") == 2024)).head(5)
    grid, merges, _ = _sheet_rows("小学", 2024, list(rows.iter_rows(named=True)), columns)
    path = tmp_path / "2024年小学基层表.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("小学")
    starts = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in merges}
    covered = {(r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    for r, line in enumerate(grid):           # everything two rows down and one column right
        for c, value in enumerate(line):
            if (r, c) in starts:
                ws.merge_range(r + 2, c + 1, starts[(r, c)][0] + 2, starts[(r, c)][1] + 1, value)
            elif (r, c) not in covered and value is not None:
                ws.write(r + 2, c + 1, value)
    book.close()
    read = read_export(path, booklet_for(path, load_booklets()))
    assert read.frame["school_id"].to_list() == rows["school_id"].to_list()
    assert read.frame["primary_students"].cast(pl.Int64).to_list() == rows["primary_students"].to_list()
    assert read.frame["source_row"].to_list() == list(range(8, 13))   # title row 3, headers 4-6, 栏次 7
