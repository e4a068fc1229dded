"""The bundled sample written as the statistics system exports it: one workbook per booklet and
year (.xlsx and .xls), a title row, 3 to 5 merged header rows naming each column by its path, a
row of column numbers, the schools, a 合计 row and signature lines. Read back by
:mod:`junheng.exports`, it must give the same results as the flat sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

Value = Callable[[dict], object]


@dataclass(frozen=True)
class ExportColumn:
    path: tuple[str, ...]
    value: Value


def _col(name: str) -> Value:
    return lambda r: r.get(name)


def _part(name: str, share: float, rest_of: tuple[float, ...] = ()) -> Value:
    """A whole number split into parts that add back up: the first parts take their share
    (rounded down), the last part takes what is left."""
    def value(r):
        total = r.get(name)
        if total is None:
            return None
        total = int(total)
        if share < 0:  # the remainder after the listed shares
            return total - sum(int(total * s) for s in rest_of)
        return int(total * share)
    return value


def _identity() -> list[ExportColumn]:
    return [
        ExportColumn(("学校(机构)标识码",), _col("school_id")),
        ExportColumn(("学校(机构)名称",), _col("school_name")),
        ExportColumn(("统计一级名称",), _col("province")),
        ExportColumn(("统计二级名称",), _col("prefecture")),
        ExportColumn(("统计三级",), _col("county_code")),
        ExportColumn(("统计三级名称",), _col("county_name")),
        ExportColumn(("办学类型",), lambda r: "小学" if r["school_type"] == "小学教学点" else r["school_type"]),
        ExportColumn(("办学性质",), _col("ownership")),
        ExportColumn(("城乡分类",), _col("location")),
        ExportColumn(("所属学校标识码",), _col("parent_school_id")),
        ExportColumn(("是否寄宿制学校",), _col("boarding")),
        ExportColumn(("是否计校数",), lambda r: 0 if r["school_type"] == "小学教学点" else 1),
    ]


def _facilities() -> list[ExportColumn]:
    return [
        ExportColumn(("本学年校舍建筑面积", "教学及辅助用房", "小计"), _col("teaching_aux_area_m2")),
        ExportColumn(("本学年校舍建筑面积", "教学及辅助用房", "室内体育用房"), _col("indoor_sports_area_m2")),
        ExportColumn(("占地面积", "其中", "运动场地面积"), _col("sports_ground_area_m2")),
        ExportColumn(("固定资产总值", "教学仪器设备资产值（万元）"), _col("equipment_value_10k_yuan")),
        ExportColumn(("教室", "网络多媒体教室"), _col("multimedia_classrooms")),
        ExportColumn(("专用教室", "音乐教室", "间数"), _col("music_rooms")),
        ExportColumn(("专用教室", "音乐教室", "最小面积"), _col("music_room_min_area_m2")),
        ExportColumn(("专用教室", "美术教室", "间数"), _col("art_rooms")),
        ExportColumn(("专用教室", "美术教室", "最小面积"), _col("art_room_min_area_m2")),
        ExportColumn(("图书（册）",), _col("books")),
        ExportColumn(("教学用计算机（台）",), _col("computers")),
        ExportColumn(("专任教师", "#按专业技术职务分", "中级及以上"), _col("teachers_mid_senior_title")),
    ]


def _teachers(level: str, section: tuple[str, ...], degrees: tuple[str, ...]) -> list[ExportColumn]:
    """A section's teachers: the total, by qualification (above the requirement split over
    ``degrees``) and by subject (PE/arts split over 体育与健康, 音乐, 美术)."""
    q, pe = f"{level}_teachers_above_qual", f"{level}_pe_arts_teachers"
    shares = (0.5, 0.4)[: len(degrees) - 1]
    cols = [ExportColumn(("专任教师", *section, "合计"), _col(f"{level}_teachers"))]
    for k, degree in enumerate(degrees):
        part = _part(q, shares[k]) if k < len(shares) else _part(q, -1, shares)
        cols.append(ExportColumn(("专任教师", *section, "#按学历分", degree), part))
    cols += [ExportColumn(("专任教师", *section, "#按授课课程分", "体育与健康"), _part(pe, 0.5)),
             ExportColumn(("专任教师", *section, "#按授课课程分", "音乐"), _part(pe, 0.25)),
             ExportColumn(("专任教师", *section, "#按授课课程分", "美术"), _part(pe, -1, (0.5, 0.25)))]
    return cols


def _booklets() -> dict[str, tuple[tuple[str, ...], str, list[ExportColumn]]]:
    """booklet → (school types, file suffix, columns)"""
    primary = [ExportColumn(("在校生数", "合计"), _col("primary_students")),
               ExportColumn(("班数", "合计"), _col("primary_classes")),
               ExportColumn(("最大班额",), _col("primary_max_class_size")),
               *_teachers("primary", (), ("专科", "本科", "硕士研究生")),
               ExportColumn(("教基1102", "县级以上骨干教师(小学)"), _col("primary_backbone_teachers"))]
    junior = [ExportColumn(("在校生数", "初中"), _col("junior_students")),
              ExportColumn(("在校生数", "高中"), _col("senior_students")),
              ExportColumn(("班数", "初中"), _col("junior_classes")),
              ExportColumn(("最大班额", "初中"), _col("junior_max_class_size")),
              *_teachers("junior", ("初中",), ("本科", "研究生")),
              ExportColumn(("教基1102", "县级以上骨干教师(初中)"), _col("junior_backbone_teachers"))]
    combined = [ExportColumn(("在校生数", "小学"), _col("primary_students")),
                ExportColumn(("在校生数", "初中"), _col("junior_students")),
                ExportColumn(("在校生数", "高中"), _col("senior_students")),
                ExportColumn(("班数", "小学"), _col("primary_classes")),
                ExportColumn(("班数", "初中"), _col("junior_classes")),
                ExportColumn(("最大班额", "小学"), _col("primary_max_class_size")),
                ExportColumn(("最大班额", "初中"), _col("junior_max_class_size")),
                *_teachers("primary", ("小学",), ("专科", "本科", "研究生")),
                *_teachers("junior", ("初中",), ("本科", "研究生")),
                ExportColumn(("教基1102", "县级以上骨干教师(小学)"), _col("primary_backbone_teachers")),
                ExportColumn(("教基1102", "县级以上骨干教师(初中)"), _col("junior_backbone_teachers"))]
    special = [c for c in combined if c.path != ("在校生数", "高中")]
    return {
        "小学": (("小学", "小学教学点"), ".xlsx", _identity() + primary + _facilities()),
        "中学": (("初级中学", "完全中学"), ".xls", _identity() + junior + _facilities()),
        "九年一贯制学校与十二年一贯制学校": (("九年一贯制学校", "十二年一贯制学校"), ".xlsx",
                                           _identity() + combined + _facilities()),
        "特殊教育学校": (("特殊教育学校",), ".xls", _identity() + special + _facilities()),
    }


def _header_cells(columns: list[ExportColumn]) -> tuple[int, list[tuple[int, int, int, int, str]]]:
    """Header rows needed and the merged blocks (first row, first col, last row, last col, text):
    a text spanning neighbouring columns with the same path above is one merged cell, and a
    path's last part reaches down to the bottom header row."""
    depth = max(len(c.path) for c in columns)
    blocks = []
    for level in range(depth):
        c = 0
        while c < len(columns):
            path = columns[c].path
            if level >= len(path):
                c += 1
                continue
            end = c
            while (end + 1 < len(columns) and len(columns[end + 1].path) > level
                   and columns[end + 1].path[: level + 1] == path[: level + 1] and level < len(path) - 1):
                end += 1
            bottom = depth - 1 if level == len(path) - 1 else level
            blocks.append((level, c, bottom, end, path[level]))
            c = end + 1
    return depth, blocks


def _sheet_rows(booklet: str, year: int, rows: list[dict], columns: list[ExportColumn]) -> tuple[list, list, int]:
    depth, blocks = _header_cells(columns)
    width = len(columns)
    grid: list[list] = [[f"{year}年{booklet}基层统计报表（示例数据，数字均为虚构）"] + [None] * (width - 1)]
    merges = [(0, 0, 0, width - 1)]
    header = [[None] * width for _ in range(depth)]
    for r0, c0, r1, c1, text in blocks:
        header[r0][c0] = text
        if (r0, c0) != (r1, c1):
            merges.append((1 + r0, c0, 1 + r1, c1))
    grid += header
    grid.append(["甲", "乙"] + list(range(1, width - 1)))            # 栏次
    for r in rows:
        grid.append([c.value(r) for c in columns])
    totals = ["合计"] + [None] * (width - 1)
    for k, c in enumerate(columns):
        values = [c.value(r) for r in rows]
        if k > 11 and values and all(isinstance(v, (int, float)) or v is None for v in values):
            totals[k] = sum(v or 0 for v in values)
    grid += [totals, [None] * width,
             ["填表人：（示例）", None, None, "单位负责人：（示例）", None, None, f"报出日期：{year}年9月30日"]
             + [None] * (width - 7)]
    return grid, merges, depth


def write_exports(frame: pl.DataFrame, dest: Path) -> list[Path]:
    """One workbook per booklet and year under ``dest``; returns the paths written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for booklet, (types, suffix, columns) in _booklets().items():
        for (year,), part in frame.filter(pl.col("school_type").is_in(types)).sort("school_id").group_by(
                ["year"], maintain_order=True):
            grid, merges, _ = _sheet_rows(booklet, year, list(part.iter_rows(named=True)), columns)
            path = dest / f"{year}年{booklet}基层表{suffix}"
            (_write_xls if suffix == ".xls" else _write_xlsx)(path, booklet, grid, merges)
            written.append(path)
    return written


def _write_xlsx(path: Path, sheet: str, grid: list, merges: list) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet(sheet[:31])
    merged = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in merges}
    covered = {(r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    fmt = book.add_format({"text_wrap": True, "align": "center", "valign": "vcenter"})
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if (r, c) in merged:
                r1, c1 = merged[(r, c)]
                ws.merge_range(r, c, r1, c1, value, fmt)
            elif (r, c) not in covered and value is not None:
                ws.write(r, c, value)
    book.close()


def _write_xls(path: Path, sheet: str, grid: list, merges: list) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet(sheet[:31])
    merged = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in merges}
    covered = {(r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if (r, c) in merged:
                r1, c1 = merged[(r, c)]
                ws.write_merge(r, r1, c, c1, value)
            elif (r, c) not in covered and value is not None:
                ws.write(r, c, value)
    book.save(str(path))
