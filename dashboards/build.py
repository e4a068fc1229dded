"""Static, offline dashboards from the published Parquet (never from the warehouse).

    index.html              the data's year, run time, assumptions, every province and county
    province/<code>.html    counties passing against the milestone path, counties ranked by how far
                            they are, a heat map of counties × the 14 CVs, the most common failing items
    county/<code>.html      status and what fails, the seven indicators per level, each CV against
                            its ceiling over the years, the schools (sortable), which schools drive
                            each failing CV, the government and quality items

plotly.js is copied once into ``assets/`` beside the pages, with a zh-CN locale; nothing is
fetched from a network. Figures are embedded as JSON (``<script class="figure">``) and drawn by
``assets/dashboard.js``. No map boundaries: ranked bars, heat maps and small multiples instead.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from junheng.brief import county_brief, yuan
from junheng.contract import INDICATORS

ASSETS = Path(__file__).parent / "assets"
LEVEL_ZH = {"primary": "小学", "junior": "初中"}
STATUS_ZH = {"quality_balanced": "达到优质均衡", "not_yet": "尚未达到", "insufficient_data": "数据不足"}
STATUS_COLOUR = {"quality_balanced": "#2f855a", "not_yet": "#c53030", "insufficient_data": "#718096"}
VERDICT_ZH = {"pass": "达标", "fail": "未达标", "insufficient_data": "数据不足"}
AREA_ZH = {"resource": "资源配置", "government": "政府保障程度", "quality": "教育质量", "recognition": "社会认可度",
           "prerequisite": "前提条件", "veto": "一票否决"}
KIND_ZH = {"school": "学校", "section": "学段（一贯制）", "teaching_point": "教学点"}
TREND_ZH = {"passes": "已达标", "improving": "在改善", "not_improving": "未改善", "qualitative": "定性项目",
            "one_year_only": "仅一年数据", "insufficient_data": "数据不足"}
IND_ZH = {i.code: i.zh for i in INDICATORS}
IND_UNIT = {i.code: i.unit_zh for i in INDICATORS}
FONT = {"family": "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"}


@dataclass
class Published:
    schools: pl.DataFrame
    cv: pl.DataFrame
    scorecard: pl.DataFrame
    items: pl.DataFrame
    county_progress: pl.DataFrame
    province_progress: pl.DataFrame
    milestones: pl.DataFrame
    thresholds: pl.DataFrame
    assumptions: dict
    county_plan: pl.DataFrame
    unit_plan: pl.DataFrame
    province_plan: pl.DataFrame


def _read(out_dir: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(out_dir / table / "**" / "*.parquet")


def load_published(out_dir: Path) -> Published:
    out_dir = Path(out_dir)
    meta = json.loads((out_dir / "reference" / "assumptions.json").read_text(encoding="utf-8"))
    return Published(
        schools=_read(out_dir, "school_indicators"), cv=_read(out_dir, "county_cv"),
        scorecard=_read(out_dir, "county_scorecard"), items=_read(out_dir, "county_items"),
        county_progress=_read(out_dir, "county_progress"), province_progress=_read(out_dir, "province_progress"),
        milestones=pl.read_parquet(out_dir / "reference" / "milestones.parquet"),
        thresholds=pl.read_parquet(out_dir / "reference" / "indicator_thresholds.parquet"), assumptions=meta,
        county_plan=_read(out_dir, "county_plan"), unit_plan=_read(out_dir, "unit_plan"),
        province_plan=_read(out_dir, "province_plan"),
    )


# ---- page scaffolding ------------------------------------------------------------------------


_NEEDS_ESCAPE = set("&<>\"'")


def _esc(value) -> str:
    text = "" if value is None else str(value)
    return html.escape(text) if _NEEDS_ESCAPE.intersection(text) else text


def _page(title: str, depth: int, body: list[str], figures: dict[str, dict]) -> str:
    prefix = "../" * depth
    scripts = "".join(
        f'<script type="application/json" class="figure" data-target="{k}">{_json(v)}</script>'
        for k, v in figures.items()
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title>"
        f'<link rel="stylesheet" href="{prefix}assets/dashboard.css">'
        f'<script src="{prefix}assets/plotly.min.js"></script>'
        f'<script src="{prefix}assets/plotly-locale-zh-cn.js"></script>'
        f'</head><body><header><a href="{prefix}index.html">首页 总览</a></header>'
        + "".join(body) + scripts
        + f'<script src="{prefix}assets/dashboard.js"></script></body></html>'
    )


def _json(value) -> str:
    # "</" would end the script element early
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _div(key: str, height: int = 420) -> str:
    return f'<div id="{key}" class="figure" style="height:{height}px"></div>'


def _layout(title: str, **extra) -> dict:
    layout = {"title": {"text": title}, "font": FONT, "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
              "hoverlabel": {"font": FONT}, "separators": ".,"}
    layout.update(extra)
    return layout


def _wrap(text: str, width: int = 9) -> str:
    """Break a long official name over lines so axis labels stay readable."""
    return "<br>".join(text[i:i + width] for i in range(0, len(text), width))


def _pct(x) -> str:
    return "—" if x is None else f"{x:.0%}"


def _num(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _table(headers: list[str], rows: list[list[tuple[str, str, str]]], text_cols: int = 1) -> str:
    """rows of (display, sort value, css class) cells; the first ``text_cols`` are left-aligned."""
    head = "".join(f'<th class="{"text" if i < text_cols else ""}">{_esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{cls}{" text" if i < text_cols else ""}" data-v="{_esc(v)}">{d}</td>'
            for i, (d, v, cls) in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# ---- figures ---------------------------------------------------------------------------------


def cv_heatmap(cv: pl.DataFrame, names: dict[str, str], title: str) -> dict:
    """Counties × the 14 CVs, coloured by CV / ceiling (above 1 fails)."""
    cols = [(lv, ind.code) for lv in LEVEL_ZH for ind in INDICATORS]
    counties = sorted(cv.get_column("county_code").unique().to_list(), key=lambda c: names.get(c, c))
    lookup = {(r["county_code"], r["level"], r["indicator"]): r for r in cv.iter_rows(named=True)}
    z, text = [], []
    for code in counties:
        row_z, row_t = [], []
        for lv, ind in cols:
            r = lookup.get((code, lv, ind))
            ok = r is not None and r["cv"] is not None
            row_z.append(r["cv"] / r["cv_threshold"] if ok else None)
            row_t.append(f"{r['cv']:.3f}" if ok else "无")
        z.append(row_z)
        text.append(row_t)
    x = [_wrap(f"{LEVEL_ZH[lv]}·{IND_ZH[ind]}", 10) for lv, ind in cols]
    return {
        "data": [{
            "type": "heatmap", "z": z, "x": x, "y": [names.get(c, c) for c in counties], "text": text,
            "texttemplate": "%{text}", "zmin": 0, "zmax": 2, "zmid": 1,
            "colorscale": [[0, "#2f855a"], [0.45, "#c6f6d5"], [0.5, "#fefcbf"], [0.55, "#fed7d7"], [1, "#9b2c2c"]],
            "colorbar": {"title": {"text": "差异系数/标准"}},
            "hovertemplate": "%{y}<br>%{x}<br>差异系数 %{text}（与标准之比 %{z:.2f}）<extra></extra>",
        }],
        "layout": _layout(title, xaxis={"tickangle": 0, "automargin": True, "side": "top"},
                          yaxis={"automargin": True, "autorange": "reversed"},
                          height=max(420, 28 * len(counties) + 260)),
    }


def milestone_path(progress: pl.DataFrame, milestones: pl.DataFrame, province_code: str, name: str) -> dict:
    """Actual share of counties per year against the province's targets (or the national ones)."""
    p = progress.filter(pl.col("province_code") == province_code).sort("year")
    own = milestones.filter((pl.col("jurisdiction") == province_code) & (pl.col("kind") == "share_of_counties")
                            & pl.col("year").is_not_null())
    if own.height == 0:
        own = milestones.filter((pl.col("jurisdiction") == "national") & (pl.col("kind") == "share_of_counties"))
    own = own.sort("year")
    labels = [f"{y} 年目标 {s:.0%}{'（假设：' + w + '）' if a else ''}"
              for y, s, w, a in own.select("year", "target_share", "target_words", "target_is_assumption").iter_rows()]
    return {
        "data": [
            {"type": "bar", "name": "实际：达到优质均衡的县比例", "x": p.get_column("year").to_list(),
             "y": p.get_column("share_quality_balanced").to_list(), "marker": {"color": "#2b6cb0"},
             "hovertemplate": "%{x} 学年：%{y:.0%}<extra></extra>"},
            {"type": "scatter", "mode": "lines+markers+text", "name": "目标（实施方案）",
             "x": own.get_column("year").to_list(), "y": own.get_column("target_share").to_list(),
             "text": labels, "textposition": "top center", "line": {"dash": "dash", "color": "#c53030"},
             "hovertemplate": "%{text}<extra></extra>"},
        ],
        "layout": _layout(f"{name}：优质均衡县比例与目标路径", yaxis={"tickformat": ".0%", "range": [0, 1.15],
                          "title": {"text": "县比例"}}, xaxis={"dtick": 1, "title": {"text": "学年"}},
                          legend={"orientation": "h"}),
    }


def ranked_counties(cards: pl.DataFrame, title: str) -> dict:
    """Counties ranked by how many items fail (the furthest at the top)."""
    c = cards.with_columns(pl.col("failing_items").list.len().alias("n")).sort(["n", "county_name"],
                                                                               descending=[False, True])
    return {
        "data": [{
            "type": "bar", "orientation": "h", "x": c.get_column("n").to_list(),
            "y": c.get_column("county_name").to_list(),
            "marker": {"color": [STATUS_COLOUR[s] for s in c.get_column("status")]},
            "customdata": [[STATUS_ZH[s], "、".join(f or [])] for s, f in
                           c.select("status", "failing_items").iter_rows()],
            "hovertemplate": "%{y}：%{customdata[0]}<br>未达标项目 %{x} 项<br>%{customdata[1]}<extra></extra>",
        }],
        "layout": _layout(title, xaxis={"title": {"text": "未达标项目数"}}, yaxis={"automargin": True},
                          height=max(380, 22 * c.height + 120)),
    }


def common_failures(cards: pl.DataFrame, items: pl.DataFrame, title: str, top: int = 15) -> dict:
    names = dict(items.select("item", "item_name").unique("item").iter_rows())
    counts = (cards.select(pl.col("failing_items").explode().alias("item")).drop_nulls()
              .group_by("item").len().sort(["len", "item"], descending=[True, False]).head(top))
    counts = counts.reverse()
    return {
        "data": [{"type": "bar", "orientation": "h", "x": counts.get_column("len").to_list(),
                  "y": [names.get(i, i) for i in counts.get_column("item")],
                  "customdata": counts.get_column("item").to_list(), "marker": {"color": "#c53030"},
                  "hovertemplate": "%{y}（%{customdata}）<br>%{x} 个县未达标<extra></extra>"}],
        "layout": _layout(title, xaxis={"title": {"text": "未达标县数"}}, yaxis={"automargin": True},
                          height=max(360, 30 * counts.height + 140)),
    }


def indicators_vs_threshold(cv: pl.DataFrame, items_thresholds: dict, title: str) -> dict:
    """County value X̄ of each indicator as a share of its threshold, per level."""
    data = []
    for lv, zh in LEVEL_ZH.items():
        d = cv.filter(pl.col("level") == lv)
        rows = {r["indicator"]: r for r in d.iter_rows(named=True)}
        x, y, text = [], [], []
        for ind in INDICATORS:
            r = rows.get(ind.code)
            thr = items_thresholds.get((lv, ind.code))
            if r is None or thr is None:
                continue
            x.append(_wrap(ind.zh))
            y.append(r["county_value"] / thr)
            text.append(f"{r['county_value']:.2f} / 标准 {thr:g} {ind.unit_zh}")
        data.append({"type": "bar", "name": zh, "x": x, "y": y, "customdata": text, "texttemplate": "%{y:.0%}",
                     "textposition": "outside",
                     "hovertemplate": zh + "：%{x}<br>县域均值 %{customdata}<br>为标准的 %{y:.0%}<extra></extra>"})
    return {"data": data, "layout": _layout(
        title, yaxis={"tickformat": ".0%", "title": {"text": "县域均值 / 标准"}}, xaxis={"automargin": True},
        shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                 "line": {"color": "#c53030", "dash": "dash"}}], barmode="group", legend={"orientation": "h"})}


def cv_trends(cv_all_years: pl.DataFrame, title: str) -> dict:
    """Each CV against its ceiling over the years present: one panel per level."""
    data, shapes = [], []
    series: dict[tuple[str, str], tuple[list, list]] = {}
    ceiling: dict[str, float] = {}
    for lv, ind, year, cv, thr in cv_all_years.sort("year").select(
            "level", "indicator", "year", "cv", "cv_threshold").iter_rows():
        xs, ys = series.setdefault((lv, ind), ([], []))
        xs.append(year)
        ys.append(cv)
        ceiling.setdefault(lv, thr)
    for k, (lv, zh) in enumerate(LEVEL_ZH.items()):
        axis = "" if k == 0 else "2"
        for ind in INDICATORS:
            if (lv, ind.code) not in series:
                continue
            xs, ys = series[(lv, ind.code)]
            data.append({"type": "scatter", "mode": "lines+markers", "name": f"{zh}·{ind.zh}",
                         "legendgroup": ind.code, "showlegend": k == 0, "x": xs,
                         "y": ys, "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                         "hovertemplate": f"{zh}·{ind.zh}<br>%{{x}} 学年：%{{y:.3f}}<extra></extra>"})
        if lv in ceiling:
            thr = ceiling[lv]
            shapes.append({"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}", "x0": 0, "x1": 1,
                           "y0": thr, "y1": thr, "line": {"color": "#c53030", "dash": "dash"}})
    layout = _layout(title, xaxis={"domain": [0, 0.46], "dtick": 1, "title": {"text": "小学（标准 ≤ 0.50）"}},
                     xaxis2={"domain": [0.54, 1], "dtick": 1, "title": {"text": "初中（标准 ≤ 0.45）"}},
                     yaxis={"title": {"text": "差异系数"}, "rangemode": "tozero"},
                     yaxis2={"anchor": "x2", "rangemode": "tozero"}, shapes=shapes, height=520,
                     legend={"orientation": "h", "y": -0.25})
    return {"data": data, "layout": layout}


def school_positions(schools: pl.DataFrame, cv: pl.DataFrame, thresholds: dict) -> dict | None:
    """For each CV that fails: every school's value against the county value (X̄) and the standard,
    lowest first, so a leader sees which schools sit below the standard and below the county
    (the ones to raise) and which sit far above it. One view per failing CV, switched by a menu.
    None when every CV passes."""
    failing = cv.filter(pl.col("cv_meets") == False).sort("cv", descending=True)  # noqa: E712
    if failing.height == 0:
        return None
    by_level = schools.partition_by("level", as_dict=True)
    data, buttons, shapes_per_view = [], [], []
    for k, r in enumerate(failing.iter_rows(named=True)):
        s = by_level.get((r["level"],))
        s = (s if s is not None else schools.head(0)).drop_nulls(r["indicator"]).sort(r["indicator"])
        thr = thresholds[(r["level"], r["indicator"])]
        values = s.get_column(r["indicator"]).to_list()
        colour = ["#c53030" if v < thr else ("#dd6b20" if v < r["county_value"] else "#2b6cb0") for v in values]
        data.append({
            "type": "scatter", "mode": "markers", "visible": k == 0, "x": values,
            "y": s.get_column("school_name").to_list(), "marker": {"color": colour, "size": 9},
            "customdata": s.get_column("students").to_list(), "showlegend": False,
            "hovertemplate": "%{y}<br>指标值 %{x:,.2f}<br>在校生 %{customdata:,}<extra></extra>",
        })
        shapes_per_view.append([
            {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": thr, "x1": thr,
             "line": {"color": "#c53030", "dash": "dash"}},
            {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": r["county_value"], "x1": r["county_value"],
             "line": {"color": "#4a5568"}}])
        label = f"{LEVEL_ZH[r['level']]}·{IND_ZH[r['indicator']]}（差异系数 {r['cv']:.3f}，标准 ≤ {r['cv_threshold']:.2f}）"
        # the two labels point away from each other, so they never overlap
        left = thr <= r["county_value"]
        annotations = [
            {"x": thr, "y": 1, "yref": "paper", "text": f"标准 {thr:,.4g}", "showarrow": False, "yanchor": "bottom",
             "xanchor": "right" if left else "left", "font": {"color": "#c53030"}},
            {"x": r["county_value"], "y": 1, "yref": "paper", "text": f"县域均值 {r['county_value']:,.2f}",
             "showarrow": False, "yanchor": "bottom", "xanchor": "left" if left else "right",
             "font": {"color": "#4a5568"}}]
        buttons.append({"label": label, "method": "update",
                        "args": [{"visible": [i == k for i in range(failing.height)]},
                                 {"shapes": shapes_per_view[-1], "annotations": annotations,
                                  "xaxis.title.text": f"{IND_ZH[r['indicator']]}（{IND_UNIT[r['indicator']]}）"}]})
    first = buttons[0]["args"][1]
    rows = max(len(d["y"]) for d in data)
    layout = _layout("", xaxis={"title": {"text": first["xaxis.title.text"]}, "rangemode": "tozero"},
                     yaxis={"automargin": True, "dtick": 1}, height=max(360, 18 * rows + 160),
                     shapes=first["shapes"], annotations=first["annotations"],
                     margin={"l": 60, "r": 20, "t": 70, "b": 60},
                     updatemenus=[{"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.0,
                                   "yanchor": "bottom", "pad": {"b": 24}}] if len(buttons) > 1 else [])
    return {"data": data, "layout": layout}


def plan_block(brief) -> str:
    """如何达标: the county's plan in plain Chinese (the same text ``junheng plan`` prints)."""
    parts = [f"<section class='plan'><h2>如何达标</h2><p class='lead'>{_esc(brief.headline)}</p>"]
    if brief.items:
        rows = [[(_esc(i.name), i.name, ""), (_esc(i.now), i.now, ""), (_esc(i.standard), i.standard, ""),
                 (_esc(i.gap), i.gap, "fail"), (_esc(i.plan), i.plan, "")] for i in brief.items]
        parts.append(_table(["未达标的资源配置项目", "现状", "标准", "差距", "方案"], rows, text_cols=5))
    for line in (brief.adds, brief.costs):
        if line:
            parts.append(f"<p><strong>{_esc(line)}</strong></p>")
    if brief.blockers:
        parts.append("<p class='warning'><strong>资源投入解决不了、须另行解决：</strong>"
                     + "；".join(_esc(b) for b in brief.blockers) + "。</p>")
    if brief.schools:
        rows = [[(_esc(s.school), s.school, ""), (_esc(s.level), s.level, ""), (_esc(s.needs), s.needs, "")]
                for s in brief.schools]
        parts.append("<h3>各校需要增加</h3>" + _table(["学校", "学段", "需要增加（校舍、场地、设备、教室按全校填报口径）"],
                                                  rows, text_cols=3))
    parts += [f"<p class='note'>{_esc(n)}</p>" for n in brief.notes]
    return "".join(parts) + "</section>"


def province_plan_block(plan: dict | None, county_plans: pl.DataFrame) -> str:
    """全省达标路径: counties needed for the next milestone, the ranked cost of each county's plan,
    and the cheapest set that meets the target (or why resources alone cannot)."""
    if plan is None:
        return ""
    chosen = set(plan["cheapest_set"] or [])
    rows = []
    for r in county_plans.sort("choice_weight").iter_rows(named=True):
        blockers = "；".join(r["non_resource_failing_item_names"] or [])
        rows.append([
            (f'<a href="../county/{r["county_code"]}.html">{_esc(r["county_name"])}</a>', r["county_name"], ""),
            ("是" if r["county_code"] in chosen else "", "1" if r["county_code"] in chosen else "0",
             "pass" if r["county_code"] in chosen else ""),
            (f"{r['teachers_added']:,.0f}", str(r["teachers_added"]), ""),
            (f"{r['teaching_area_added_m2'] + r['sports_area_added_m2']:,.0f}",
             str(r["teaching_area_added_m2"] + r["sports_area_added_m2"]), ""),
            (yuan(r["capital_cost_yuan"]), str(r["capital_cost_yuan"]), ""),
            (yuan(r["recurring_cost_yuan_per_year"]), str(r["recurring_cost_yuan_per_year"]), ""),
            (_esc(blockers) or "无（只差资源配置）", blockers, "fail" if blockers else "pass"),
        ])
    head = f"<h2>到 {plan['milestone_year']} 年的达标路径</h2><p class='lead'>{_esc(plan['note'])}</p>"
    if plan["reachable"] and plan["counties_needed"]:
        head += (f"<p>投入最少的一组县：一次性投入 {yuan(plan['cheapest_set_capital_cost_yuan'])}，"
                 f"每年经常性支出 {yuan(plan['cheapest_set_recurring_cost_yuan_per_year'])}（两者分列，不相加）。</p>")
    note = ("<p class='note'>按资源方案的投入排序（一次性投入加上教师年支出按政策设定的年数折算，仅用于排序）。"
            "单价为估算（假设），各地应以本地数据替换。</p>")
    table = _table(["县", "入选最省组合", "新增教师（名）", "新增校舍与场地（㎡）", "一次性投入", "每年经常性支出",
                    "资源以外须解决的项目"], rows) if rows else ""
    return head + note + table


# ---- pages -----------------------------------------------------------------------------------


def _status_badge(status: str) -> str:
    return f'<span class="badge {status}">{STATUS_ZH[status]}</span>'


def county_page(code: str, pub_year: int, d: dict[str, pl.DataFrame], thresholds: dict) -> str:
    card = d["scorecard"].row(0, named=True)
    cv_year, schools = d["cv_year"], d["schools"]  # this year's CVs and units (sorted by level and name)
    prog = d["progress"].row(0, named=True) if d["progress"].height else {}
    items = d["items"]
    names = dict(items.select("item", "item_name").unique("item").iter_rows())
    failing = card["failing_items"] or []
    stuck = items.filter((pl.col("verdict") == "fail") & pl.col("projected_pass_year").is_null())
    if card["status"] == "quality_balanced":
        outlook = "已达到优质均衡"
    elif prog.get("projected_year"):
        outlook = f"按当前进度预计 {prog['projected_year']} 年达到优质均衡"
    elif stuck.height:
        outlook = "按当前进度无法达到，卡在：" + "、".join(stuck.get_column("item_name").to_list())
    else:
        outlook = "数据不足，无法判断"
    body = [
        f"<h1>{_esc(card['county_name'])}（{code}）{_status_badge(card['status'])}</h1>",
        f"<p>{_esc(card['province'])} · {pub_year} 学年 · {_esc(outlook)}</p>",
        "<p>" + " ".join(
            f"{y} 年：{'能' if prog.get(f'on_track_{y}') else ('不能' if prog.get(f'on_track_{y}') is False else '无法判断')}"
            for y in (2027, 2030, 2035)) + "（按当前进度）</p>",
        "<h2>未达标项目</h2>",
        "<ul>" + "".join(f"<li>{_esc(names.get(i, i))}</li>" for i in failing) + "</ul>"
        if failing else "<p>无未达标项目。</p>",
    ]
    plan_rows = d["county_plan"]
    body.append(plan_block(county_brief(card, cv_year, schools, plan_rows.row(0, named=True) if plan_rows.height else None,
                                        d["unit_plan"])))
    body.append(
        f"<p>学校数据：学校表中 {card['schools_in_file']} 所，参加评估 {card['schools_assessed']} 所，"
        f"按规定不参评 {card['schools_excluded_by_policy']} 所，数据有误被隔离 {card['schools_quarantined']} 所。</p>")
    if card["schools_quarantined"]:
        body.append(
            "<p class='warning'><strong>数据不完整：</strong>以下学校的数据有误、未参加评估，本县的资源配置无法判定达标。"
            "请县统计人员按问题清单（quarantine_report.xlsx）改正后重新报送："
            + "、".join(_esc(s) for s in card["quarantined_schools"]) + "</p>")
    if card["insufficient_items"]:
        body.append("<p class='note'>缺少数据：" + "、".join(_esc(names.get(i, i)) for i in card["insufficient_items"])
                    + "</p>")
    figures: dict[str, dict] = {}
    figures["indicators"] = indicators_vs_threshold(cv_year, thresholds, "七项指标：县域均值与标准（小学、初中）")
    figures["cv_trend"] = cv_trends(d["cv"], "差异系数及其变化（虚线为标准）")
    positions = school_positions(schools, cv_year, thresholds)
    if positions:
        figures["positions"] = positions
    body += ["<h2>七项资源配置指标</h2>", _div("indicators"), "<h2>校际差异系数</h2>", _div("cv_trend", 520),
             "<h2>差异系数未达标：各校处在哪一边</h2>"]
    if positions:
        body += ["<p class='note'>每个点是一所学校（评估单元）。红色：低于标准；橙色：达到标准但低于县域均值；"
                 "蓝色：高于县域均值。红色虚线为标准，灰线为县域均值。把红色、橙色的学校提上来，差异系数就会下降。</p>",
                 _div("positions", positions["layout"]["height"])]
    else:
        body.append("<p>14 项校际差异系数全部达标。</p>")
    # the school table
    headers = ["学校", "学段", "类型", "在校生"] + [IND_ZH[i.code] for i in INDICATORS] + ["达标指标数", "学校达标"]
    rows = []
    for r in schools.iter_rows(named=True):
        cells = [(_esc(r["school_name"]), r["school_name"], ""), (LEVEL_ZH[r["level"]], r["level"], ""),
                 (KIND_ZH.get(r["unit_kind"], r["unit_kind"]), r["unit_kind"], ""), (f"{r['students']:,}", str(r["students"]), "")]
        for ind in INDICATORS:
            v, thr = r[ind.code], thresholds.get((r["level"], ind.code))
            cls = "missing" if v is None else ("pass" if thr is not None and v >= thr else "fail")
            cells.append((_num(v), "" if v is None else f"{v}", cls))
        ok = r["meets_school_standard"]
        cells += [(str(r["indicators_met"]), str(r["indicators_met"]), ""),
                  ("是" if ok else ("否" if ok is False else "—"), str(ok), "pass" if ok else "fail")]
        rows.append(cells)
    body += ["<h2>学校（评估单元）一览</h2><p class='note'>点击表头排序；绿色为达到标准，红色为未达到。</p>",
             _table(headers, rows, text_cols=3)]
    # items
    item_rows = []
    for r in items.iter_rows(named=True):  # sorted by area and item
        if r["area"] == "resource":
            continue
        cls = {"pass": "pass", "fail": "fail"}.get(r["verdict"], "missing")
        thr = "" if r["threshold"] is None else f"{r['op']} {r['threshold']:g}"
        value = "—" if r["value"] is None else (("是" if r["value"] == 1 else "否") if r["op"] in ("yes", "no")
                                                 else _num(r["value"]))
        item_rows.append([(AREA_ZH[r["area"]], r["area"], ""), (_esc(r["item_name"]), r["item"], ""),
                          (value, "" if r["value"] is None else str(r["value"]), ""),
                          (_esc(thr or ("须为“是”" if r["op"] == "yes" else "须为“否”")), thr, ""),
                          ("国家标准" if r["rule"] == "national" else f"{_esc(r['rule'])}省级标准", r["rule"], ""),
                          (VERDICT_ZH[r["verdict"]], r["verdict"], cls),
                          (TREND_ZH.get(r["trend_note"], r["trend_note"]) +
                           (f"，预计 {r['projected_pass_year']} 年达标" if r["projected_pass_year"] else ""),
                           r["trend_note"], "")])
    body += ["<h2>政府保障程度、教育质量、社会认可度与一票否决</h2>",
             _table(["方面", "项目", "数值", "标准", "标准来源", "判定", "趋势"], item_rows, text_cols=2)]
    return _page(f"{card['county_name']} 优质均衡评估", 1, body, figures)


def province_page(code: str, pub_year: int, pub: Published, cards: pl.DataFrame, cv: pl.DataFrame,
                  items: pl.DataFrame) -> str:
    name = cards.get_column("province")[0]
    prog = pub.province_progress.filter((pl.col("province_code") == code) & (pl.col("year") == pub_year))
    p = prog.row(0, named=True) if prog.height else {}
    names = dict(cards.select("county_code", "county_name").iter_rows())
    pplan = pub.province_plan.filter((pl.col("province_code") == code) & (pl.col("year") == pub_year))
    figures = {
        "path": milestone_path(pub.province_progress, pub.milestones, code, name),
        "ranked": ranked_counties(cards, f"各县未达标项目数（{pub_year} 学年，越多离优质均衡越远）"),
        "heatmap": cv_heatmap(cv, names, f"各县 14 项校际差异系数（{pub_year} 学年，红色为超过标准）"),
        "failures": common_failures(cards, items, f"最常见的未达标项目（{pub_year} 学年）"),
    }
    target = p.get("next_milestone_target_share")
    summary = (f"{pub_year} 学年：{p.get('counties_quality_balanced')}/{p.get('counties')} 个县达到优质均衡"
               f"（{_pct(p.get('share_quality_balanced'))}）。")
    if target is not None:
        summary += (f" 下一目标：{p['next_milestone_year']} 年 {_pct(target)}"
                    f"{'（“绝大多数”按 ' + _pct(target) + ' 解读，为假设）' if p['target_is_assumption'] else ''}；"
                    f"按当前进度预计届时 {_pct(p['projected_share_at_milestone'])}，"
                    f"{'可以按期达标' if p['on_track'] else '难以按期达标'}。")
    rows = [[(f'<a href="../county/{c}.html">{_esc(n)}</a>', n, ""), (STATUS_ZH[s], s, ""),
             (str(len(f or [])), str(len(f or [])), "")]
            for c, n, s, f in cards.sort("county_name").select("county_code", "county_name", "status",
                                                                "failing_items").iter_rows()]
    body = [f"<h1>{_esc(name)} 县域义务教育优质均衡进展</h1>", f"<p>{summary}</p>",
            _div("path"),
            province_plan_block(pplan.row(0, named=True) if pplan.height else None,
                                pub.county_plan.filter((pl.col("year") == pub_year) & (pl.col("province_code") == code))),
            "<h2>各县距离优质均衡</h2>", _div("ranked", max(380, 22 * cards.height + 120)),
            "<h2>校际差异系数热力图</h2>", _div("heatmap", max(420, 28 * cards.height + 260)),
            "<h2>最常见的未达标项目</h2>", _div("failures", 460),
            "<h2>各县页面</h2>", _table(["县", "结论", "未达标项目数"], rows)]
    return _page(f"{name} 优质均衡进展", 1, body, figures)


def index_page(pub: Published, pub_year: int, run_time: str) -> str:
    prog = pub.province_progress.filter(pl.col("year") == pub_year).sort("province_code")
    rows = []
    for p in prog.iter_rows(named=True):
        rows.append([(f'<a href="province/{p["province_code"]}.html">{_esc(p["province"])}</a>', p["province"], ""),
                     (str(p["counties"]), str(p["counties"]), ""),
                     (str(p["counties_quality_balanced"]), str(p["counties_quality_balanced"]), ""),
                     (_pct(p["share_quality_balanced"]), str(p["share_quality_balanced"]), ""),
                     (f"{p['next_milestone_year'] or '—'} 年 {_pct(p['next_milestone_target_share'])}"
                      f"{'（假设）' if p['target_is_assumption'] else ''}", str(p["next_milestone_year"]), ""),
                     ({True: "是", False: "否"}.get(p["on_track"], "—"), str(p["on_track"]),
                      {True: "pass", False: "fail"}.get(p["on_track"], "missing"))])
    cards = pub.scorecard.filter(pl.col("year") == pub_year).sort(["province_code", "county_name"])
    links = "".join(f'<a href="county/{c}.html">{_esc(n)} <span class="badge {s}">{STATUS_ZH[s]}</span></a>'
                    for c, n, s in cards.select("county_code", "county_name", "status").iter_rows())
    counts = cards.group_by("status").len()
    overview = "，".join(f"{STATUS_ZH[s]} {n} 个" for s, n in counts.sort("status").iter_rows())
    body = [
        "<h1>县域义务教育优质均衡发展评估 · 总览</h1>",
        f"<p>数据学年：{pub_year}（已发布学年：{', '.join(str(y) for y in sorted(pub.scorecard['year'].unique()))}）"
        f" · 生成时间：{_esc(run_time)} · 共 {cards.height} 个县：{overview}。</p>",
        "<h2>假设与口径</h2><ul>",
        f"<li>{_esc(pub.assumptions.get('vast_majority_note', ''))}</li>",
        "<li>差异系数按在校生加权（总体形式），小学 ≤ 0.50、初中 ≤ 0.45；三位小数显示，全精度比较。</li>",
        "<li>缺少数据的项目判为“数据不足”，不计为达标。</li>",
        "<li>预计达标年份按各项目历年线性趋势推算；定性项目、一票否决项和仅有一年数据的项目不作推算。</li>",
        "</ul>",
        "<h2>各省进展</h2>",
        _table(["省份", "县数", "达到优质均衡", "比例", "下一目标", "按当前进度能否达标"], rows),
        "<h2>各县</h2>", f'<div class="grid">{links}</div>',
    ]
    return _page("优质均衡评估总览", 0, body, {})


def build_dashboards(out_dir: Path, dest: Path | None = None, run_time: str | None = None) -> dict:
    """Write every page under ``dest`` (default ``out_dir/dashboards``) from the Parquet in ``out_dir``."""
    out_dir = Path(out_dir)
    final = Path(dest or out_dir / "dashboards")
    started = time.perf_counter()
    pub = load_published(out_dir)
    pub_year = int(pub.scorecard.get_column("year").max())
    run_time = run_time or time.strftime("%Y-%m-%d %H:%M")
    # The site is written whole into a fresh folder, then swapped in: a reader sees the old site
    # or the new one, and thousands of pages need no file-by-file sync.
    dest = final.with_name(f".{final.name}.{os.getpid()}.new")
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "assets").mkdir(parents=True)
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", dest / "assets" / "plotly.min.js")
    for asset in ASSETS.iterdir():
        shutil.copyfile(asset, dest / "assets" / asset.name)

    def write(rel: str, text: str) -> None:
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    write("index.html", index_page(pub, pub_year, run_time))
    year_cards = pub.scorecard.filter(pl.col("year") == pub_year)
    year_cv = pub.cv.filter(pl.col("year") == pub_year)
    year_items = pub.items.filter(pl.col("year") == pub_year)
    for code in sorted(year_cards.get_column("province_code").unique()):
        write(f"province/{code}.html", province_page(
            code, pub_year, pub, year_cards.filter(pl.col("province_code") == code),
            year_cv.filter(pl.col("province_code") == code), year_items.filter(pl.col("province_code") == code)))

    thresholds = _thresholds(pub.thresholds)
    parts = {
        "scorecard": year_cards.partition_by("county_code", as_dict=True),
        "progress": pub.county_progress.filter(pl.col("year") == pub_year).partition_by("county_code", as_dict=True),
        "items": year_items.sort("area", "item").partition_by("county_code", as_dict=True),
        "cv": pub.cv.partition_by("county_code", as_dict=True),
        "cv_year": year_cv.partition_by("county_code", as_dict=True),
        "schools": pub.schools.filter(pl.col("year") == pub_year).sort("level", "school_name")
                              .partition_by("county_code", as_dict=True),
        "county_plan": pub.county_plan.filter(pl.col("year") == pub_year).partition_by("county_code", as_dict=True),
        "unit_plan": pub.unit_plan.filter(pl.col("year") == pub_year).partition_by("county_code", as_dict=True),
    }
    empty = {k: next(iter(v.values())).head(0) if v else pl.DataFrame() for k, v in parts.items()}
    pages = 0
    for (code,) in parts["scorecard"]:
        d = {k: v.get((code,), empty[k]) for k, v in parts.items()}
        write(f"county/{code}.html",
              county_page(code, pub_year, d, thresholds.get(d["scorecard"]["province_code"][0], {})))
        pages += 1
    _swap_in(dest, final)
    return {"pages": pages + 1 + year_cards["province_code"].n_unique(), "seconds": time.perf_counter() - started,
            "dest": str(final)}


def _swap_in(new: Path, final: Path) -> None:
    """Replace the folder ``final`` with ``new`` by two renames (a folder cannot be replaced in one)."""
    old = final.with_name(f".{final.name}.{os.getpid()}.old")
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)
    for stale in final.parent.glob(f".{final.name}.*"):  # left by a run that was killed mid-build
        shutil.rmtree(stale, ignore_errors=True)


def _thresholds(reference: pl.DataFrame) -> dict[str, dict]:
    """{province_code: {(level, indicator): threshold}} from the published reference table."""
    out: dict[str, dict] = {}
    for code, level, ind, thr in reference.select("province_code", "level", "indicator", "threshold").iter_rows():
        out.setdefault(code, {})[(level, ind)] = thr
    return out
