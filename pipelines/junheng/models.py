"""The registry of SQL models: the one place that says which models exist, in which order they
run, what each reads, its keys, its checks and whether it is published.

The Dagster assets (:mod:`junheng.assets`), the test helpers, the benchmark and the published
list are all derived from ``MODELS``; a model added here appears everywhere at once.

Each model is one SQL file ``sql/**/<name>.sql`` (a ``SELECT``) written to the table of the
same name (one Parquet file per year beside a warehouse file: :func:`junheng.warehouse.replace_year`),
or defined as a view of that name, where computing it when read is cheaper than storing it
(``view``), or, where the work is a search rather than a query (the plan to pass), a Python
function named by ``python`` that returns the year's rows:
  scope ``year``       one school year at a time (the year in ``getvariable('run_year')``),
                       partitioned by year in Dagster;
  scope ``all_years``  every year at once, after the yearly models: roll-ups whose rows for a
                       year read earlier years (trends, pace), so no result depends on which
                       year happened to run first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from junheng.contract import CHECKPOINT_YEARS

# Tables made in Python before the models run, by the ingest assets named here.
SOURCES = {
    "stg_schools": "stg_schools", "quarantined_schools": "stg_schools",
    "stg_counties": "stg_counties", "stg_county_inputs": "stg_counties",
    "policy_province": "policy_tables", "policy_level_thresholds": "policy_tables",
    "policy_split_weights": "policy_tables", "policy_items": "policy_tables", "policy_milestones": "policy_tables",
    "policy_plan_costs": "policy_tables",
    "dim_indicators": "policy_tables", "dim_school_type_levels": "policy_tables", "dim_provinces": "policy_tables",
}


@dataclass(frozen=True)
class Check:
    """A blocking check on a model: ``sql`` returns one row (passed, text) for the run year."""

    name: str
    description: str
    sql: str


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    upstream: tuple[str, ...]          # models and source tables it reads
    keys: tuple[str, ...]              # unique within the table
    scope: Literal["year", "all_years"] = "year"
    published: bool = False            # written as Parquet (<name>/year=YYYY/part-0.parquet)
    expectations: bool = False         # a Great Expectations suite expectations/<name>.json
    may_be_empty: bool = False
    checks: tuple[Check, ...] = field(default_factory=tuple)
    python: str | None = None          # "module:function" (con, year) -> polars frame, instead of SQL
    view: bool = False                 # a view over its upstream, not stored (every reader filters the year)

    @property
    def asset_upstream(self) -> tuple[str, ...]:
        """The upstream as Dagster asset names (source tables map to the asset that makes them)."""
        return tuple(dict.fromkeys(SOURCES.get(u, u) for u in self.upstream))


Y = "getvariable('run_year')"

MODELS: tuple[Model, ...] = (
    Model("school_units",
          "评估单元：学校分学段（九年一贯制等按加权在校生分摊校舍、设备），教学点与排除规则。"
          " Assessment units: school sections and teaching points, with the facility split.",
          ("stg_schools", "policy_province", "policy_split_weights"), ("year", "school_id", "level")),
    Model("unit_exclusions",
          "不参加评估的学校及原因。 Schools left out of the seven indicators, or folded into another unit, and why.",
          ("stg_schools", "policy_province", "school_units"), ("year", "school_id", "reason"), may_be_empty=True),
    Model("county_completeness",
          "各县数据完整性：学校表中的学校、参评、按规定不参评、被隔离。"
          " How complete each county's data are: schools in the file, assessed, excluded by policy, quarantined.",
          ("stg_schools", "quarantined_schools", "unit_exclusions", "dim_school_type_levels"),
          ("year", "county_code")),
    Model("unit_indicators",
          "每个评估单元的各项指标（优质均衡七项与基本均衡八项），每项一列。"
          " Every indicator of every unit, one column each (the seven of 2017 and the eight of 2012).",
          ("school_units",), ("year", "school_id", "level"), view=True),
    Model("school_indicators",
          "学校资源配置七项指标及达标判定（按本省的学校达标规则，见 [resource.school_rule]）。"
          " The seven resource indicators per unit and the school rule ([resource.school_rule] of the province).",
          ("unit_indicators", "school_units", "policy_level_thresholds", "policy_province"),
          ("year", "county_code", "school_id", "level"),
          published=True, expectations=True,
          checks=(Check("one_row_per_unit", "as many rows as school_units",
                        f"select (select count(*) from school_units where year = {Y}) = "
                        f"(select count(*) from school_indicators where year = {Y}), "
                        f"(select count(*) from school_indicators where year = {Y}) || ' rows for ' || "
                        f"(select count(*) from school_units where year = {Y}) || ' units'"),)),
    Model("county_variation",
          "差异系数（按在校生加权，总体形式）：每县 × 学段 × 方法 × 指标。公式只写在 sql/intermediate/county_variation.sql。"
          " The enrolment-weighted variation coefficient of every county, level, method and indicator.",
          ("unit_indicators", "school_units", "dim_indicators"), ("year", "county_code", "level", "method", "indicator"),
          checks=(Check("cv_units_reconcile", "units in the CVs equal the unit values, method by method",
                        f"with v as (unpivot (select * from unit_indicators where year = {Y}) "
                        f"on columns(* exclude (year, province_code, county_code, school_id, level, students)) "
                        f"into name indicator value value), "
                        f"expected as (select count(*) as n from v join dim_indicators d using (indicator)), "
                        f"got as (select coalesce(sum(units), 0) as n from county_variation where year = {Y}) "
                        f"select expected.n = got.n, got.n || ' unit values in CVs, ' || expected.n || "
                        f"' in the indicators' from expected, got"),)),
    Model("county_cv",
          "优质均衡14项差异系数，与本省的差异系数标准比较（全国：小学 0.50、初中 0.45）。"
          " The 14 CVs of quality balance against their province's ceilings.",
          ("county_variation", "county_completeness", "policy_level_thresholds", "policy_province", "dim_indicators"),
          ("year", "county_code", "level", "indicator"), published=True, expectations=True,
          checks=(Check("cv_undefined_explained", "every null cv carries a reason",
                        f"select count(*) = 0, count(*) || ' null cv without a reason' from county_cv "
                        f"where year = {Y} and cv is null and cv_undefined_reason is null"),)),
    Model("county_basic_balance",
          "基本均衡（2012）：八项指标差异系数及综合差异系数（均值），与 0.65/0.55 比较。"
          " Basic balance (2012): eight CVs, their mean as the composite, against 0.65 / 0.55.",
          ("county_variation", "policy_province", "dim_indicators"), ("year", "county_code", "level"),
          published=True),
    Model("county_school_conditions",
          "由学校表计算的政府保障指标（规模、班额、音乐美术教室）。"
          " Government-assurance measures computed from the school table.",
          ("stg_schools", "policy_province", "school_indicators"), ("year", "county_code")),
    Model("county_item_values",
          "各县评估项目的输入值（长表）。 The value of every county item's input, long form.",
          ("county_completeness", "county_school_conditions", "stg_county_inputs", "stg_counties"),
          ("year", "county_code", "input")),
    Model("county_item_verdicts",
          "各县每个评估项目的判定。 Every item of every county: value, threshold, rule and verdict.",
          ("county_item_values", "county_cv", "policy_items", "policy_province", "stg_schools", "stg_counties",
           "quarantined_schools", "dim_provinces"),
          ("year", "county_code", "item")),
    Model("county_scorecard",
          "县域优质均衡评估结论：资源配置、政府保障、教育质量、社会认可、前提条件、一票否决，及数据完整性。"
          " The county scorecard: each part, vetoes, status, failing items and how complete the data are.",
          ("county_item_verdicts", "county_completeness", "school_indicators", "county_cv"),
          ("year", "county_code"), published=True, expectations=True,
          checks=(Check("one_scorecard_per_county", "one scorecard per county",
                        f"select (select count(distinct county_code) from county_item_values where year = {Y}) = "
                        f"(select count(*) from county_scorecard where year = {Y}), "
                        f"(select count(*) from county_scorecard where year = {Y}) || ' scorecards for ' || "
                        f"(select count(distinct county_code) from county_item_values where year = {Y}) || "
                        f"' counties'"),)),
    Model("unit_gaps",
          "差距：每个评估单元每项指标距标准（及学校达标规则的最低值）还差多少（名、平方米、元、间）。"
          " Per unit and indicator, what must be added to reach the threshold, and the school rule's floor, in"
          " natural units.",
          ("school_units", "policy_plan_costs", "policy_level_thresholds", "policy_province"),
          ("year", "school_id", "level", "indicator"), published=True, view=True),
    Model("unit_plan",
          "达标方案（学校）：使县域资源配置达标的最省投入，逐校逐项。 The cheapest additions, unit by unit and"
          " indicator by indicator, after which the county passes the resource part (see junheng/plan.py).",
          ("school_units", "county_scorecard", "policy_province", "policy_level_thresholds", "policy_plan_costs"),
          ("year", "school_id", "level", "indicator"), published=True, may_be_empty=True,
          python="junheng.plan:unit_plan"),
    Model("county_plan",
          "达标方案（县）：新增教师、校舍、场地、设备、教室及费用（一次性与每年分列），以及资源投入解决不了的项目。"
          " Per county whose resource part fails: what its plan adds and costs, and what resources cannot fix.",
          ("county_scorecard", "unit_plan", "school_units", "county_item_verdicts", "policy_plan_costs"),
          ("year", "county_code"), published=True, may_be_empty=True),
    Model("county_items",
          "县域评估全部项目：数值、标准、标准来源（国家或省）、判定及历年趋势。"
          " Every item of every county: value, threshold, the rule that set it, verdict and trend over the years.",
          ("county_item_verdicts", "policy_province"), ("year", "county_code", "item"),
          scope="all_years", published=True),
    Model("county_progress",
          f"各县距优质均衡的差距与按当前进度的预计达标年份（{'/'.join(map(str, CHECKPOINT_YEARS))}）。"
          " How far each county is, and the year it would pass at its current pace.",
          ("county_items", "county_scorecard"), ("year", "county_code"), scope="all_years", published=True),
    Model("province_progress",
          "各省优质均衡县比例与下一阶段目标对比。 Share of counties at quality balance against the next milestone.",
          ("county_scorecard", "policy_milestones"), ("year", "province_code"), scope="all_years", published=True),
    Model("province_plan",
          "全省达标路径：到下一目标年份还需多少个县达标、哪些县只差资源、投入最少的一组县及费用。"
          " Per province and next milestone: counties needed, those resources can bring over the line, the"
          " cheapest set and its cost, or a plain statement that resources alone cannot reach the target.",
          ("province_progress", "county_plan"), ("year", "province_code"), scope="all_years", published=True,
          may_be_empty=True),
)

MODEL_BY_NAME = {m.name: m for m in MODELS}
YEAR_MODELS = tuple(m for m in MODELS if m.scope == "year")
ALL_YEARS_MODELS = tuple(m for m in MODELS if m.scope == "all_years")
PUBLISHED_MODELS = tuple(m for m in MODELS if m.published)
PUBLISHED_KEYS = {m.name: m.keys for m in PUBLISHED_MODELS}

