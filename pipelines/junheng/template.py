"""The county form (县级补充表) as a workbook to fill in, for the counties found in the school files.

    junheng template --input DIR [--year Y] [--output FILE]

Codes, names and the year are filled in; headers are the ones the pipeline reads (units in
them); yes/no cells offer 是/否; percentages are held to 0-100 (the instructions ask for 95,
not 0.95; staging catches a sheet typed in fractions); the last year's value, where the folder has last year's form, is shown
in a note on each cell. A sheet of instructions in Chinese comes first.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import polars as pl

from junheng import steps
from junheng.contract import COUNTY_COLUMNS

SHEET = "县级补充表"
INSTRUCTIONS = [
    "县级补充表填表说明",
    "",
    "1. 本表每行一个县（市、区），学年、县区代码、县区名称、省份已按学校统计数据填好，请勿修改。",
    "2. 请从第 3 列往后逐项填写本县本学年的数据；表头中的括号注明单位（元、%、年等）。",
    "3. “是/否”项目请从下拉框中选择；百分比填写 0 到 100 之间的数（如 95 表示 95%），不要填写 0.95。",
    "4. 单元格右上角有红色标记的，鼠标移上去可看到上一学年填报的数值，供核对。",
    "5. 没有数据的项目请留空，不要填 0：留空的项目判为“数据不足”，填 0 会被当作真实数值判定。",
    "6. 一票否决项目：存在该情形填“是”，不存在填“否”。",
    "7. 请不要修改表头、增删列或改工作表名；填好后以 counties 开头的文件名（如 counties_2024.xlsx）"
    "与学校统计数据放在同一个文件夹中运行。",
    "8. 佐证材料请在“佐证说明”一列简要注明（文件名或链接），不要填写个人信息。",
]


def _stage(input_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The staged schools and county forms of ``input_dir`` (through the pipeline's own steps)."""
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "template.duckdb"))
        try:
            steps.ingest(con, input_dir, steps.SCHOOLS)
            steps.stage(con, steps.SCHOOLS)
            try:
                steps.ingest(con, input_dir, steps.COUNTIES)
                steps.stage(con, steps.COUNTIES)
                forms = con.sql("select * from stg_counties").pl()
            except FileNotFoundError:
                forms = pl.DataFrame()
            return con.sql("select * from stg_schools").pl(), forms
        finally:
            con.close()


def write_template(input_dir: Path, out_path: Path | None = None, year: int | None = None) -> dict:
    """Write the form for ``year`` (default: the latest year of the school files) to ``out_path``
    (default: counties_<year>_模板.xlsx here); returns what was written."""
    import xlsxwriter

    schools, forms = _stage(Path(input_dir))
    if schools.height == 0:
        raise ValueError(f"{input_dir} 中没有可用的学校数据，无法确定县名单。 / no usable school rows in {input_dir}.")
    year = year or int(schools["year"].max())
    counties = (schools.filter(pl.col("year") == year).group_by("county_code")
                .agg(pl.col("county_name").first(), pl.col("province").first()).sort("county_code"))
    if counties.height == 0:
        raise ValueError(f"学校数据中没有 {year} 学年的学校。 / no schools of {year} in the school files.")
    last = {}
    if forms.height:
        for r in forms.filter(pl.col("year") == year - 1).iter_rows(named=True):
            last[r["county_code"]] = r

    out_path = Path(out_path or f"counties_{year}_模板.xlsx")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(out_path))
    head = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#F0F4F8", "border": 1})
    fixed = book.add_format({"bg_color": "#EDF2F7", "locked": True})
    guide = book.add_worksheet("填表说明")
    guide.set_column(0, 0, 110)
    for r, line in enumerate(INSTRUCTIONS):
        guide.write(r, 0, line, book.add_format({"bold": True, "font_size": 14}) if r == 0 else None)
    ws = book.add_worksheet(SHEET)
    ws.freeze_panes(1, 3)
    n = counties.height
    for c, col in enumerate(COUNTY_COLUMNS):
        ws.write(0, c, col.zh, head)
        ws.set_column(c, c, 14 if col.kind != "text" else 20)
        first, last_row = 1, n
        if col.kind == "bool":
            ws.data_validation(first, c, last_row, c, {
                "validate": "list", "source": ["是", "否"],
                "input_title": "请选择", "input_message": "从下拉框中选择“是”或“否”",
                "error_title": "只能填是或否", "error_message": "请从下拉框中选择“是”或“否”。"})
        elif col.kind in ("int", "float") and col.name not in ("year",):
            top = col.max_value if col.max_value is not None else 1e12
            ws.data_validation(first, c, last_row, c, {
                "validate": "integer" if col.kind == "int" else "decimal", "criteria": "between",
                "minimum": col.min_value, "maximum": top,
                "input_title": col.zh[:32],
                "input_message": (f"填写 {col.min_value:g} 到 {top:g} 之间的数" if col.max_value is not None
                                  else "填写不小于 0 的数")[:255],
                "error_title": "数值超出范围",
                "error_message": ((f"应在 {col.min_value:g} 到 {top:g} 之间" if col.max_value is not None
                                   else "应为不小于 0 的数") + ("（百分比填 95，不要填 0.95）" if top == 100 else "")
                                  + "。")[:255]})
    for r, county in enumerate(counties.iter_rows(named=True), start=1):
        ws.write_number(r, 0, year, fixed)
        ws.write_string(r, 1, county["county_code"], fixed)
        ws.write_string(r, 2, county["county_name"] or "", fixed)
        ws.write_string(r, 3, county["province"] or "", fixed)
        previous = last.get(county["county_code"])
        if previous is None:
            continue
        for c, col in enumerate(COUNTY_COLUMNS[4:], start=4):
            value = previous.get(col.name)
            if value is None:
                continue
            shown = ("是" if value else "否") if col.kind == "bool" else (f"{value:g}" if isinstance(value, float)
                                                                           else str(value))
            ws.write_comment(r, c, f"上一学年（{year - 1}）：{shown}", {"x_scale": 1.2, "y_scale": 0.5})
    book.close()
    return {"path": str(out_path), "year": year, "counties": n, "with_last_year": len(set(last) & set(counties["county_code"]))}
