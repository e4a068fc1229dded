"""The dashboards' HTML pages: index, province and county, in plain Chinese, no item codes.

Every page has a viewport for phones, a breadcrumb back up, a print stylesheet (A4), and the
figures as JSON drawn by ``assets/dashboard.js`` from the shared plotly.js. The tables' rows travel
as JSON too, and the script draws them.
"""

from __future__ import annotations

import functools
import html
import re

import orjson
import polars as pl

from dashboards.figures import (IND_UNIT, IND_ZH, LEVEL_ZH, STATUS_ZH, cv_heatmap, cv_trends, common_failures,
                                indicators_vs_threshold, milestone_path, provinces_overview, ranked_counties,
                                school_positions)
from junheng.brief import Brief, SchoolRule, county_brief, yuan
from junheng.contract import CHECKPOINT_YEARS, INDICATORS
from junheng.policy import share_words

VERDICT_ZH = {"pass": "达标", "fail": "未达标", "insufficient_data": "数据不足"}
AREA_ZH = {"resource": "资源配置", "government": "政府保障程度", "quality": "教育质量", "recognition": "社会认可度",
           "prerequisite": "前提条件", "veto": "一票否决"}
KIND_ZH = {"school": "学校", "section": "一贯制学校的学段", "teaching_point": "教学点"}
TREND_ZH = {"passes": "已达标", "improving": "在改善", "not_improving": "未改善", "qualitative": "定性项目",
            "one_year_only": "仅一年数据", "insufficient_data": "数据不足"}
SUPPLIER = {"resource": "学校统计数据（县统计人员按问题清单改正后重新报送）",
            "default": "县级评估填报表（县教育行政部门填报）"}


def cv_explained(ceilings: dict[str, float]) -> str:
    """What a CV is, with the ceilings in force where the page is ({level: ceiling}, from the
    published rows: a province may set its own)."""
    levels = [lv for lv in LEVEL_ZH if lv in ceilings]
    rule = (_ceiling_words(ceilings, "不超过") + f" 才算达标，{len(INDICATORS) * len(levels)} 项都要达标。"
            if levels else "每项都不超过标准才算达标。")
    return ("<p class='explain'><strong>什么是差异系数：</strong>衡量县内各校某项资源配置的差距。"
            "先算全县平均水平（全县资源总量 ÷ 全县学生数），再看各校偏离这个平均水平有多远（按学生数加权），"
            f"偏离越大，差异系数越大。{rule}"
            "把条件最差的学校提上来，是降低差异系数最省的办法。</p>")


def _ceiling_words(ceilings: dict[str, float], sign: str) -> str:
    """Each level's ceiling in words, in the levels' order: 小学每项不超过 0.50、初中每项不超过 0.45."""
    return "、".join(f"{zh}每项{sign} {ceilings[lv]:.2f}" for lv, zh in LEVEL_ZH.items() if lv in ceilings)


def _cv_ceilings(rows) -> dict[str, float]:
    """{level: ceiling} of (level, cv_threshold) pairs."""
    out: dict[str, float] = {}
    for level, ceiling in rows:
        if ceiling is not None:
            out.setdefault(level, ceiling)
    return out


def rule_explained(rule: SchoolRule) -> str:
    """The school rule as the province sets it (the national one: 6 of 7, the rest at 85% or more)."""
    seven, floor = len(INDICATORS), share_words(rule.floor_share)
    if rule.min_met >= seven:
        words = f"七项指标都要达到标准。深红色单元格低于标准的 {floor}"
    else:
        rest = "余下一项" if seven - rule.min_met == 1 else "其余各项"
        words = (f"七项指标中至少 {rule.min_met} 项达到标准，{rest}也不能低于标准的 {floor}。"
                 f"深红色单元格低于标准的 {floor}")
    return ("<p class='explain'><strong>学校达标的规则：</strong>每所学校（一贯制学校的小学部、初中部分别算）"
            f"{words}，这样的学校一定不达标。</p>")


def esc(value) -> str:
    text = "" if value is None else str(value)
    # most text needs no escaping: five scans of the string cost less than escaping it
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return html.escape(text)
    return text


def pct(x) -> str:
    return "—" if x is None else f"{x:.0%}"


def number(x) -> str:
    """People's numbers: thousands separators, no trailing zeros, integers as integers."""
    if x is None:
        return "—"
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _json(value) -> str:
    # orjson: a national run encodes some 7,700 figures, 3.5 times faster than json.dumps and the
    # same bytes (compact, UTF-8, shortest round-trip floats). Every "<" is escaped: inside a script
    # element "</script" would end it early and "<!--" would change how the browser reads what
    # follows, and names are free text. JSON has "<" only inside strings, where \u003c reads back as "<".
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode().replace("<", "\\u003c")


def page(title: str, depth: int, crumbs: list[tuple[str, str | None]], body: list[str], figures: dict[str, dict]) -> str:
    prefix = "../" * depth
    nav = " › ".join(f'<a href="{prefix}{href}">{esc(label)}</a>' if href else f"<span>{esc(label)}</span>"
                     for label, href in crumbs)
    scripts = "".join(f'<script type="application/json" class="figure" data-target="{k}">{_json(v)}</script>'
                      for k, v in figures.items())
    plotly = (f'<script src="{prefix}assets/plotly.min.js"></script>'
              f'<script src="{prefix}assets/plotly-locale-zh-cn.js"></script>') if figures else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="{prefix}assets/dashboard.css">{plotly}'
        f'</head><body><header><nav>{nav}</nav></header><main>'
        + "".join(body) + "</main>" + scripts
        + f'<script src="{prefix}assets/dashboard.js"></script></body></html>'
    )


def div(key: str, height: int = 420) -> str:
    return f'<div id="{key}" class="figure" style="height:{height}px"></div>'


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


Cell = tuple[str, str, str] | str   # (display HTML, sort value, css class), or the display alone


def table(headers: list[str], rows: list[list[Cell]], text_cols: int = 1, cls: str = "") -> str:
    """rows of cells: (display HTML, sort value, css class), or the display alone when the table
    sorts by the text shown and the cell has no class. Words are left-aligned, numbers right: the
    first ``text_cols`` columns always, any other column whose first sort value is not a number.
    The rows travel as JSON, drawn into the table by ``assets/dashboard.js`` (a cell's sort value
    becomes its ``data-v`` where it differs from the text shown): a national run's pages hold some
    two million such cells, and as HTML they were a quarter of the county pages' time and bytes."""
    first = [c if isinstance(c, str) else c[1] for c in (rows[0] if rows else [])]
    text = [i < text_cols or (i < len(first) and not _is_number(first[i])) for i in range(len(headers))]
    head = "".join(f'<th class="{"text" if text[i] else ""}">{h}</th>' for i, h in enumerate(headers))
    data = {"text": text, "rows": rows}
    if "cards" in cls:   # in a table of cards (phones) each cell names its column
        data["labels"] = [re.sub(r"<[^>]+>", "", h) for h in headers]
    return (f'<div class="scroll"><table class="sortable {cls}"><thead><tr>{head}</tr></thead><tbody></tbody>'
            f'</table><script type="application/json" class="table-rows">{_json(data)}</script></div>')


def badge(status: str) -> str:
    return f'<span class="badge {status}">{STATUS_ZH[status]}</span>'


# ---- county items, formatted for people -------------------------------------------------------------


def item_value(value, unit: str | None, op: str) -> str:
    if value is None:
        return "—"
    if op in ("yes", "no"):
        return "是" if value == 1 else "否"
    if op == "complete":
        return f"{number(value)} 所被隔离" if value else "完整"
    if unit == "%":
        return f"{number(value)}%"
    return f"{number(value)} {unit}" if unit else number(value)


def item_standard(threshold, unit: str | None, op: str) -> str:
    if op == "yes":
        return "须为“是”"
    if op == "no":
        return "须为“否”"
    if op == "complete":
        return "无被隔离学校"
    sign = {">=": "≥", "<=": "≤", "<": "<"}[op]
    return f"{sign} {item_value(threshold, unit, '>=')}"


def item_gap(value, threshold, unit: str | None, op: str, verdict: str) -> str:
    if verdict != "fail" or value is None or threshold is None or op not in (">=", "<=", "<"):
        return ""
    diff = threshold - value if op == ">=" else value - threshold
    word = "差" if op == ">=" else "超出"
    return f"{word} {number(diff)} 个百分点" if unit == "%" else f"{word} {item_value(diff, unit, op)}"


_AREA_ORDER = {a: k for k, a in enumerate(AREA_ZH)}
_AREA_CELL = {a: (zh, str(k), "") for k, (a, zh) in enumerate(AREA_ZH.items())}
_VERDICT_CELL = {v: (zh, v, {"pass": "pass", "fail": "fail"}.get(v, "missing")) for v, zh in VERDICT_ZH.items()}


# The cells every county of a province shares (an item's name, its standard, where the standard
# comes from): a national run's pages show some 260,000 items, written from a few thousand such cells.
@functools.lru_cache(maxsize=4096)
def _name_cell(name: str) -> Cell:
    return esc(name)


@functools.lru_cache(maxsize=4096)
def _standard_cell(threshold, unit: str | None, op: str) -> Cell:
    return esc(item_standard(threshold, unit, op))


@functools.lru_cache(maxsize=256)
def _rule_cell(rule: str) -> tuple[str, str, str]:
    return "国家标准" if rule == "national" else f"{esc(rule)}省级标准", rule, ""


def items_table(items: list[dict]) -> str:
    rows = []
    for r in sorted(items, key=lambda r: (_AREA_ORDER[r["area"]], r["item"])):
        value, threshold, unit, op = r["value"], r["threshold"], r["unit"], r["op"]
        trend = TREND_ZH.get(r["trend_note"], "") + (f"，预计 {r['projected_pass_year']} 年达标"
                                                      if r["projected_pass_year"] else "")
        rows.append([_AREA_CELL[r["area"]], _name_cell(r["item_name"]),
                     (item_value(value, unit, op), "" if value is None else str(value), ""),
                     _standard_cell(threshold, unit, op),
                     esc(item_gap(value, threshold, unit, op, r["verdict"])),
                     _rule_cell(r["rule"]), _VERDICT_CELL[r["verdict"]], (esc(trend), r["trend_note"] or "", "")])
    return table(["方面", "项目", "现状", "标准", "差距", "标准来源", "判定", "趋势"], rows, text_cols=2, cls="cards")


# ---- county page ---------------------------------------------------------------------------------


def plan_block(brief: Brief, other_failing: list[dict]) -> str:
    """如何达标: the county's plan (the same text ``junheng plan`` prints), then the failing items
    outside the resource part with value, standard, gap and projected year."""
    parts = [f"<section class='plan'><h2>如何达标</h2><p class='lead'>{esc(brief.headline)}</p>"]
    if brief.items:
        rows = [[esc(i.name), esc(i.now), esc(i.standard), (esc(i.gap), i.gap, "fail"), esc(i.plan)]
                for i in brief.items]
        parts.append(table(["未达标的资源配置项目", "现状", "标准", "差距", "方案"], rows, text_cols=5, cls="cards"))
    parts += [f"<p><strong>{esc(line)}</strong></p>" for line in (brief.adds, brief.costs) if line]
    if other_failing:
        parts.append("<h3>资源投入解决不了、须另行解决的项目</h3>" + items_table(other_failing))
    if brief.schools:
        rows = [[esc(s.school), esc(s.level), esc(s.needs)] for s in brief.schools]
        parts.append("<h3>各校需要增加</h3><p class='note'>校舍、场地、设备和教室按全校填报口径：一贯制学校的小学部、"
                     "初中部共用，按加权在校生分摊。</p>" + table(["学校", "学段", "需要增加"], rows, text_cols=3, cls="cards"))
    parts += [f"<p class='note'>{esc(n)}</p>" for n in brief.notes]
    return "".join(parts) + "</section>"


def _outlook(card: dict, prog: dict, items: list[dict]) -> str:
    stuck = [r["item_name"] for r in items if r["verdict"] == "fail" and r["projected_pass_year"] is None]
    if card["status"] == "quality_balanced":
        return "已达到优质均衡。"
    if prog.get("projected_year"):
        return f"按当前进度，预计 {prog['projected_year']} 年达到优质均衡。"
    if stuck:
        return "按当前进度无法达到，卡在：" + "、".join(stuck) + "。"
    return "数据不足，无法判断何时达到。"


def _missing_block(card: dict, items: list[dict]) -> str:
    """What is missing, and who must supply it: shown first when a county cannot be judged."""
    missing = [r for r in items if r["verdict"] == "insufficient_data"]
    if not missing and not card["schools_quarantined"]:
        return ""
    lines = []
    if card["schools_quarantined"]:
        lines.append(f"<li>{card['schools_quarantined']} 所学校的数据有误、未参加评估：" + "、".join(
            esc(s) for s in card["quarantined_schools"]) + f"。须由{SUPPLIER['resource']}。</li>")
    by_area: dict[str, list[str]] = {}
    for r in missing:
        if r["area"] != "resource":
            by_area.setdefault(r["area"], []).append(r["item_name"])
    for area, names in by_area.items():
        lines.append(f"<li>{AREA_ZH[area]}：" + "；".join(esc(n) for n in names) + f"。须由{SUPPLIER['default']}。</li>")
    if not lines:
        return ""
    head = ("本县数据不全，暂不能作出结论" if card["status"] == "insufficient_data" else "另有数据不全")
    return f"<div class='warning'><strong>{head}。缺少的数据及提供方：</strong><ul>{''.join(lines)}</ul></div>"


SCHOOL_TABLE = "school-table"   # the school table's id: the figure of school positions draws from its rows


def _school_table(schools: dict[str, list], thresholds: dict, rule: SchoolRule) -> str:
    """Every unit with its seven values (two decimals), coloured: at the standard, below it, below
    85% of it. The rows travel as JSON, drawn into the table by ``assets/dashboard.js`` (which
    makes the same comparisons as the school rule, on the same numbers): a national run's pages
    hold some 2.6 million such cells, and as HTML they were two thirds of a county page's bytes
    and a fifth of the time spent writing it."""
    headers = ["学校", "学段", "类型", "在校生"] + [
        f"{IND_ZH[i.code]}<br><span class='unit'>（{IND_UNIT[i.code]}）</span>" for i in INDICATORS] + [
        "达标指标数", "学校达标"]
    codes = [i.code for i in INDICATORS]
    data = {
        "levels": LEVEL_ZH, "kinds": KIND_ZH, "floor_share": rule.floor_share, "tolerance": rule.tolerance,
        # per level, the seven standards in the columns' order (null: none set)
        "thresholds": {lv: [thresholds.get((lv, c)) for c in codes] for lv in LEVEL_ZH},
        "rows": list(zip(*(schools[c] for c in ("school_name", "level", "unit_kind", "students", *codes,
                                                "indicators_met", "meets_school_standard")))),
    }
    head = "".join(f'<th class="{"text" if k < 3 else ""}">{h}</th>' for k, h in enumerate(headers))
    legend = ("<p class='note'>点击表头排序。<span class='key pass'>达到标准</span>"
              "<span class='key fail'>低于标准</span>"
              f"<span class='key floor'>低于标准的 {share_words(rule.floor_share)}</span></p>")
    return (legend + f'<div class="scroll"><table class="sortable schools" id="{SCHOOL_TABLE}">'
            f'<thead><tr>{head}</tr></thead><tbody></tbody></table></div>'
            f'<script type="application/json" class="school-rows" data-target="{SCHOOL_TABLE}">{_json(data)}</script>')


def county_page(code: str, pub_year: int, d: dict, thresholds: dict, rule: SchoolRule) -> str:
    """``d``: the county's rows of each published table (see dashboards.build), as plain dicts;
    its schools as columns (a list of values each)."""
    card = d["scorecard"][0]
    cv_year, schools, items = d["cv_year"], d["schools"], d["items"]
    prog = d["progress"][0] if d["progress"] else {}
    brief = county_brief(card, cv_year, schools["meets_school_standard"],
                         d["county_plan"][0] if d["county_plan"] else None, d["unit_plan"], rule)
    names = {r["item"]: r["item_name"] for r in items}
    failing = card["failing_items"] or []
    pace = " ".join(
        f"{y} 年：{'能' if prog.get(f'on_track_{y}') else ('不能' if prog.get(f'on_track_{y}') is False else '无法判断')}"
        for y in CHECKPOINT_YEARS)
    body = [
        f"<h1>{esc(card['county_name'])}（{code}）{badge(card['status'])}</h1>",
        f"<p class='lead'>{esc(card['province'])} · {pub_year} 学年 · {esc(_outlook(card, prog, items))}</p>",
        f"<p>按当前进度能否达到优质均衡：{pace}</p>",
        _missing_block(card, items),
    ]
    if failing:
        body.append("<h2>未达标项目</h2><ul>" + "".join(f"<li>{esc(names.get(i, i))}</li>" for i in failing) + "</ul>")
    elif card["status"] != "quality_balanced":
        body.append("<p>没有判定为未达标的项目；结论取决于上面缺少的数据。</p>")
    other = [r for r in items if r["area"] != "resource" and r["verdict"] == "fail"]
    body.append(plan_block(brief, other))
    body.append(
        f"<p class='note'>学校数据：学校表中 {card['schools_in_file']} 所，参加评估 {card['schools_assessed']} 所，"
        f"按规定不参评 {card['schools_excluded_by_policy']} 所，数据有误被隔离 {card['schools_quarantined']} 所。</p>")
    figures = {"indicators": indicators_vs_threshold(cv_year, thresholds), "cv_trend": cv_trends(d["cv"])}
    body += ["<h2>七项资源配置指标：县域均值与标准之比</h2>",
             "<p class='note'>县域均值为全县资源总量除以全县学生数；100% 即达到标准（红色虚线）。</p>", div("indicators"),
             "<h2>校际差异系数及其变化</h2>",
             cv_explained(_cv_ceilings((r["level"], r["cv_threshold"]) for r in cv_year)), div("cv_trend", 480),
             "<h2>差异系数未达标：各校处在哪一边</h2>"]
    positions = school_positions(schools, cv_year, thresholds, SCHOOL_TABLE)
    if positions:
        figures["positions"] = positions
        body += ["<p class='note'>每个点是一所学校（评估单元）。红色：低于标准；橙色：达到标准但低于县域均值；"
                 "蓝色：高于县域均值。红色虚线为标准，灰线为县域均值。把红色、橙色的学校提上来，差异系数就会下降。"
                 "有多项未达标时，用左上角的菜单切换。</p>", div("positions", positions["layout"]["height"])]
    else:
        body.append("<p>14 项校际差异系数全部达标。</p>")
    body += ["<h2>学校（评估单元）一览</h2>", rule_explained(rule), _school_table(schools, thresholds, rule),
             "<h2>全部评估项目</h2>", items_table(items)]
    crumbs = [("首页", "index.html"), (card["province"], f"province/{card['province_code']}.html"),
              (card["county_name"], None)]
    return page(f"{card['county_name']} 优质均衡评估", 1, crumbs, body, figures)


# ---- province page -------------------------------------------------------------------------------


def province_plan_block(plan: dict | None, county_plans: pl.DataFrame) -> str:
    """全省达标路径: counties needed for the next milestone, the ranked cost of each county's plan,
    and the cheapest set that meets the target (or why resources alone cannot)."""
    if plan is None:
        return ""
    chosen = set(plan["cheapest_set"] or [])
    rows = []
    for r in county_plans.sort("choice_weight").iter_rows(named=True):
        blockers = "；".join(r["non_resource_failing_item_names"] or [])
        picked = r["county_code"] in chosen
        rows.append([
            (f'<a href="../county/{r["county_code"]}.html">{esc(r["county_name"])}</a>', r["county_name"], ""),
            ("入选" if picked else "", "1" if picked else "0", "pass" if picked else ""),
            (number(r["teachers_added"]), str(r["teachers_added"]), ""),
            (number(round(r["teaching_area_added_m2"] + r["sports_area_added_m2"])),
             str(r["teaching_area_added_m2"] + r["sports_area_added_m2"]), ""),
            (yuan(r["capital_cost_yuan"]), str(r["capital_cost_yuan"]), ""),
            (yuan(r["recurring_cost_yuan_per_year"]), str(r["recurring_cost_yuan_per_year"]), ""),
            (esc(blockers) or "无（只差资源配置）", blockers, "fail" if blockers else "pass"),
        ])
    head = f"<h2>到 {plan['milestone_year']} 年的达标路径</h2><p class='lead'>{esc(plan['note'])}</p>"
    if plan["reachable"] and plan["counties_needed"]:
        head += (f"<p>投入最少的一组县：一次性投入 {yuan(plan['cheapest_set_capital_cost_yuan'])}，"
                 f"每年经常性支出 {yuan(plan['cheapest_set_recurring_cost_yuan_per_year'])}（两者分列，不相加）。</p>")
    note = ("<p class='note'>按各县资源方案的投入从少到多排列（教师年支出按政策设定的年数折算后与一次性投入相加，只用于排序）。"
            "单价为估算（假设），各地应以本地数据替换。</p>")
    return head + note + (table(["县", "最省组合", "新增教师（名）", "新增校舍与场地（㎡）", "一次性投入",
                                 "每年经常性支出", "资源以外须解决的项目"], rows, cls="cards") if rows else "")


def province_page(code: str, pub_year: int, pub, cards: pl.DataFrame, cv: pl.DataFrame, items: pl.DataFrame) -> str:
    name = cards.get_column("province")[0]
    prog = pub.province_progress.filter((pl.col("province_code") == code) & (pl.col("year") == pub_year))
    p = prog.row(0, named=True) if prog.height else {}
    names = dict(cards.select("county_code", "county_name").iter_rows())
    pplan = pub.province_plan.filter((pl.col("province_code") == code) & (pl.col("year") == pub_year))
    figures = {
        "path": milestone_path(pub.province_progress, pub.milestones, code),
        "ranked": ranked_counties(cards),
        "heatmap": cv_heatmap(cv, names),
        "failures": common_failures(cards, items),
    }
    target = p.get("next_milestone_target_share")
    summary = (f"{pub_year} 学年：{p.get('counties_quality_balanced')}/{p.get('counties')} 个县达到优质均衡"
               f"（{pct(p.get('share_quality_balanced'))}）。")
    if target is not None:
        summary += (f"下一目标：{p['next_milestone_year']} 年 {pct(target)}"
                    f"{'（“绝大多数”按 ' + pct(target) + ' 解读，为假设）' if p['target_is_assumption'] else ''}；"
                    f"按当前进度预计届时 {pct(p['projected_share_at_milestone'])}，"
                    f"{'可以按期达标' if p['on_track'] else '难以按期达标'}。")
    rows = [[(f'<a href="../county/{c}.html">{esc(n)}</a>', n, ""), (STATUS_ZH[s], s, ""),
             (str(len(f or [])), str(len(f or [])), "")]
            for c, n, s, f in cards.sort("county_code").select("county_code", "county_name", "status",
                                                                "failing_items").iter_rows()]
    body = [f"<h1>{esc(name)} 县域义务教育优质均衡进展</h1>", f"<p class='lead'>{summary}</p>",
            "<h2>优质均衡县比例：实际、当前进度与目标</h2>", div("path"),
            province_plan_block(pplan.row(0, named=True) if pplan.height else None,
                                pub.county_plan.filter((pl.col("year") == pub_year) & (pl.col("province_code") == code))),
            f"<h2>各县距离优质均衡：未达标项目数（{pub_year} 学年）</h2>",
            div("ranked", figures["ranked"]["layout"]["height"]),
            f"<h2>各县 14 项校际差异系数（{pub_year} 学年）</h2>",
            cv_explained(_cv_ceilings(cv.select("level", "cv_threshold").iter_rows())),
            "<p class='note'>颜色表示差异系数与标准之比：绿色为达标，红色为超过标准（越深超出越多）。</p>",
            div("heatmap", figures["heatmap"]["layout"]["height"]),
            f"<h2>最常见的未达标项目（{pub_year} 学年）</h2>", div("failures", figures["failures"]["layout"]["height"]),
            "<h2>各县页面</h2>", table(["县", "结论", "未达标项目数"], rows)]
    return page(f"{name} 优质均衡进展", 1, [("首页", "index.html"), (name, None)], body, figures)


# ---- index ---------------------------------------------------------------------------------------


def index_page(pub, pub_year: int, run_time: str, downloads: list[tuple[str, str]], horizon: tuple[int, ...]) -> str:
    prog = pub.province_progress.filter(pl.col("year") == pub_year).sort("province_code")
    rows = []
    for p in prog.iter_rows(named=True):
        rows.append([(f'<a href="province/{p["province_code"]}.html">{esc(p["province"])}</a>', p["province"], ""),
                     (str(p["counties"]), str(p["counties"]), ""),
                     (str(p["counties_quality_balanced"]), str(p["counties_quality_balanced"]), ""),
                     (pct(p["share_quality_balanced"]), str(p["share_quality_balanced"]), ""),
                     (f"{p['next_milestone_year'] or '—'} 年 {pct(p['next_milestone_target_share'])}"
                      f"{'（假设）' if p['target_is_assumption'] else ''}", str(p["next_milestone_year"]), ""),
                     ({True: "能", False: "不能"}.get(p["on_track"], "—"), str(p["on_track"]),
                      {True: "pass", False: "fail"}.get(p["on_track"], "missing"))])
    cards = pub.scorecard.filter(pl.col("year") == pub_year).sort(["province_code", "county_code"])
    groups = []
    for (code,), g in cards.group_by(["province_code"], maintain_order=True):
        links = "".join(
            f'<a href="county/{c}.html" data-search="{esc(n)} {c}">{esc(n)} <span class="badge {s}">{STATUS_ZH[s]}</span></a>'
            for c, n, s in g.select("county_code", "county_name", "status").iter_rows())
        groups.append(f'<section class="province-group"><h3><a href="province/{code}.html">{esc(g["province"][0])}</a>'
                      f'（{g.height} 个县）</h3><div class="grid">{links}</div></section>')
    counts = cards.group_by("status").len()
    overview = "，".join(f"{STATUS_ZH[s]} {n} 个" for s, n in counts.sort("status").iter_rows())
    share = pub.assumptions.get("vast_majority_share")
    figures = {"overview": provinces_overview(pub.province_progress, pub.milestones, pub_year, horizon)}
    body = [
        "<h1>县域义务教育优质均衡发展评估 · 总览</h1>",
        f"<p class='lead'>数据学年：{pub_year}（已发布：{'、'.join(str(y) for y in sorted(pub.scorecard['year'].unique()))}）"
        f" · 生成时间：{esc(run_time)} · 共 {cards.height} 个县：{overview}。</p>",
        "<h2>各省优质均衡县比例：现在、按当前进度与目标</h2>", div("overview", 460),
        "<h2>各省进展</h2>",
        table(["省份", "县数", "达到优质均衡", "比例", "下一目标", "按当前进度能否按期达标"], rows),
        "<h2>各县</h2>",
        '<p><input id="search" type="search" placeholder="输入县名或县区代码查找" aria-label="查找县"></p>',
        "".join(groups),
        "<h2>下载数据</h2><p class='note'>已发布的表格，逗号分隔的文本文件，可用电子表格软件直接打开。</p><ul class='downloads'>"
        + "".join(f'<li><a href="{href}" download>{esc(label)}</a></li>' for label, href in downloads) + "</ul>",
        "<h2>假设与口径</h2><ul>",
        f"<li>“绝大多数”按 {pct(share)} 解读（为假设，可按各地政策调整）。</li>" if share is not None else "",
        f"<li>差异系数按在校生加权计算，{_cv_ceiling_words(pub)}；显示三位小数，按全精度比较。</li>",
        "<li>缺少数据的项目判为“数据不足”，不计为达标。</li>",
        "<li>预计达标年份按各项目历年线性趋势推算；定性项目、一票否决项和仅有一年数据的项目不作推算。</li>",
        "<li>达标方案中的单价（教师工资、校舍和场地造价、多媒体教室）多为估算，各地应以本地数据替换。</li>",
        "</ul>",
    ]
    return page("优质均衡评估总览", 0, [("首页", None)], body, figures)


def _cv_ceiling_words(pub) -> str:
    """The CV ceilings in force (reference/indicator_thresholds): those of most provinces, and
    the provinces that set others."""
    words: dict[str, str] = {}
    for (code,), rows in pub.thresholds.group_by(["province_code"]):
        words[code] = _ceiling_words(_cv_ceilings(rows.select("level", "cv_threshold").iter_rows()), " ≤")
    if not words:
        return "每项不超过标准"
    common = max(sorted(set(words.values())), key=list(words.values()).count)
    names = dict(pub.scorecard.select("province_code", "province").unique().iter_rows())
    others = "；".join(f"{names.get(code, code)}：{w}" for code, w in sorted(words.items()) if w != common)
    return common + (f"（{others}）" if others else "")
