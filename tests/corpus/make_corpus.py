"""Writes the corpus of broken input files (one folder per kind of problem) and what the
pipeline must report for each (expected.json). Run it to regenerate the folders:

    .venv/bin/python tests/corpus/make_corpus.py
"""

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import polars as pl  # noqa: E402
import xlsxwriter  # noqa: E402

from conftest import county, county_frame, raw_frame, school  # noqa: E402
from junheng.contract import COUNTY_COLUMNS  # noqa: E402
from junheng.sample import with_chinese_headers  # noqa: E402


def frame(rows, counties=False):
    f = county_frame(rows) if counties else raw_frame(rows)
    return f.drop("source_file", "source_sheet", "source_row", "source_missing_columns", "extra_columns")


def good(n=4):
    return [school(f"10000000{i:02d}", primary=300 + i) for i in range(n)]


def csv(path, rows, encoding="utf-8", chinese=True, counties=False, edit=None):
    f = frame(rows, counties)
    f = with_chinese_headers(f) if chinese else f
    if edit:
        f = edit(f)
    path.write_bytes(f.write_csv().encode(encoding))


def xlsx(path, rows, titles=(), sheet="学校基本情况", raw_cells=None):
    f = with_chinese_headers(frame(rows))
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(sheet)
    for r, t in enumerate(titles):
        ws.write(r, 0, t)
    start = len(titles)
    ws.write_row(start, 0, f.columns)
    for r, row in enumerate(f.iter_rows(), start=start + 1):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    for (r, c), v in (raw_cells or {}).items():
        ws.write_number(r, c, v)
    wb.close()


CASES = {}


def case(name, expect):
    def register(fn):
        CASES[name] = (fn, expect)
        return fn
    return register


def R(file, row, column, rule, severity="error", sheet=None):
    """One problem the pipeline must report: file, worksheet (Excel only), row, column, rule."""
    entry = {"file": file, "row": row, "column": column, "rule": rule}
    if severity != "error":
        entry["severity"] = severity
    if sheet is not None:
        entry["sheet"] = sheet
    return entry


def S(file, reason, sheet=None):
    """A file, folder or worksheet the pipeline must list as not read, with the reason."""
    return {"file": file, "sheet": sheet, "reason": reason}


def xls(path, rows, sheet="学校基本情况", titles=()):
    """An Excel 97-2003 workbook, as the statistics system often saves it."""
    import xlwt

    f = with_chinese_headers(frame(rows))
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet(sheet)
    for r, t in enumerate(titles):
        ws.write(r, 0, t)
    start = len(titles)
    for c, h in enumerate(f.columns):
        ws.write(start, c, h)
    for r, row in enumerate(f.iter_rows(), start=start + 1):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    wb.save(str(path))


@case("gbk_csv_negative_count", [R("schools.csv", 3, "primary_students", "negative")])
def _(d):
    rows = good(); rows[1]["primary_students"] = -5
    csv(d / "schools.csv", rows, "gbk")


@case("utf8_bom_blank_required", [R("schools.csv", 4, "school_name", "required_blank")])
def _(d):
    rows = good(); rows[2]["school_name"] = None
    csv(d / "schools.csv", rows, "utf-8-sig")


@case("english_headers_text_in_number", [R("schools.csv", 2, "books", "not_a_number")])
def _(d):
    rows = good(); rows[0]["books"] = "很多"
    csv(d / "schools.csv", rows, chinese=False)


@case("excel_code_lost_leading_digits", [R("schools.xlsx", 3, "county_code", "county_code_short",
                                          sheet="学校基本情况")])
def _(d):
    # Excel turned the code into a number; this one was typed without its last digit
    xlsx(d / "schools.xlsx", good(), raw_cells={(2, 5): 52010})


@case("excel_float_codes_repaired", [])
def _(d):
    rows = good()
    for r in rows:
        r["county_code"] = "520102.0"
        r["school_id"] = r["school_id"] + ".0"
    csv(d / "schools.csv", rows)


@case("scientific_notation_id", [R("schools.csv", 5, "school_id", "scientific_notation")])
def _(d):
    rows = good(); rows[3]["school_id"] = "1.52E+09"
    csv(d / "schools.csv", rows)


@case("merged_title_rows", [R("schools.xlsx", 5, "primary_students", "negative", sheet="学校基本情况")])
def _(d):
    rows = good(); rows[1]["primary_students"] = -1
    xlsx(d / "schools.xlsx", rows, titles=("2024年教育事业统计", "学校基本情况（一）"))


@case("duplicate_school", [R("schools.csv", 2, "school_id", "duplicate_school_id"),
                           R("schools.csv", 5, "school_id", "duplicate_school_id")])
def _(d):
    rows = good(); rows[3]["school_id"] = rows[0]["school_id"]
    csv(d / "schools.csv", rows)


@case("duplicate_across_files", {"stop_error": ["schools_a.csv", "schools_b.csv"], "zh": "相同学校",
                                 "en": "same schools"})
def _(d):
    # an overlapping second export: the run stops and names both files
    csv(d / "schools_a.csv", good(2))
    csv(d / "schools_b.csv", good(1))


@case("unknown_school_type", [R("schools.csv", 3, "school_type", "unknown_school_type")])
def _(d):
    rows = good(); rows[1]["school_type"] = "职业高中"
    csv(d / "schools.csv", rows)


@case("school_type_alias_accepted", [])
def _(d):
    rows = good(); rows[1].update(school(rows[1]["school_id"], "九年一贯制", primary=200, junior=100))
    csv(d / "schools.csv", rows)


@case("count_not_whole", [R("schools.csv", 2, "primary_classes", "not_whole")])
def _(d):
    rows = good(); rows[0]["primary_classes"] = "7.5"
    csv(d / "schools.csv", rows)


@case("more_qualified_than_teachers", [R("schools.csv", 3, "primary_teachers_above_qual", "exceeds_total")])
def _(d):
    rows = good(); rows[1]["primary_teachers_above_qual"] = 999
    csv(d / "schools.csv", rows)


@case("students_without_teachers", [R("schools.csv", 2, "primary_teachers", "students_without_teachers")])
def _(d):
    rows = good()
    rows[0].update(primary_teachers=0, primary_teachers_above_qual=0, primary_backbone_teachers=0,
                   primary_pe_arts_teachers=0)
    csv(d / "schools.csv", rows)


@case("primary_school_with_junior_students", [R("schools.csv", 4, "junior_students", "level_not_taught")])
def _(d):
    rows = good(); rows[2]["junior_students"] = 40
    csv(d / "schools.csv", rows)


@case("missing_required_column", [R("schools.csv", r, "primary_teachers", "missing_column") for r in (2, 3, 4, 5)])
def _(d):
    csv(d / "schools.csv", good(), edit=lambda f: f.drop("小学专任教师数"))


@case("bad_year", [R("schools.csv", 3, "year", "bad_year")])
def _(d):
    rows = good(); rows[1]["year"] = 24
    csv(d / "schools.csv", rows)


@case("empty_file_beside_good_one", [])
def _(d):
    (d / "schools_empty.csv").write_bytes(b"")
    csv(d / "schools.csv", good())


@case("wrong_sheet", {"file_error": "schools.xlsx", "zh": "封面", "en": "no worksheet"})
def _(d):
    wb = xlsxwriter.Workbook(str(d / "schools.xlsx"))
    wb.add_worksheet("封面").write_row(0, 0, ["填报说明", "见附件"])
    wb.close()


@case("undecodable_bytes", {"file_error": "schools.csv", "zh": "编码", "en": "encoding"})
def _(d):
    (d / "schools.csv").write_bytes("学校标识码,县区代码\n".encode("utf-8") + b"\x81\x30\xff\xfe\n")


@case("duplicate_header", {"file_error": "schools.csv", "zh": "出现了两次", "en": "appears twice"})
def _(d):
    csv(d / "schools.csv", good(), edit=lambda f: f.with_columns(pl.col("学校名称").alias("School_Name")))


@case("ragged_csv_row", {"file_error": "schools.csv", "zh": "CSV 文件格式有误", "en": "malformed"})
def _(d):
    csv(d / "schools.csv", good())
    with open(d / "schools.csv", "a", encoding="utf-8") as f:
        f.write("1,2,3," * 30 + "\n")


@case("county_percentage_out_of_range", [R("counties.csv", 2, "satisfaction_pct", "above_maximum")])
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "counties.csv", [county(satisfaction_pct=150)], counties=True)


@case("county_short_code", [R("counties.csv", 3, "county_code", "county_code_short")])
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "counties.csv", [county(), county("52013")], counties=True)


@case("county_listed_twice", [R("counties.csv", 2, "county_code", "duplicate_county_code"),
                              R("counties.csv", 3, "county_code", "duplicate_county_code")])
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "counties.csv", [county(), county(satisfaction_pct=80)], counties=True)


@case("county_yes_no_garbled", [R("counties.csv", 2, "left_behind_care_system", "not_yes_no")])
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "counties.csv", [county(left_behind_care_system="也许")], counties=True)


@case("county_missing_column", {"missing_county_columns": ["satisfaction_pct"]})
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "counties.csv", [county()], counties=True, edit=lambda f: f.drop("社会认可度调查满意度（%）"))


# ---- what statisticians' exports really look like (issue: no verdict without the data) -------------


def workbook(path, sheets):
    """An .xlsx with several sheets: (name, rows, options) where options may hide the sheet or
    merge the county cells (as the statistics system exports them)."""
    wb = xlsxwriter.Workbook(str(path))
    for name, rows, opts in sheets:
        f = with_chinese_headers(frame(rows))
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, f.columns)
        merged = f.columns.index("县区代码") if opts.get("merge_county") else None
        for r, row in enumerate(f.iter_rows(), start=1):
            for c, v in enumerate(row):
                if v is not None and not (c == merged and r > 1):
                    ws.write(r, c, v)
        if merged is not None:  # only the merged range's first cell holds the code
            ws.merge_range(1, merged, len(rows), merged, rows[0]["county_code"])
        if opts.get("hidden"):
            ws.hide()
    wb.close()


def two_counties(n=3):
    """Two counties of 贵州 whose schools all pass comfortably."""
    return ([school(f"10000001{i:02d}", primary=300 + i, county="520102") for i in range(n)]
            + [school(f"10000002{i:02d}", primary=310 + i, county="520103", county_name="测试乙县") for i in range(n)])


@case("approximate_area_in_only_failing_school", [R("schools.csv", 3, "teaching_aux_area_m2", "not_a_number")])
def _(d):
    # the county's one school short of floor area has "约32927" typed: it must not pass without it
    rows = good(); rows[1]["teaching_aux_area_m2"] = "约32927"
    csv(d / "schools.csv", rows)


@case("dash_where_level_not_taught", [])
def _(d):
    # the statistics system writes "—" for 小学在校生数 of a 完全中学: not applicable, read as blank
    rows = good()
    rows.append(school("1000000099", "完全中学", junior=400, senior=300, primary_students="—",
                       primary_classes="—", primary_teachers="—"))
    csv(d / "schools.csv", rows)


@case("dash_in_required_cell", [R("schools.csv", 4, "primary_teachers", "required_blank")])
def _(d):
    rows = good(); rows[2]["primary_teachers"] = "—"
    csv(d / "schools.csv", rows)


@case("merged_county_cells", [R("schools.xlsx", r, "county_code", "required_blank", sheet="学校") for r in (3, 4, 5)])
def _(d):
    # merged county cells: only the first row carries the code; the others cannot be placed
    workbook(d / "schools.xlsx", [("学校", good(), {"merge_county": True})])


@case("impossible_area_1e12", [R("schools.csv", 2, "teaching_aux_area_m2", "implausible_value")])
def _(d):
    rows = good(); rows[0]["teaching_aux_area_m2"] = "1e12"
    csv(d / "schools.csv", rows)


@case("unusual_area_is_a_warning", [R("schools.csv", 3, "sports_ground_area_m2", "unusual_value", "warning")])
def _(d):
    rows = good(); rows[1]["sports_ground_area_m2"] = 301 * 250.0
    csv(d / "schools.csv", rows)


@case("county_form_percent_cells", [R("counties.xlsx", 2, c, "percent_cell", "warning", "县级表")
                                    for c in ("certified_teachers_pct", "satisfaction_pct")])
def _(d):
    # typed "100%" and "90%" in percent-formatted cells: Excel stores 1 and 0.9
    csv(d / "schools.csv", good())
    f = with_chinese_headers(frame([county()], counties=True))
    wb = xlsxwriter.Workbook(str(d / "counties.xlsx"))
    ws = wb.add_worksheet("县级表")
    pct = wb.add_format({"num_format": "0%"})
    ws.write_row(0, 0, f.columns)
    for c, (h, v) in enumerate(zip(f.columns, f.row(0))):
        if h in ("专任教师持证上岗率（%）", "社会认可度调查满意度（%）"):
            ws.write_number(1, c, float(v) / 100, pct)
        elif v is not None:
            ws.write(1, c, v)
    wb.close()


PCT_COLUMNS = [c.name for c in COUNTY_COLUMNS if c.max_value == 100.0]


@case("county_form_percent_as_fractions", [R("counties.csv", 2, c, "percent_as_fraction", "warning")
                                           for c in PCT_COLUMNS])
def _(d):
    # a form exported with every percentage as a fraction (0.95 for 95%)
    csv(d / "schools.csv", good())
    form = county()
    for c in PCT_COLUMNS:
        form[c] = form[c] / 100
    csv(d / "counties.csv", [form], counties=True)


@case("xls_beside_xlsx", [R("schools_b.xlsx", 3, "primary_students", "negative", sheet="学校基本情况")])
def _(d):
    xls(d / "schools_a.xls", good(3), titles=("2024年教育事业统计",))
    rows = [school(f"10000003{i:02d}", primary=300 + i) for i in range(3)]; rows[1]["primary_students"] = -3
    xlsx(d / "schools_b.xlsx", rows)


@case("only_an_xls_file", [R("schools.xls", 4, "year", "bad_year", sheet="学校基本情况")])
def _(d):
    rows = good(); rows[1]["year"] = 1999
    xls(d / "schools.xls", rows, titles=("基层报表",))


@case("hidden_backup_sheet", {"problems": [], "skipped": [S("schools.xlsx", "hidden_sheet", "2023年（勿删）")]})
def _(d):
    old = [dict(r, year=2023) for r in good()]
    workbook(d / "schools.xlsx", [("2024", good(), {}), ("2023年（勿删）", old, {"hidden": True})])


@case("visible_backup_sheet", {"problems": [], "skipped": [S("schools.xlsx", "backup_sheet", "去年数据（勿报）")]})
def _(d):
    old = [dict(r, year=2023) for r in good()]
    workbook(d / "schools.xlsx", [("2024", good(), {}), ("去年数据（勿报）", old, {})])


@case("old_copy_in_subfolder", {"problems": [], "skipped": [S("旧数据", "subfolder")]})
def _(d):
    csv(d / "schools.csv", good())
    (d / "旧数据").mkdir()
    csv(d / "旧数据" / "schools.csv", good())


@case("backup_copy_beside_original", {"problems": [], "skipped": [S("schools - 副本.csv", "backup_copy"),
                                                                  S("说明.docx", "unsupported_format")]})
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "schools - 副本.csv", good())
    (d / "说明.docx").write_bytes(b"PK\x03\x04")


@case("last_years_year_on_one_row", [R("schools.csv", 12, "year", "stray_year")])
def _(d):
    rows = [school(f"10000000{i:02d}", primary=300 + i) for i in range(25)]
    rows[10]["year"] = 2023
    csv(d / "schools.csv", rows)


@case("full_width_county_code", [R("schools.csv", 3, "county_code", "normalised", "warning")])
def _(d):
    rows = good(); rows[1]["county_code"] = "５２０１０２"
    csv(d / "schools.csv", rows)


@case("zero_width_space_in_id_and_type", [R("schools.csv", 2, "school_id", "normalised", "warning"),
                                         R("schools.csv", 4, "school_type", "normalised", "warning")])
def _(d):
    rows = good(); rows[0]["school_id"] += "\u200b"; rows[2]["school_type"] = "小学\u200b"
    csv(d / "schools.csv", rows)


@case("province_contradicts_code", [R("schools.csv", 3, "province", "province_mismatch")])
def _(d):
    rows = good(); rows[1]["province"] = "云南省"
    csv(d / "schools.csv", rows)


@case("county_name_contradicts_code", [R("schools.csv", 5, "county_name", "county_name_mismatch")])
def _(d):
    rows = good(); rows[3]["county_name"] = "测试乙县"
    csv(d / "schools.csv", rows)


@case("unknown_province_code", [R("schools.csv", 2, "county_code", "county_code_unknown_province")])
def _(d):
    rows = good(); rows[0]["county_code"] = "990102"
    csv(d / "schools.csv", rows)


@case("county_form_without_schools", [R("counties.csv", 3, "county_code", "county_without_schools", "warning")])
def _(d):
    csv(d / "schools.csv", good())
    csv(d / "counties.csv", [county(), county("520199")], counties=True)


@case("teaching_point_parent_in_other_county", [R("schools.csv", 8, "parent_school_id", "parent_other_county")])
def _(d):
    rows = two_counties()
    rows.append(school("1000000901", "小学教学点", primary=60, county="520103", county_name="测试乙县",
                       parent_school_id=rows[0]["school_id"]))
    csv(d / "schools.csv", rows)


@case("teaching_point_parent_missing", [R("schools.csv", 6, "parent_school_id", "parent_not_found", "warning")])
def _(d):
    rows = good()
    rows.append(school("1000000901", "小学教学点", primary=60, parent_school_id="1999999999"))
    csv(d / "schools.csv", rows)


@case("formula_error_in_count", [R("schools.csv", 3, "primary_students", "formula_error")])
def _(d):
    rows = good(); rows[1]["primary_students"] = "#REF!"
    csv(d / "schools.csv", rows)


@case("blank_county_code", [R("schools.csv", 4, "county_code", "required_blank")])
def _(d):
    rows = good(); rows[2]["county_code"] = None
    csv(d / "schools.csv", rows)


@case("header_only_file", {"file_error": "schools.csv", "zh": "没有学校基础数据表的数据行", "en": "holds no schools rows"})
def _(d):
    csv(d / "schools.csv", good(), edit=lambda f: f.head(0))


@case("password_protected_workbook", {"file_error": "schools.xlsx", "zh": "打开密码", "en": "password"})
def _(d):
    # an .xlsx saved with a password to open is an OLE compound file, not a zip
    (d / "schools.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)


def main():
    for name, (make, expect) in CASES.items():
        d = HERE / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        make(d)
        (d / "expected.json").write_text(json.dumps(expect, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(CASES)} cases written")


if __name__ == "__main__":
    main()
