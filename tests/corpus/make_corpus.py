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


R = lambda file, row, column, rule: {"file": file, "row": row, "column": column, "rule": rule}  # noqa: E731


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


@case("excel_code_lost_leading_digits", [R("schools.xlsx", 3, "county_code", "county_code_short")])
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


@case("merged_title_rows", [R("schools.xlsx", 5, "primary_students", "negative")])
def _(d):
    rows = good(); rows[1]["primary_students"] = -1
    xlsx(d / "schools.xlsx", rows, titles=("2024年教育事业统计", "学校基本情况（一）"))


@case("duplicate_school", [R("schools.csv", 2, "school_id", "duplicate_school_id"),
                           R("schools.csv", 5, "school_id", "duplicate_school_id")])
def _(d):
    rows = good(); rows[3]["school_id"] = rows[0]["school_id"]
    csv(d / "schools.csv", rows)


@case("duplicate_across_files", [R("schools_a.csv", 2, "school_id", "duplicate_school_id"),
                                 R("schools_b.csv", 2, "school_id", "duplicate_school_id")])
def _(d):
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
