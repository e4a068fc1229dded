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
# The school years the pipeline assesses: staging accepts them and Dagster partitions by them.
FIRST_YEAR, LAST_YEAR = 2012, 2035
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
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
    max_value: float | None = None  # inclusive upper bound (percentages: 100)
    min_value: float = 0.0


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
PRIVATE = "民办"
OWNERSHIPS = ("公办", PRIVATE)
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

# ---- the county table (县级补充表): what the statistics lack ------------------------------------
# Percentages are 0-100. Yes/no items take 是/否 (or true/false, 1/0); a blank is "no data",
# which makes the item insufficient_data, never a pass.


def _pct(name: str, zh: str, description: str = "") -> Column:
    return Column(name, zh, "float", "optional", description or "percent, 0-100", max_value=100.0)


def _yes(name: str, zh: str, description: str = "") -> Column:
    return Column(name, zh, "bool", "optional", description or "是/否")


COUNTY_COLUMNS: tuple[Column, ...] = (
    Column("year", "学年", "int", "always", "school year starting in September of this year"),
    Column("county_code", "县区代码", "code", "always", "6-digit administrative code"),
    Column("county_name", "县区名称", "text", "optional"),
    Column("province", "省份", "text", "optional"),
    # government assurance (政府保障程度)
    _yes("layout_planning_ok", "学校布局规划符合要求", "school layout planning fits national rules"),
    _yes("urban_rural_standards_unified", "城乡学校建设编制经费装备标准统一",
         "urban and rural standards unified (building, staffing, funding, equipment)"),
    _yes("small_schools_funded_as_100", "不足100人的村小和教学点按100人拨付公用经费",
         "village schools and teaching points under 100 students funded as if 100"),
    Column("special_education_funding_per_student_yuan", "特殊教育学校生均公用经费（元）", "float", "optional",
           "public funding per special-education student, yuan"),
    Column("teacher_avg_pay_yuan", "教师平均工资收入（元）", "float", "optional", "teachers' average pay, yuan a year"),
    Column("civil_servant_avg_pay_yuan", "当地公务员平均工资收入（元）", "float", "optional",
           "local civil servants' average pay, yuan a year"),
    _pct("training_360h_completion_pct", "教师5年360学时培训完成率（%）"),
    _yes("staffing_allocated_county_wide", "县域内统筹分配教师编制"),
    _pct("rotation_share_pct", "交流轮岗教师占符合条件教师比例（%）"),
    _pct("rotation_backbone_share_pct", "交流轮岗教师中骨干教师比例（%）"),
    _pct("certified_teachers_pct", "专任教师持证上岗率（%）"),
    _pct("nearby_enrolment_primary_pct", "城区和镇区公办小学就近入学比例（%）"),
    _pct("nearby_enrolment_junior_pct", "城区和镇区公办初中就近入学比例（%）"),
    _pct("quota_allocation_pct", "优质高中招生名额分配到初中比例（%）"),
    _pct("migrant_children_public_pct", "随迁子女在公办学校和政府购买服务的民办学校就读比例（%）"),
    _yes("left_behind_care_system", "建立留守儿童关爱体系"),
    # education quality (教育质量)
    _pct("junior_retention_pct", "初中三年巩固率（%）"),
    _pct("disabled_enrolment_pct", "残疾儿童少年入学率（%）"),
    _pct("training_budget_share_pct", "教师培训经费占公用经费比例（%，取最低的学校）",
         "lowest school's teacher-training share of its public-funds budget, percent"),
    Column("monitoring_min_level", "国家义务教育质量监测最低学科水平（1-4）", "int", "optional",
           "lowest subject level in national quality monitoring, 1 (Ⅰ) to 4 (Ⅳ)", max_value=4.0, min_value=1.0),
    Column("monitoring_school_gap_rate", "国家义务教育质量监测校际差异率", "float", "optional",
           "inter-school difference rate in national quality monitoring, 0-1", max_value=1.0),
    _yes("charters_and_ict_management", "学校章程与信息化管理"),
    _yes("teachers_use_ict", "教师能熟练运用信息化手段组织教学"),
    _yes("moral_education_good", "德育工作和校园文化建设水平达到良好以上"),
    _yes("full_curriculum", "课程开齐开足"),
    _yes("homework_burden_ok", "无过重课业负担"),
    # recognition (社会认可度)
    _pct("satisfaction_pct", "社会认可度调查满意度（%）"),
    # prerequisite and vetoes (前提与一票否决)
    Column("basic_balance_year", "通过基本均衡国家认定年份", "int", "optional", "year basic balance was recognised",
           max_value=2100.0, min_value=2000.0),
    _yes("veto_exam_admission", "存在考试招生（一票否决）", "是 means the county admits by examination"),
    _yes("veto_illegal_school_choice", "存在违规择校（一票否决）", "是 means illegal school choice was found"),
    _yes("veto_key_schools_classes", "设置重点校或重点班（一票否决）", "是 means key schools or classes exist"),
    Column("evidence_note", "佐证说明", "text", "optional", "evidence for the yes/no items"),
)


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
    short: str = ""           # a few characters, for chart labels


# The seven resource indicators (资源配置指标), in the order of the official text.
INDICATORS: tuple[Indicator, ...] = (
    Indicator("qualified_teachers_per100", "每百名学生拥有高于规定学历教师数", "teachers / 100 students", "人/百名学生", "高学历教师"),
    Indicator("backbone_teachers_per100", "每百名学生拥有县级以上骨干教师数", "teachers / 100 students", "人/百名学生", "骨干教师"),
    Indicator("pe_arts_teachers_per100", "每百名学生拥有体育、艺术（美术、音乐）专任教师数", "teachers / 100 students", "人/百名学生", "体艺教师"),
    Indicator("teaching_area_per_student", "生均教学及辅助用房面积", "m² / student", "平方米/生", "教学用房"),
    Indicator("sports_area_per_student", "生均体育运动场馆面积", "m² / student", "平方米/生", "体育场馆"),
    Indicator("equipment_value_per_student", "生均教学仪器设备值", "yuan / student", "元/生", "仪器设备"),
    Indicator("multimedia_rooms_per100", "每百名学生拥有网络多媒体教室数", "rooms / 100 students", "间/百名学生", "多媒体教室"),
)
INDICATOR_CODES = tuple(i.code for i in INDICATORS)
QUALITY_METHOD, BASIC_METHOD = "quality_2017", "basic_2012"
# The national plan's checkpoints (2027 initial system, 2030 provinces' targets, 2035 the vast
# majority): county_progress has an on_track column for each, and the dashboards show them.
CHECKPOINT_YEARS = (2027, 2030, 2035)


@dataclass(frozen=True)
class Resource:
    """What a school adds to raise one of the seven: the numerator of the indicator.

    ``column`` is the unit's total in ``school_units``; the indicator is
    ``per × column / students`` (the formula itself is in sql/intermediate/unit_indicators.sql,
    and a test checks the two agree). ``whole_at`` says where the amount must be a whole
    number: ``section`` for teachers (the statistics count them per section), ``school`` for
    rooms (a combined school's rooms are shared between its sections), empty for areas and
    yuan.
    """

    indicator: str
    zh: str                   # what is added, as a plan names it
    column: str
    per: float
    unit_zh: str
    unit_en: str
    whole_at: str | None
    facility: bool            # a whole-school figure shared between sections
    en: str                   # what is added, in English
    added: str                # county_plan's column of the county's total addition


RESOURCES: tuple[Resource, ...] = (
    Resource("qualified_teachers_per100", "高于规定学历的专任教师", "qualified_teachers", 100.0, "名", "teachers",
             "section", False, "teachers above the required qualification", "qualified_teachers_added"),
    Resource("backbone_teachers_per100", "县级以上骨干教师", "backbone_teachers", 100.0, "名", "teachers", "section", False,
             "county-level or higher backbone teachers", "backbone_teachers_added"),
    Resource("pe_arts_teachers_per100", "体育艺术专任教师", "pe_arts_teachers", 100.0, "名", "teachers", "section", False,
             "PE and arts teachers", "pe_arts_teachers_added"),
    Resource("teaching_area_per_student", "教学及辅助用房", "teaching_area_m2", 1.0, "平方米", "m²", None, True,
             "teaching and auxiliary space", "teaching_area_added_m2"),
    Resource("sports_area_per_student", "体育运动场馆", "sports_area_m2", 1.0, "平方米", "m²", None, True,
             "sports ground and halls", "sports_area_added_m2"),
    Resource("equipment_value_per_student", "教学仪器设备", "equipment_value_yuan", 1.0, "元", "yuan", None, True,
             "teaching equipment", "equipment_added_yuan"),
    Resource("multimedia_rooms_per100", "网络多媒体教室", "multimedia_rooms", 100.0, "间", "rooms", "school", True,
             "multimedia classrooms", "multimedia_rooms_added"),
)

# The eight indicators of basic balance (基本均衡, 教督〔2012〕3号). Per-student and per-100
# forms give the same CV (it is scale-free), so the per-100 forms are used for head counts.
BASIC_INDICATORS: tuple[Indicator, ...] = (
    Indicator("teaching_area_per_student", "生均教学及辅助用房面积", "m² / student", "平方米/生"),
    Indicator("sports_area_per_student", "生均体育运动场馆面积", "m² / student", "平方米/生"),
    Indicator("equipment_value_per_student", "生均教学仪器设备值", "yuan / student", "元/生"),
    Indicator("computers_per100", "每百名学生拥有计算机台数", "computers / 100 students", "台/百名学生"),
    Indicator("books_per_student", "生均图书册数", "books / student", "册/生"),
    Indicator("teachers_per100", "师生比（每百名学生专任教师数）", "teachers / 100 students", "人/百名学生"),
    Indicator("qualified_teachers_per100", "生均高于规定学历教师数（每百名学生）", "teachers / 100 students", "人/百名学生"),
    Indicator("mid_senior_title_teachers_per100", "生均中级及以上专业技术职务教师数（每百名学生）",
              "teachers / 100 students", "人/百名学生"),
)


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
        OutColumn("meets_school_standard", pl.Boolean(), "the province's school rule: at least min_indicators_met of the seven met, none below "
                  "floor_share of its threshold (reference/indicator_thresholds)", "学校达标"),
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
        OutColumn("units_quarantined", pl.Int32(),
                  "units of this county and level left out because their rows were quarantined; > 0 makes the "
                  "CV's verdict insufficient_data in county_items", "被隔离而未计入的评估单元数"),
    ),
}

_COUNTY_KEYS = (
    OutColumn("year", pl.Int32(), "school year", "学年"),
    OutColumn("province", pl.String(), "province name", "省份"),
    OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
    OutColumn("county_code", pl.String(), "6-digit county code", "县区代码"),
    OutColumn("county_name", pl.String(), "county name", "县区名称"),
)

PUBLISHED.update({
    "county_scorecard": (
        *_COUNTY_KEYS,
        OutColumn("resource_ok", pl.Boolean(), "every unit meets the school rule and all 14 CVs pass; null if undecidable", "资源配置达标"),
        OutColumn("government_ok", pl.Boolean(), "all government-assurance items pass; null where inputs are missing", "政府保障程度达标"),
        OutColumn("quality_ok", pl.Boolean(), "all education-quality items pass; null where inputs are missing", "教育质量达标"),
        OutColumn("recognition_ok", pl.Boolean(), "satisfaction at or above the province's threshold (85% nationally); null where missing", "社会认可度达标"),
        OutColumn("prerequisite_ok", pl.Boolean(), "basic balance recognised ≥ 3 years earlier; null where missing", "基本均衡认定满3年"),
        OutColumn("vetoed", pl.Boolean(), "a one-vote veto is set; null where the veto inputs are missing", "一票否决"),
        OutColumn("status", pl.String(), "quality_balanced | not_yet | insufficient_data", "评估结论"),
        OutColumn("units_primary", pl.Int32(), "primary assessment units", "小学评估单元数"),
        OutColumn("units_junior", pl.Int32(), "junior assessment units", "初中评估单元数"),
        OutColumn("units_meeting_standard_share", pl.Float64(), "share of units meeting the school rule (0-1)", "达标评估单元比例"),
        OutColumn("worst_cv_primary", pl.Float64(), "highest of the 7 primary CVs", "小学最高差异系数"),
        OutColumn("worst_cv_junior", pl.Float64(), "highest of the 7 junior CVs", "初中最高差异系数"),
        OutColumn("failing_items", pl.List(pl.String()), "codes of the items that fail (see county_items)", "未达标项目"),
        OutColumn("insufficient_items", pl.List(pl.String()), "codes of the items without data", "缺少数据的项目"),
        OutColumn("schools_in_file", pl.Int32(), "rows of this county in the school table (staged + quarantined)",
                  "学校表中的学校数"),
        OutColumn("schools_assessed", pl.Int32(), "schools that are, or are merged into, an assessment unit",
                  "参加评估的学校数"),
        OutColumn("schools_excluded_by_policy", pl.Int32(),
                  "schools a rule leaves out (special education, 民办 switch, small teaching points)", "按规定不参评的学校数"),
        OutColumn("schools_quarantined", pl.Int32(),
                  "rows set aside for errors (see quarantine_report.xlsx); > 0 means resource_ok is never true",
                  "数据有误被隔离的学校数"),
        OutColumn("quarantined_schools", pl.List(pl.String()), "the quarantined schools: name（school id）",
                  "被隔离的学校"),
    ),
    "county_items": (
        *_COUNTY_KEYS,
        OutColumn("area", pl.String(), "resource | government | quality | recognition | prerequisite | veto", "评估方面"),
        OutColumn("item", pl.String(), "item code", "项目代码"),
        OutColumn("item_name", pl.String(), "item as the official text writes it", "项目名称"),
        OutColumn("value", pl.Float64(), "the county's value (yes/no as 1/0); null where missing", "县域数值"),
        OutColumn("op", pl.String(), "comparison: >= <= < yes no", "比较方式"),
        OutColumn("threshold", pl.Float64(), "threshold in force", "标准值"),
        OutColumn("unit", pl.String(), "unit of value and threshold", "单位"),
        OutColumn("rule", pl.String(), "rule that set the threshold: national or the province", "标准来源"),
        OutColumn("verdict", pl.String(), "pass | fail | insufficient_data", "判定"),
        OutColumn("slope_per_year", pl.Float64(), "trend of value per year over the years present", "年均变化"),
        OutColumn("projected_pass_year", pl.Int32(), "year a failing item would pass at its current pace", "预计达标年份"),
        OutColumn("trend_note", pl.String(), "passes | improving | not_improving | qualitative | one_year_only | insufficient_data", "趋势说明"),
    ),
    "county_progress": (
        *_COUNTY_KEYS,
        OutColumn("status", pl.String(), "as in county_scorecard", "评估结论"),
        OutColumn("items_failing", pl.Int32(), "items that fail", "未达标项目数"),
        OutColumn("items_insufficient", pl.Int32(), "items without data", "缺少数据项目数"),
        OutColumn("projected_year", pl.Int32(), "year the county would pass at its current pace; null if never", "预计达到优质均衡年份"),
        OutColumn("projection_note", pl.String(), "how the projection was reached, or why there is none", "预测说明"),
        *(OutColumn(f"on_track_{y}", pl.Boolean(), f"passes by {y} at the current pace", f"{y}年能否达标")
          for y in CHECKPOINT_YEARS),
    ),
    "province_progress": (
        OutColumn("year", pl.Int32(), "school year", "学年"),
        OutColumn("province", pl.String(), "province name", "省份"),
        OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
        OutColumn("counties", pl.Int32(), "counties assessed", "县数"),
        OutColumn("counties_quality_balanced", pl.Int32(), "counties with status quality_balanced", "达到优质均衡县数"),
        OutColumn("counties_insufficient_data", pl.Int32(), "counties that cannot be judged", "数据不足县数"),
        OutColumn("share_quality_balanced", pl.Float64(), "counties_quality_balanced / counties (0-1)", "优质均衡县比例"),
        OutColumn("next_milestone_year", pl.Int32(), "year of the next share-of-counties target", "下一目标年份"),
        OutColumn("next_milestone_target_share", pl.Float64(), "its target share (0-1)", "下一目标比例"),
        OutColumn("next_milestone_text", pl.String(), "the target as the document words it", "目标原文"),
        OutColumn("next_milestone_jurisdiction", pl.String(), "province code, or national when the province sets none", "目标来源"),
        OutColumn("target_is_assumption", pl.Boolean(), "target read from 绝大多数 (default 90%, configurable)", "目标比例为假设"),
        OutColumn("share_per_year", pl.Float64(), "change of the share per year over the years present", "年均变化"),
        OutColumn("projected_share_at_milestone", pl.Float64(), "share expected at the milestone year at this pace", "目标年份预计比例"),
        OutColumn("on_track", pl.Boolean(), "projected share reaches the target", "能否按期达标"),
    ),
    "county_basic_balance": (
        *_COUNTY_KEYS,
        OutColumn("level", pl.String(), "primary | junior", "学段"),
        *[OutColumn(f"cv_{i.code}", pl.Float64(), f"CV of {i.zh}", f"{i.zh}差异系数") for i in BASIC_INDICATORS],
        OutColumn("indicators_with_cv", pl.Int32(), "how many of the eight have a CV", "可计算指标数"),
        OutColumn("composite_cv", pl.Float64(), "综合差异系数: plain mean of the eight; null if any is missing", "综合差异系数"),
        OutColumn("composite_threshold", pl.Float64(), "0.65 primary, 0.55 junior (2012 method)", "综合差异系数标准"),
        OutColumn("composite_meets", pl.Boolean(), "composite ≤ threshold", "基本均衡达标"),
        OutColumn("units", pl.Int32(), "assessment units", "评估单元数"),
    ),
})


# ---- the plan to pass (达标方案) ------------------------------------------------------------

_UNIT_KEYS = (
    *_COUNTY_KEYS,
    OutColumn("school_id", pl.String(), "school identifier (学校标识码)", "学校标识码"),
    OutColumn("school_name", pl.String(), "school name", "学校名称"),
    OutColumn("level", pl.String(), "primary | junior", "学段"),
)
_PLAN_AMOUNTS = (
    OutColumn("teachers_added", pl.Float64(), "teachers added, all three teacher indicators (whole teachers)",
              "新增教师（人）"),
    # each resource's total: a teacher indicator's as part of teachers_added, a facility's once per school
    *(OutColumn(r.added, pl.Float64(), f"{r.en} added, {r.unit_en} (once per school)", f"新增{r.zh}（{r.unit_zh}）")
      if r.facility else OutColumn(r.added, pl.Float64(), f"of which {r.en}", f"其中：{r.zh}") for r in RESOURCES),
)

PUBLISHED.update({
    "unit_gaps": (
        *_UNIT_KEYS,
        OutColumn("students", pl.Int64(), "students of the unit at this level", "在校生数"),
        OutColumn("indicator", pl.String(), "indicator code", "指标代码"),
        OutColumn("value", pl.Float64(), "the indicator now", "指标值"),
        OutColumn("threshold", pl.Float64(), "its threshold", "标准值"),
        OutColumn("floor_value", pl.Float64(), "the least the one missed indicator may have: the threshold × the "
                  "province's floor_share (85% nationally)", "最低值（标准×本省最低比例，全国为85%）"),
        OutColumn("current_amount", pl.Float64(), "what the unit has, in add_unit", "现有数量"),
        OutColumn("add_to_threshold", pl.Float64(),
                  "to add to reach the threshold, in add_unit (whole teachers and rooms; m² and yuan to 0.01); 0 when met",
                  "达到标准需增加"),
        OutColumn("add_to_floor", pl.Float64(), "to add to reach floor_value; 0 when reached", "达到最低值需增加"),
        OutColumn("add_unit", pl.String(), "teachers | m² | yuan | rooms", "单位"),
        OutColumn("add_unit_zh", pl.String(), "名 | 平方米 | 元 | 间", "单位（中文）"),
    ),
    "unit_plan": (
        *_UNIT_KEYS,
        OutColumn("unit_kind", pl.String(), "school | section | teaching_point", "评估单元类型"),
        OutColumn("indicator", pl.String(), "indicator code", "指标代码"),
        OutColumn("students", pl.Int64(), "students of the unit at this level (unchanged by the plan)", "在校生数"),
        OutColumn("value_now", pl.Float64(), "the indicator now", "现值"),
        OutColumn("value_planned", pl.Float64(), "the indicator after the plan", "方案实施后"),
        OutColumn("add_amount", pl.Float64(), "what the unit's own figure rises by, in add_unit", "本单元增加"),
        OutColumn("add_unit", pl.String(), "teachers | m² | yuan | rooms", "单位"),
        OutColumn("school_add_amount", pl.Float64(),
                  "what the whole school adds to its statistics form: for a section's facilities, add_amount / "
                  "facility_share (the school's figure is shared between sections by weighted enrolment); for "
                  "teachers, add_amount", "全校需增加（填报口径）"),
        OutColumn("facility_share", pl.Float64(), "this section's share of its school's facilities (1 for a one-level school)",
                  "本学段分摊比例"),
        OutColumn("cost_yuan", pl.Float64(),
                  "yuan: capital once, or recurring per year (cost_kind); a school's facility is paid once, its cost "
                  "shared between the sections that receive it", "费用（元）"),
        OutColumn("cost_kind", pl.String(), "capital | recurring_per_year", "费用类型"),
        OutColumn("cost_is_assumption", pl.Boolean(), "the unit cost is an assumption (see policy [plan.costs])", "单价为假设"),
        OutColumn("reason", pl.String(),
                  "school_rule: to meet the school rule; cv: to bring a CV under its ceiling (water-filling)", "原因"),
        OutColumn("proven_cheapest", pl.Boolean(), "the county's plan before rounding is proven the cheapest", "已证明最省"),
        OutColumn("cheapest_within", pl.Float64(),
                  "the plan before rounding costs at most this share more than the cheapest (0 when proven)",
                  "与最省方案的最大差距"),
        OutColumn("plan_passes", pl.Boolean(), "after the whole plan the county's resource part passes", "方案实施后达标"),
    ),
    "county_plan": (
        *_COUNTY_KEYS,
        OutColumn("status", pl.String(), "as in county_scorecard", "评估结论"),
        OutColumn("feasible", pl.Boolean(),
                  "the plan brings the resource part to pass (false when a unit lacks a value)", "资源配置可达标"),
        OutColumn("proven_cheapest", pl.Boolean(),
                  "the plan before rounding is proven the cheapest (exhaustive search); false: the cheapest found",
                  "已证明最省"),
        OutColumn("cheapest_within", pl.Float64(),
                  "when not proven: the plan before rounding costs at most this share more than the cheapest "
                  "(a lower bound on every choice); 0 when proven", "与最省方案的最大差距"),
        OutColumn("units_changed", pl.Int32(), "assessment units the plan adds to", "涉及评估单元数"),
        *_PLAN_AMOUNTS,
        OutColumn("capital_cost_yuan", pl.Float64(), "one-off cost, yuan (buildings, grounds, equipment, rooms)", "一次性投入（元）"),
        OutColumn("recurring_cost_yuan_per_year", pl.Float64(), "recurring cost per year, yuan (teachers)", "每年经常性支出（元）"),
        OutColumn("costs_include_assumptions", pl.Boolean(), "some unit cost used is an assumption", "单价含假设"),
        OutColumn("choice_weight", pl.Float64(),
                  "capital + recurring × recurring_years_for_choice: ranks plans, not a cost to report", "排序权重"),
        OutColumn("non_resource_failing_items", pl.List(pl.String()),
                  "items no resource addition fixes: failing or without data outside the school rule and CVs",
                  "资源投入解决不了的项目"),
        OutColumn("non_resource_failing_item_names", pl.List(pl.String()), "their names", "项目名称"),
        OutColumn("reachable_by_resources", pl.Boolean(), "feasible and nothing else fails", "只差资源配置"),
    ),
    "province_plan": (
        OutColumn("year", pl.Int32(), "school year", "学年"),
        OutColumn("province", pl.String(), "province name", "省份"),
        OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
        OutColumn("milestone_year", pl.Int32(), "the next milestone year", "目标年份"),
        OutColumn("target_share", pl.Float64(), "its target share of counties (0-1)", "目标比例"),
        OutColumn("target_is_assumption", pl.Boolean(), "target read from 绝大多数 (configurable)", "目标比例为假设"),
        OutColumn("counties", pl.Int32(), "counties assessed", "县数"),
        OutColumn("counties_quality_balanced", pl.Int32(), "counties at 优质均衡 now", "已达标县数"),
        OutColumn("counties_needed", pl.Int32(), "more counties that must pass to reach the target", "还需达标县数"),
        OutColumn("counties_reachable", pl.Int32(), "not-yet counties whose only failing items are resources", "只差资源配置的县数"),
        OutColumn("counties_blocked", pl.Int32(), "not-yet counties with items resources cannot fix", "有其他未达标项目的县数"),
        OutColumn("reachable", pl.Boolean(), "enough reachable counties to meet the target", "能否靠资源投入达到目标"),
        OutColumn("cheapest_set", pl.List(pl.String()), "county codes of the cheapest set; null when not reachable",
                  "投入最少的一组县"),
        OutColumn("cheapest_set_capital_cost_yuan", pl.Float64(), "its one-off cost, yuan", "一次性投入（元）"),
        OutColumn("cheapest_set_recurring_cost_yuan_per_year", pl.Float64(), "its recurring cost per year, yuan",
                  "每年经常性支出（元）"),
        OutColumn("note", pl.String(), "the answer in one sentence", "说明"),
    ),
})


QUARANTINE_COLUMNS: tuple[OutColumn, ...] = (
    OutColumn("table_name", pl.String(), "schools or counties", "数据表"),
    OutColumn("severity", pl.String(), "error: the row is set aside (quarantined); warning: the row is used, check it",
              "严重程度"),
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


# The policy in force, published beside the tables (reference/<name>.parquet, written whole by
# every run): what the dashboards compare with and what a reader needs to check a verdict.
REFERENCE: dict[str, tuple[OutColumn, ...]] = {
    "indicator_thresholds": (
        OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
        OutColumn("level", pl.String(), "primary | junior", "学段"),
        OutColumn("indicator", pl.String(), "indicator code", "指标代码"),
        OutColumn("threshold", pl.Float64(), "the standard a unit's value is compared with", "指标标准"),
        OutColumn("threshold_rule", pl.String(), "rule that set threshold: national or the province", "标准来源"),
        OutColumn("cv_threshold", pl.Float64(), "the county CV ceiling at this level", "差异系数标准"),
        OutColumn("cv_threshold_rule", pl.String(), "rule that set cv_threshold: national or the province",
                  "差异系数标准来源"),
        OutColumn("floor_share", pl.Float64(), "the school rule's floor as a share of the threshold (0.85)",
                  "最低达标比例"),
        OutColumn("floor_value", pl.Float64(), "floor_share × threshold: no indicator of a passing unit is below it",
                  "最低值"),
        OutColumn("relative_tolerance", pl.Float64(),
                  "relative tolerance of ≥ and ≤ against a standard, so that a value equal to it in decimal "
                  "is not failed by binary rounding",
                  "比较容差"),
        OutColumn("min_indicators_met", pl.Int32(),
                  "the school rule: how many of the seven a unit must meet (the others at floor_share or more)",
                  "学校达标须达标的指标数"),
    ),
    "milestones": (
        OutColumn("jurisdiction", pl.String(), "2-digit province code, or national", "范围（省级代码或全国）"),
        OutColumn("year", pl.Int32(), "target year; null for a target without a year", "目标年份"),
        OutColumn("kind", pl.String(), "share_of_counties | share_of_schools | qualitative", "目标类型"),
        OutColumn("target_share", pl.Float64(), "target as a share 0-1; null for a qualitative target", "目标比例"),
        OutColumn("target_words", pl.String(), "the words of the text where it gives no number (绝大多数)", "原文表述"),
        OutColumn("target_is_assumption", pl.Boolean(), "target_share is read into words that give no number",
                  "目标比例为假设"),
        OutColumn("text", pl.String(), "the target as the document states it", "目标原文"),
        OutColumn("source", pl.String(), "the document", "文件出处"),
    ),
    "plan_costs": (
        OutColumn("province_code", pl.String(), "2-digit province code", "省级代码"),
        OutColumn("indicator", pl.String(), "indicator code the addition raises", "指标代码"),
        OutColumn("add_unit_zh", pl.String(), "unit of an addition, in Chinese (名, 平方米, 元, 间)", "新增单位"),
        OutColumn("add_unit", pl.String(), "unit of an addition (teachers, m², yuan, rooms)", "新增单位（英文）"),
        OutColumn("step", pl.Float64(), "additions are made in whole steps of this size", "最小新增量"),
        OutColumn("cost_key", pl.String(), "code of the unit cost in the policy file", "单位成本代码"),
        OutColumn("cost_name", pl.String(), "name of the unit cost", "单位成本名称"),
        OutColumn("yuan_per_unit", pl.Float64(), "cost of one add_unit, yuan", "单位成本（元）"),
        OutColumn("cost_kind", pl.String(), "capital (one-off) | recurring_per_year", "成本类型"),
        OutColumn("cost_source", pl.String(), "where the figure comes from, or why it is assumed", "成本依据"),
        OutColumn("cost_assumption", pl.Boolean(), "the figure is an assumption to replace with a local one",
                  "成本为假设值"),
        OutColumn("cost_rule", pl.String(), "rule that set yuan_per_unit: national or the province", "成本来源"),
        OutColumn("recurring_years_for_choice", pl.Float64(),
                  "years of a recurring cost counted when the plan weighs it against a one-off one",
                  "比较方案时经常性支出计算年数"),
    ),
}
