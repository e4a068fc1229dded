"""The data contract: input columns of the school table and the published tables.

Names here must not move: statisticians' files are read by these headers (English or
Chinese) and downstream systems read the published Parquet by these column names.
See shared spec/data-contract.md; ``docs/schema.md`` is generated from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

LEVELS = ("primary", "junior")
LEVEL_NAMES_ZH = {"primary": "小学", "junior": "初中", "senior": "高中"}

Kind = Literal["int", "float", "text", "code", "enum", "bool"]
# When a value must be present:
#   always   - every row
#   primary  - rows whose school type has a primary level (blank elsewhere means 0)
#   junior   - rows whose school type has a junior level
#   senior   - rows whose school type has a senior level
#   facility - every row except special-education schools (not assessed)
#   optional - may be blank (null)
Required = Literal["always", "primary", "junior", "senior", "facility", "optional"]


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    kind: Kind
    required: Required
    description: str = ""


SCHOOL_TYPES = ("小学", "初级中学", "九年一贯制学校", "完全中学", "十二年一贯制学校", "小学教学点", "特殊教育学校")
TEACHING_POINT = "小学教学点"
SPECIAL_EDUCATION = "特殊教育学校"
# Levels each school type teaches. Counts for other levels must be blank or 0.
TYPE_LEVELS: dict[str, tuple[str, ...]] = {
    "小学": ("primary",),
    "初级中学": ("junior",),
    "九年一贯制学校": ("primary", "junior"),
    "完全中学": ("junior", "senior"),
    "十二年一贯制学校": ("primary", "junior", "senior"),
    "小学教学点": ("primary",),
    "特殊教育学校": ("primary", "junior"),
}
# Spellings seen in provincial exports, mapped to the contract's code. Anything else is
# quarantined as an unknown type rather than guessed.
SCHOOL_TYPE_ALIASES = {
    "九年一贯制": "九年一贯制学校",
    "十二年一贯制": "十二年一贯制学校",
    "初中": "初级中学",
    "教学点": "小学教学点",
    "特教学校": "特殊教育学校",
    "特殊教育": "特殊教育学校",
}
OWNERSHIPS = ("公办", "民办")
LOCATIONS = ("城区", "镇区", "乡村")
BOOL_TRUE = ("是", "true", "1", "yes", "y", "t")
BOOL_FALSE = ("否", "false", "0", "no", "n", "f")

SCHOOL_COLUMNS: tuple[Column, ...] = (
    Column("year", "学年", "int", "always", "school year starting in September of this year"),
    Column("school_id", "学校标识码", "code", "always", "unique within a year"),
    Column("school_name", "学校名称", "text", "always"),
    Column("province", "省份", "text", "always", "e.g. 贵州省"),
    Column("prefecture", "地市", "text", "optional"),
    Column("county_code", "县区代码", "code", "always", "6-digit administrative code, leading zeros kept"),
    Column("county_name", "县区名称", "text", "always"),
    Column("school_type", "办学类型", "enum", "always", "、".join(SCHOOL_TYPES)),
    Column("ownership", "办学性质", "enum", "always", "公办 or 民办"),
    Column("location", "城乡类型", "enum", "always", "城区, 镇区 or 乡村"),
    Column("parent_school_id", "所属学校标识码", "code", "optional", "teaching points only"),
    Column("boarding", "是否寄宿制", "bool", "optional", "是/否 or true/false"),
    Column("primary_students", "小学在校生数", "int", "primary"),
    Column("junior_students", "初中在校生数", "int", "junior"),
    Column("senior_students", "高中在校生数", "int", "senior", "完全中学, 十二年一贯制 only"),
    Column("primary_classes", "小学班数", "int", "primary"),
    Column("junior_classes", "初中班数", "int", "junior"),
    Column("primary_max_class_size", "小学最大班额", "int", "optional", "largest class"),
    Column("junior_max_class_size", "初中最大班额", "int", "optional", "largest class"),
    Column("primary_teachers", "小学专任教师数", "int", "primary"),
    Column("junior_teachers", "初中专任教师数", "int", "junior"),
    Column("primary_teachers_above_qual", "小学专科及以上学历专任教师数", "int", "primary"),
    Column("junior_teachers_above_qual", "初中本科及以上学历专任教师数", "int", "junior"),
    Column("primary_backbone_teachers", "小学县级以上骨干教师数", "int", "primary"),
    Column("junior_backbone_teachers", "初中县级以上骨干教师数", "int", "junior"),
    Column("primary_pe_arts_teachers", "小学体育艺术专任教师数", "int", "primary", "体育 + 音乐 + 美术"),
    Column("junior_pe_arts_teachers", "初中体育艺术专任教师数", "int", "junior", "体育 + 音乐 + 美术"),
    Column("teaching_aux_area_m2", "教学及辅助用房面积", "float", "facility", "whole school, includes indoor sports rooms"),
    Column("indoor_sports_area_m2", "室内体育用房面积", "float", "facility", "whole school"),
    Column("sports_ground_area_m2", "运动场地面积", "float", "facility", "whole school"),
    Column("equipment_value_10k_yuan", "教学仪器设备资产值（万元）", "float", "facility", "whole school, in 万元"),
    Column("multimedia_classrooms", "网络多媒体教室数", "int", "facility", "whole school"),
    Column("music_rooms", "音乐专用教室数", "int", "optional"),
    Column("art_rooms", "美术专用教室数", "int", "optional"),
    Column("music_room_min_area_m2", "最小音乐专用教室面积", "float", "optional", "blank when no room"),
    Column("art_room_min_area_m2", "最小美术专用教室面积", "float", "optional", "blank when no room"),
    Column("books", "图书册数", "int", "optional", "2012 method"),
    Column("computers", "教学用计算机台数", "int", "optional", "2012 method"),
    Column("teachers_mid_senior_title", "中级及以上职称专任教师数", "int", "optional", "2012 method, whole school"),
)
SCHOOL_COLUMN_BY_NAME = {c.name: c for c in SCHOOL_COLUMNS}

# Count pairs where the first may not exceed the second (a school cannot have more
# qualified teachers than teachers).
SUBSET_PAIRS = (
    ("primary_teachers_above_qual", "primary_teachers"),
    ("junior_teachers_above_qual", "junior_teachers"),
    ("primary_backbone_teachers", "primary_teachers"),
    ("junior_backbone_teachers", "junior_teachers"),
    ("primary_pe_arts_teachers", "primary_teachers"),
    ("junior_pe_arts_teachers", "junior_teachers"),
    ("indoor_sports_area_m2", "teaching_aux_area_m2"),
)


@dataclass(frozen=True)
class Indicator:
    code: str
    zh: str
    unit: str
    unit_zh: str


# The seven resource indicators (资源配置指标), in the order of the official text.
INDICATORS: tuple[Indicator, ...] = (
    Indicator("qualified_teachers_per100", "每百名学生拥有高于规定学历教师数", "teachers / 100 students", "人/百名学生"),
    Indicator("backbone_teachers_per100", "每百名学生拥有县级以上骨干教师数", "teachers / 100 students", "人/百名学生"),
    Indicator("pe_arts_teachers_per100", "每百名学生拥有体育、艺术（美术、音乐）专任教师数", "teachers / 100 students", "人/百名学生"),
    Indicator("teaching_area_per_student", "生均教学及辅助用房面积", "m² / student", "平方米/生"),
    Indicator("sports_area_per_student", "生均体育运动场馆面积", "m² / student", "平方米/生"),
    Indicator("equipment_value_per_student", "生均教学仪器设备值", "yuan / student", "元/生"),
    Indicator("multimedia_rooms_per100", "每百名学生拥有网络多媒体教室数", "rooms / 100 students", "间/百名学生"),
)
INDICATOR_CODES = tuple(i.code for i in INDICATORS)


# ---- published tables -------------------------------------------------------------------


@dataclass(frozen=True)
class OutColumn:
    name: str
    dtype: pl.DataType
    en: str
    zh: str


def _indicator_columns() -> tuple[OutColumn, ...]:
    return tuple(
        OutColumn(i.code, pl.Float64(), f"{i.zh} ({i.unit}); null where undefined", i.zh) for i in INDICATORS
    )


PUBLISHED: dict[str, tuple[OutColumn, ...]] = {
    "school_indicators": (
        OutColumn("year", pl.Int32(), "school year (starts in September)", "学年"),
        OutColumn("province", pl.String(), "province name", "省份"),
        OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
        OutColumn("county_code", pl.String(), "6-digit county code", "县区代码"),
        OutColumn("county_name", pl.String(), "county name", "县区名称"),
        OutColumn("school_id", pl.String(), "school identifier (学校标识码); for a merged teaching point, its parent", "学校标识码"),
        OutColumn("school_name", pl.String(), "school name", "学校名称"),
        OutColumn("school_type", pl.String(), "school type code (办学类型)", "办学类型"),
        OutColumn("ownership", pl.String(), "公办 or 民办", "办学性质"),
        OutColumn("location", pl.String(), "城区, 镇区 or 乡村", "城乡类型"),
        OutColumn("level", pl.String(), "primary | junior", "学段"),
        OutColumn("unit_kind", pl.String(), "school | section | teaching_point", "评估单元类型"),
        OutColumn("students", pl.Int64(), "students of this unit at this level", "在校生数"),
        *_indicator_columns(),
        OutColumn("indicators_met", pl.Int32(), "how many of the seven reach their threshold (0-7)", "达标指标数"),
        OutColumn("lowest_share_of_threshold", pl.Float64(), "the lowest value / threshold among the seven", "最低指标达标比"),
        OutColumn("meets_school_standard", pl.Boolean(), "at least 6 of 7 met and none below 85% of its threshold", "学校达标"),
    ),
    "county_cv": (
        OutColumn("year", pl.Int32(), "school year", "学年"),
        OutColumn("province", pl.String(), "province name", "省份"),
        OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
        OutColumn("county_code", pl.String(), "6-digit county code", "县区代码"),
        OutColumn("county_name", pl.String(), "county name", "县区名称"),
        OutColumn("level", pl.String(), "primary | junior", "学段"),
        OutColumn("indicator", pl.String(), "indicator code", "指标代码"),
        OutColumn("indicator_name", pl.String(), "indicator name as the official text writes it", "指标名称"),
        OutColumn("county_value", pl.Float64(), "X̄ = Σ resource / Σ students (the county aggregate ratio)", "县域均值"),
        OutColumn("cv", pl.Float64(), "enrolment-weighted variation coefficient, full precision; null where undefined", "差异系数"),
        OutColumn("cv_rounded", pl.Float64(), "cv rounded to 3 decimals, as reports print it", "差异系数（三位小数）"),
        OutColumn("cv_threshold", pl.Float64(), "ceiling: 0.50 primary, 0.45 junior (national default)", "差异系数标准"),
        OutColumn("cv_meets", pl.Boolean(), "cv ≤ cv_threshold, compared at full precision; null where cv is undefined", "差异系数达标"),
        OutColumn("near_threshold", pl.Boolean(), "cv within ±0.0005 of its ceiling", "临界值"),
        OutColumn("cv_undefined_reason", pl.String(), "why cv is null (county_value_zero)", "差异系数无法计算原因"),
        OutColumn("threshold_rule", pl.String(), "rule that set cv_threshold: national or the province", "标准来源"),
        OutColumn("units", pl.Int32(), "assessment units at this level with a value", "评估单元数"),
        OutColumn("students", pl.Int64(), "students in those units", "在校生数"),
    ),
}

QUARANTINE_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("source_file", pl.String(), "file the row came from", "文件"),
    OutColumn("source_sheet", pl.String(), "worksheet (Excel only)", "工作表"),
    OutColumn("source_row", pl.Int64(), "row number as a spreadsheet shows it (header rows counted)", "行号"),
    OutColumn("year", pl.Int32(), "year of the row, where it could be read", "学年"),
    OutColumn("school_id", pl.String(), "school identifier as found", "学校标识码"),
    OutColumn("column", pl.String(), "contract column name", "列名"),
    OutColumn("column_zh", pl.String(), "Chinese header of that column", "中文列名"),
    OutColumn("value", pl.String(), "the value found", "发现的值"),
    OutColumn("rule", pl.String(), "code of the rule broken", "规则代码"),
    OutColumn("reason_zh", pl.String(), "what is wrong and what to do, in Chinese", "问题说明"),
    OutColumn("reason_en", pl.String(), "what is wrong and what to do, in English", "Problem (English)"),
)
