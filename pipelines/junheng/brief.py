"""如何达标: one county's plan in plain Chinese, for the terminal (``junheng plan``) and the county
dashboard page. Built from the published tables only; no item codes, numbers written for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

import polars as pl

from junheng.contract import INDICATORS, LEVEL_NAMES_ZH, LEVELS, RESOURCES
from junheng.policy import share_words

LEVEL_ZH = {lv: LEVEL_NAMES_ZH[lv] for lv in LEVELS}   # the assessed levels, in order
RESOURCE = {r.indicator: r for r in RESOURCES}
INDICATOR_ZH = {i.code: i.zh for i in INDICATORS}


def amount(value: float, unit: str) -> str:
    """An addition in its natural unit: 12 名, 3,400 ㎡, 85.3 万元, 3 间."""
    if unit == "teachers":
        return f"{value:,.0f} 名"
    if unit == "rooms":
        return f"{value:,.0f} 间"
    if unit == "m²":
        return f"{value:,.0f} ㎡"
    return yuan(value)


def yuan(value: float) -> str:
    if abs(value) >= 1e8:
        return f"{value / 1e8:,.2f} 亿元"
    if abs(value) >= 1e4:
        return f"{value / 1e4:,.1f} 万元"
    return f"{value:,.0f} 元"


class SchoolRule(NamedTuple):
    """A province's school rule (学校达标) as published in reference/indicator_thresholds: the
    words and colours of a brief and a page say what the policy says, not the national default."""

    floor_share: float       # the least share of its standard any indicator may have (85%)
    tolerance: float         # relative: a value this close under its standard meets it (binary rounding)
    min_met: int             # how many of the seven must meet their standard (6)

    def words(self) -> str:
        return f"七项指标至少{self.min_met}项达标、其余不低于标准的{share_words(self.floor_share)}"


def school_rules(reference: pl.DataFrame) -> dict[str, SchoolRule]:
    """Each province's school rule, from the published reference/indicator_thresholds."""
    return {code: SchoolRule(floor, tolerance, met) for code, floor, tolerance, met in reference.select(
        "province_code", "floor_share", "relative_tolerance", "min_indicators_met").unique().iter_rows()}


@dataclass
class FailingItem:
    name: str
    now: str
    standard: str
    gap: str
    plan: str


@dataclass
class SchoolNeed:
    school: str
    level: str
    needs: str


@dataclass
class Brief:
    county: str
    year: int
    headline: str
    items: list[FailingItem] = field(default_factory=list)
    adds: str = ""
    costs: str = ""
    blockers: list[str] = field(default_factory=list)
    schools: list[SchoolNeed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"{self.county} {self.year} 学年 · 如何达标", self.headline]
        if self.items:
            lines.append("未达标的资源配置项目：")
            for i in self.items:
                lines.append(f"  · {i.name}：现为 {i.now}，标准 {i.standard}，差距 {i.gap}。{i.plan}")
        if self.adds:
            lines.append(self.adds)
        if self.costs:
            lines.append(self.costs)
        if self.blockers:
            lines.append("资源投入解决不了、须另行解决的项目：" + "；".join(self.blockers) + "。")
        if self.schools:
            lines.append("各校需要：")
            lines += [f"  · {s.school}（{s.level}）：{s.needs}" for s in self.schools]
        lines += self.notes
        return "\n".join(lines)


def _adds_text(plan: dict) -> str:
    parts = []
    if plan["teachers_added"]:
        detail = [f"{r.zh} {amount(plan[r.added], r.unit_en)}" for r in RESOURCES if not r.facility and plan[r.added]]
        caveat = "；一名新教师可能同时计入两项，实际所需人数可能更少" if len(detail) > 1 else ""
        parts.append(f"专任教师 {plan['teachers_added']:,.0f} 名（其中{'、'.join(detail)}{caveat}）")
    parts += [f"{r.zh} {amount(plan[r.added], r.unit_en)}" for r in RESOURCES if r.facility and plan[r.added]]
    return "需增加：" + "、".join(parts) + "。" if parts else ""


class PlanUnit(NamedTuple):
    """One row of unit_plan, the columns a brief reads."""
    school_id: str
    school_name: str
    level: str
    indicator: str
    reason: str
    add_amount: float
    add_unit: str
    school_add_amount: float


PLAN_COLUMNS = PlanUnit._fields
_RESOURCE_ORDER = {r.indicator: k for k, r in enumerate(RESOURCES)}


def _school_needs(plan: list[PlanUnit]) -> list[SchoolNeed]:
    """What each school adds, as it would report it: teachers per section, facilities once for the
    whole school (a combined school's sections share them). (Written for speed: a national run's
    county pages list some 140,000 schools.)"""
    schools: dict[tuple[str, str], list[PlanUnit]] = {}
    for r in sorted(plan, key=attrgetter("school_name", "school_id")):
        schools.setdefault((r.school_id, r.school_name), []).append(r)
    out = []
    for (_, name), rows in schools.items():
        present = {r.level for r in rows}
        levels = [lv for lv in LEVEL_ZH if lv in present]
        sections: dict[str, list[PlanUnit]] = {}
        for r in rows:
            sections.setdefault(r.indicator, []).append(r)
        parts = []
        for indicator in sorted(sections, key=_RESOURCE_ORDER.__getitem__) if len(sections) > 1 else sections:
            res, group = RESOURCE[indicator], sections[indicator]
            if len(group) > 1:   # the primary section first
                group = sorted(group, key=lambda r: r.level != "primary")
            if res.facility:
                shared = "（小学、初中共用）" if len(group) > 1 else ""
                parts.append(f"{res.zh} {amount(group[0].school_add_amount, group[0].add_unit)}{shared}")
            else:
                for r in group:
                    prefix = LEVEL_ZH[r.level] if len(levels) > 1 else ""
                    parts.append(f"{prefix}{res.zh} {amount(r.add_amount, r.add_unit)}")
        out.append(SchoolNeed(name, "、".join(LEVEL_ZH[lv] for lv in levels), "、".join(parts)))
    return out


def county_brief(card: dict, cv: list[dict], meets: list[bool | None], plan: dict | None,
                 plan_units: dict[str, list], rule: SchoolRule) -> Brief:
    """``card``: the county's scorecard row; ``cv``: its county_cv rows of the year;
    ``meets``: whether each of its units meets the school rule (school_indicators'
    meets_school_standard); ``plan``: its county_plan row (None when the resource part passes);
    ``plan_units``: its unit_plan rows as columns ({column: values}, at least PLAN_COLUMNS);
    ``rule``: its province's school rule. Rows as plain Python values: a county has tens of
    units, and this runs for every county page."""
    name = f"{card['county_name']}（{card['county_code']}）"
    b = Brief(name, card["year"], "")
    if plan is None:
        b.headline = "资源配置已达标，无需新增资源。"
        return b
    units = list(map(PlanUnit._make, zip(*(plan_units[c] for c in PLAN_COLUMNS))))
    assessed = len(meets)
    short = sum(1 for m in meets if m is False)
    if short:
        added = {(u.school_id, u.level) for u in units if u.reason == "school_rule"}
        b.items.append(FailingItem(
            "每所学校" + rule.words(),
            f"{assessed - short}/{assessed} 个评估单元达标", "全部达标", f"{short} 个单元未达标",
            f"方案为 {len(added)} 个单元补足差额。"))
    failing = sorted((r for r in cv if r["cv_meets"] is False),
                     key=lambda r: (r["level"], r["indicator"]))
    fills: dict[tuple[str, str], list[PlanUnit]] = {}   # the units the plan fills for each CV
    for u in units:
        if u.reason == "cv":
            fills.setdefault((u.level, u.indicator), []).append(u)
    for r in failing:
        fill = fills.get((r["level"], r["indicator"]), [])
        res = RESOURCE[r["indicator"]]
        if fill:
            total = sum(u.add_amount for u in fill)
            how = (f"方案在 {len(fill)} 个较弱单元增加{res.zh}共 {amount(total, fill[0].add_unit)}，"
                   f"把它们提到同一水平，使差异系数降到 {r['cv_threshold']:.2f} 以内。")
        else:
            how = "补足未达标学校后，差异系数即降到标准以内。"
        b.items.append(FailingItem(f"{LEVEL_ZH[r['level']]}{INDICATOR_ZH[r['indicator']]}的校际差异系数",
                                   f"{r['cv']:.3f}", f"≤ {r['cv_threshold']:.2f}",
                                   f"高出 {r['cv'] - r['cv_threshold']:.3f}", how))
    b.adds = _adds_text(plan)
    if plan["capital_cost_yuan"] or plan["recurring_cost_yuan_per_year"]:
        b.costs = (f"费用：一次性投入约 {yuan(plan['capital_cost_yuan'])}；每年经常性支出（教师）约 "
                   f"{yuan(plan['recurring_cost_yuan_per_year'])}。两者分列，不相加。")
        if plan["costs_include_assumptions"]:
            b.notes.append("说明：单价为估算（假设），各地应以本地造价和工资数据替换后使用。")
    b.blockers = list(plan["non_resource_failing_item_names"] or [])
    if not plan["feasible"]:
        b.headline = "有评估单元缺少指标数据，无法制定资源方案；请先补齐数据。"
    elif b.items:
        b.headline = ("按以下方案补足资源后，本县资源配置即可达标。" if not b.blockers
                      else "按以下方案补足资源后，本县资源配置可以达标，但仍有资源以外的项目须另行解决。")
    else:
        b.headline = "资源配置本身没有未达标项目；尚未达标是因为下列项目。"
    if plan["feasible"] and not plan["proven_cheapest"]:
        b.notes.append(f"说明：学校较多，未逐一比较所有组合；可以证明本方案的费用至多比最省方案高 "
                       f"{plan['cheapest_within']:.1%}（取整前）。")
    b.schools = _school_needs(units)
    return b


class BriefError(LookupError):
    """The county or year is not in the published results, or those are not in this version's
    layout (a message for the terminal)."""


BRIEF_TABLES = ("county_scorecard", "county_cv", "school_indicators", "county_plan", "unit_plan")


def brief_from_published(out_dir, county_code: str, year: int | None = None) -> Brief:
    """The brief of one county from the Parquet published in ``out_dir`` (latest year by default)."""
    from pathlib import Path

    from junheng.publish import PublicationError, partition_files, reference_path, require_publication

    out_dir = Path(out_dir)
    try:
        require_publication(out_dir, BRIEF_TABLES)
    except PublicationError as exc:
        raise BriefError(str(exc)) from None

    def scan(table: str) -> pl.LazyFrame:  # (each is there: require_publication)
        return pl.scan_parquet(partition_files(out_dir, table)).filter(pl.col("county_code") == county_code)

    cards = scan("county_scorecard").collect()
    if cards.height == 0:
        raise BriefError(f"已发布的结果中没有县区代码 {county_code}。 / county {county_code} is not in the published results.")
    years = sorted(cards["year"].to_list())
    year = year or years[-1]
    if year not in years:
        raise BriefError(f"{county_code} 没有 {year} 学年的结果（已有：{'、'.join(map(str, years))}）。"
                         f" / no {year} results for {county_code} (published: {', '.join(map(str, years))}).")
    by_year = pl.col("year") == year
    card = cards.filter(by_year).row(0, named=True)
    plan = scan("county_plan").filter(by_year).collect()
    rules = school_rules(pl.read_parquet(reference_path(out_dir, "indicator_thresholds")))
    return county_brief(card, scan("county_cv").filter(by_year).collect().to_dicts(),
                        scan("school_indicators").filter(by_year).select("meets_school_standard").collect()
                        .to_series().to_list(),
                        plan.row(0, named=True) if plan.height else None,
                        scan("unit_plan").filter(by_year).collect().to_dict(as_series=False),
                        rules[card["province_code"]])
