"""The dashboards' figures, as plain Plotly JSON built from the published tables.

One fixed colour per indicator and per status in every chart; short indicator names on axes
(the full official names are in the hover); the heat map's colours break hard at the ceiling.
"""

from __future__ import annotations

import polars as pl

from junheng.brief import LEVEL_ZH
from junheng.contract import INDICATORS

STATUS_ZH = {"quality_balanced": "达到优质均衡", "not_yet": "尚未达到", "insufficient_data": "数据不足"}
STATUS_COLOUR = {"quality_balanced": "#2f855a", "not_yet": "#c53030", "insufficient_data": "#718096"}
IND_ZH = {i.code: i.zh for i in INDICATORS}
IND_SHORT = {i.code: i.short for i in INDICATORS}
IND_UNIT = {i.code: i.unit_zh for i in INDICATORS}
IND_COLOUR = dict(zip((i.code for i in INDICATORS),
                      ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")))
FONT = {"family": "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"}
# CV / ceiling: greens up to 1, then a clearly different red from just above 1 (no pale middle)
CV_COLOURS = [[0, "#1b7837"], [0.3, "#7fbf7b"], [0.4999, "#d9f0d3"], [0.5, "#e34a33"], [0.75, "#b30000"],
              [1, "#67001f"]]


def layout(**extra) -> dict:
    """The shared layout. Figures carry no title: the page's heading above each one is its title,
    and a title inside the chart would compete with legends and labels for the same space."""
    out = {"font": FONT, "margin": {"l": 60, "r": 30, "t": 40, "b": 60},
           "hoverlabel": {"font": FONT}, "separators": ".,"}
    out.update(extra)
    return out


def cv_heatmap(cv: pl.DataFrame, names: dict[str, str]) -> dict:
    """Counties × the 14 CVs in two panels (小学, 初中), short indicator names across the top,
    coloured by CV / ceiling with a hard break at the ceiling."""
    counties = sorted(cv.get_column("county_code").unique().to_list())
    lookup = {(r["county_code"], r["level"], r["indicator"]): r for r in cv.iter_rows(named=True)}
    data = []
    for k, (lv, zh) in enumerate(LEVEL_ZH.items()):
        z, text, hover = [], [], []
        for code in counties:
            row_z, row_t, row_h = [], [], []
            for ind in INDICATORS:
                r = lookup.get((code, lv, ind.code))
                ok = r is not None and r["cv"] is not None
                row_z.append(min(r["cv"] / r["cv_threshold"], 2.0) if ok else None)
                row_t.append(f"{r['cv']:.3f}" if ok else "无")
                row_h.append(f"{ind.zh}，标准 ≤ {r['cv_threshold']:.2f}" if r is not None else ind.zh)
            z.append(row_z)
            text.append(row_t)
            hover.append(row_h)
        axis = "" if k == 0 else "2"
        data.append({
            "type": "heatmap", "name": zh, "z": z, "x": [ind.short for ind in INDICATORS],
            "y": [names.get(c, c) for c in counties], "text": text, "customdata": hover,
            "texttemplate": "%{text}", "zmin": 0, "zmax": 2, "colorscale": CV_COLOURS, "xgap": 2, "ygap": 2,
            "showscale": k == 1, "xaxis": f"x{axis}", "yaxis": f"y{axis}",
            "colorbar": {"title": {"text": "差异系数<br>÷ 标准"}, "tickvals": [0, 0.5, 1, 1.5, 2],
                         "ticktext": ["0", "0.5", "1（标准）", "1.5", "≥ 2"]},
            "hovertemplate": f"%{{y}} · {zh}<br>%{{customdata}}<br>差异系数 %{{text}}<extra></extra>",
        })
    height = max(360, 30 * len(counties) + 180)
    return {"data": data, "layout": layout(
        height=height, margin={"l": 60, "r": 30, "t": 110, "b": 30},
        xaxis={"domain": [0, 0.46], "side": "top", "tickangle": -30},
        xaxis2={"domain": [0.54, 1], "side": "top", "tickangle": -30},
        yaxis={"automargin": True, "autorange": "reversed"},
        yaxis2={"anchor": "x2", "autorange": "reversed", "showticklabels": False, "ticks": "", "matches": "y"},
        annotations=[{"text": f"<b>{zh}</b>", "xref": "paper", "yref": "paper", "x": x, "y": 1, "yshift": 70,
                      "showarrow": False, "xanchor": "center"} for zh, x in zip(LEVEL_ZH.values(), (0.23, 0.77))])}


def _targets(milestones: pl.DataFrame, province_code: str) -> pl.DataFrame:
    shares = milestones.filter((pl.col("kind") == "share_of_counties") & pl.col("year").is_not_null())
    own = shares.filter(pl.col("jurisdiction") == province_code)
    return (own if own.height else shares.filter(pl.col("jurisdiction") == "national")).sort("year")


def _pace(p: dict, year: int) -> float | None:
    """The share at ``year`` at the province's current pace (least squares), within 0-100%."""
    if p.get("share_per_year") is None:
        return None
    return min(1.0, max(0.0, p["share_quality_balanced"] + p["share_per_year"] * (year - p["year"])))


def milestone_path(progress: pl.DataFrame, milestones: pl.DataFrame, province_code: str) -> dict:
    """Actual share of counties per year, the current pace carried forward, and the targets."""
    p = progress.filter(pl.col("province_code") == province_code).sort("year")
    targets = _targets(milestones, province_code)
    years = p.get_column("year").to_list()
    latest = p.row(-1, named=True)
    labels = [f"{y} 年目标 {s:.0%}" + ("（假设）" if a else "")
              for y, s, a in targets.select("year", "target_share", "target_is_assumption").iter_rows()]
    data = [
        {"type": "bar", "name": "实际", "x": years, "y": p.get_column("share_quality_balanced").to_list(),
         "marker": {"color": "#2b6cb0"}, "text": [f"{v:.0%}" for v in p.get_column("share_quality_balanced")],
         "textposition": "outside", "cliponaxis": False, "hovertemplate": "%{x} 学年：%{y:.0%}<extra></extra>"},
        {"type": "scatter", "mode": "markers+text", "name": "目标", "x": targets.get_column("year").to_list(),
         "y": targets.get_column("target_share").to_list(), "text": labels,
         # the last target's label reads leftwards, so the right edge never cuts it
         "textposition": ["top center"] * (targets.height - 1) + ["top left"] if targets.height else "top center",
         "cliponaxis": False, "marker": {"symbol": "diamond", "size": 13, "color": "#c53030"},
         "hovertemplate": "%{text}<extra></extra>"},
    ]
    horizon = max([*years, *targets.get_column("year").to_list()])
    if latest.get("share_per_year") is not None:
        xs = list(range(latest["year"], horizon + 1))
        data.append({"type": "scatter", "mode": "lines", "name": "按当前进度", "x": xs,
                     "y": [_pace(latest, x) for x in xs], "line": {"dash": "dot", "color": "#2b6cb0"},
                     "hovertemplate": "按当前进度 %{x} 年：%{y:.0%}<extra></extra>"})
    return {"data": data, "layout": layout(
        yaxis={"tickformat": ".0%", "range": [0, 1.25], "title": {"text": "县比例"}},
        xaxis={"dtick": 1 if horizon - years[0] <= 8 else 2, "range": [years[0] - 0.7, horizon + 0.9],
               "title": {"text": "学年"}},
        legend={"orientation": "h", "y": -0.2}, margin={"l": 60, "r": 40, "t": 50, "b": 80})}


def ranked_counties(cards: pl.DataFrame) -> dict:
    """Counties ranked by how many items fail, the furthest at the top, coloured by status with a
    legend; a county with nothing failing still shows its status."""
    c = cards.with_columns(pl.col("failing_items").list.len().alias("n")).sort(["n", "county_name"],
                                                                               descending=[False, True])
    n = c.get_column("n").to_list()
    status = c.get_column("status").to_list()
    data = [{
        "type": "bar", "orientation": "h", "x": n, "y": c.get_column("county_name").to_list(),
        "marker": {"color": [STATUS_COLOUR[s] for s in status]}, "showlegend": False,
        "text": [f"{k} 项" if k else STATUS_ZH[s] for k, s in zip(n, status)], "textposition": "outside",
        "cliponaxis": False, "customdata": [STATUS_ZH[s] for s in status],
        "hovertemplate": "%{y}：%{customdata}<br>未达标项目 %{x} 项<extra></extra>",
    }]
    for s, zh in STATUS_ZH.items():   # legend entries, one per status
        data.append({"type": "bar", "orientation": "h", "x": [None], "y": [None], "name": zh,
                     "marker": {"color": STATUS_COLOUR[s]}, "hoverinfo": "skip"})
    return {"data": data, "layout": layout(
        xaxis={"dtick": 1, "tickformat": "d", "rangemode": "tozero",
                      "range": [0, max(n + [1]) + 1.5]},
        yaxis={"automargin": True}, barmode="overlay", height=max(380, 24 * c.height + 160),
        legend={"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0}, margin={"l": 60, "r": 30, "t": 40, "b": 90})}


def common_failures(cards: pl.DataFrame, items: pl.DataFrame, top: int = 15) -> dict:
    names = dict(items.select("item", "item_name").unique("item").iter_rows())
    counts = (cards.select(pl.col("failing_items").explode().alias("item")).drop_nulls()
              .group_by("item").len().sort(["len", "item"], descending=[True, False]).head(top)).reverse()
    labels = [_wrap(names.get(i, i), 22) for i in counts.get_column("item")]
    lines = max([label.count("<br>") + 1 for label in labels] + [1])
    return {
        "data": [{"type": "bar", "orientation": "h", "x": counts.get_column("len").to_list(), "y": labels,
                  "customdata": counts.get_column("item").to_list(), "marker": {"color": "#c53030"},
                  "hovertemplate": "%{y}<br>%{x} 个县未达标<extra></extra>"}],
        "layout": layout(xaxis={"title": {"text": "未达标县数"}, "dtick": 1, "tickformat": "d"},
                         yaxis={"automargin": True}, height=max(360, (18 * lines + 12) * counts.height + 120)),
    }


def _wrap(text: str, width: int) -> str:
    """Break a long item name at punctuation where possible, else every ``width`` characters."""
    out, line = [], ""
    for ch in text:
        line += ch
        if len(line) >= width or (ch in "，、：；（" and len(line) >= width * 0.6):
            out.append(line)
            line = ""
    return "<br>".join(out + ([line] if line else []))


def indicators_vs_threshold(cv: list[dict], thresholds: dict) -> dict:
    """County value X̄ of each indicator as a share of its threshold, per level (``cv``: the
    county's county_cv rows of the year)."""
    data = []
    for lv, zh in LEVEL_ZH.items():
        rows = {r["indicator"]: r for r in cv if r["level"] == lv}
        x, y, text = [], [], []
        for ind in INDICATORS:
            r, thr = rows.get(ind.code), thresholds.get((lv, ind.code))
            if r is None or thr is None or r["county_value"] is None:
                continue
            x.append(ind.short)
            y.append(r["county_value"] / thr)
            text.append(f"{ind.zh}<br>县域均值 {r['county_value']:,.2f}，标准 {thr:g} {ind.unit_zh}")
        data.append({"type": "bar", "name": zh, "x": x, "y": y, "customdata": text, "texttemplate": "%{y:.0%}",
                     "textposition": "outside", "cliponaxis": False,
                     "marker": {"color": "#2b6cb0" if lv == "primary" else "#dd6b20"},
                     "hovertemplate": zh + "：%{customdata}<br>为标准的 %{y:.0%}<extra></extra>"})
    return {"data": data, "layout": layout(
        yaxis={"tickformat": ".0%", "title": {"text": "县域均值 ÷ 标准"}, "rangemode": "tozero"},
        xaxis={"automargin": True},
        shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                 "line": {"color": "#c53030", "dash": "dash"}}], barmode="group",
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"}, margin={"l": 60, "r": 30, "t": 40, "b": 90})}


def cv_trends(cv_all_years: list[dict]) -> dict:
    """Each CV against its ceiling over the years: one panel per level, one colour per indicator
    in both panels, one legend entry per indicator (``cv_all_years``: the county's county_cv rows)."""
    data, shapes, annotations = [], [], []
    series: dict[tuple[str, str], tuple[list, list]] = {}
    ceiling: dict[str, float] = {}
    for r in sorted(cv_all_years, key=lambda r: r["year"]):
        xs, ys = series.setdefault((r["level"], r["indicator"]), ([], []))
        xs.append(r["year"])
        ys.append(r["cv"])
        ceiling.setdefault(r["level"], r["cv_threshold"])
    shown: set[str] = set()
    for k, (lv, zh) in enumerate(LEVEL_ZH.items()):
        axis = "" if k == 0 else "2"
        for ind in INDICATORS:
            if (lv, ind.code) not in series:
                continue
            xs, ys = series[(lv, ind.code)]
            data.append({"type": "scatter", "mode": "lines+markers", "name": ind.short, "legendgroup": ind.code,
                         "showlegend": ind.code not in shown, "x": xs, "y": ys, "xaxis": f"x{axis}",
                         "yaxis": f"y{axis}", "line": {"color": IND_COLOUR[ind.code]},
                         "marker": {"color": IND_COLOUR[ind.code]},
                         "hovertemplate": f"{zh}·{ind.zh}<br>%{{x}} 学年：%{{y:.3f}}<extra></extra>"})
            shown.add(ind.code)
        if lv in ceiling:
            thr = ceiling[lv]
            shapes.append({"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}", "x0": 0, "x1": 1,
                           "y0": thr, "y1": thr, "line": {"color": "#c53030", "dash": "dash"}})
            annotations.append({"text": f"<b>{zh}</b>（标准 ≤ {thr:.2f}）", "xref": f"x{axis} domain", "yref": "paper",
                                "x": 0.5, "y": 1.0, "yanchor": "bottom", "showarrow": False})
    years = sorted({r["year"] for r in cv_all_years}) or [0]
    xaxis = {"dtick": 1, "range": [years[0] - 0.3, years[-1] + 0.3]}

    def top(level: str) -> float:  # room above the ceiling line for the panel's title
        values = [v for (lv, _), (_, ys) in series.items() if lv == level for v in ys if v is not None]
        return 1.15 * max(values + [ceiling.get(level, 0.5)])

    return {"data": data, "layout": layout(
        xaxis={**xaxis, "domain": [0, 0.46]}, xaxis2={**xaxis, "domain": [0.54, 1]},
        yaxis={"title": {"text": "差异系数"}, "range": [0, top("primary")]},
        yaxis2={"anchor": "x2", "range": [0, top("junior")]},
        shapes=shapes, annotations=annotations, height=480, margin={"l": 60, "r": 30, "t": 80, "b": 40},
        legend={"orientation": "h", "y": -0.12, "yanchor": "top"})}


# a school below the standard, at or above it but below the county value, at or above both
POSITION_COLOURS = ["#c53030", "#dd6b20", "#2b6cb0"]


def school_positions(schools: dict[str, list], cv: list[dict], thresholds: dict, table: str) -> dict | None:
    """For each CV that fails: every school's value against the county value (X̄) and the standard,
    lowest first, so a leader sees which schools sit below the standard and below the county
    (the ones to raise) and which sit far above it. One view per failing CV, switched by a menu.
    None when every CV passes.

    The points are the school table's own rows (``table``: its id): ``assets/dashboard.js``
    takes each view's level and indicator from ``points`` and places and colours its schools
    from the rows the table is drawn from, so the page carries each school's values once. (As
    points here, each school's name and value travelled again for every failing CV: a fifth of a
    national run's county pages.)"""
    failing = sorted((r for r in cv if r["cv_meets"] is False), key=lambda r: -r["cv"])
    if not failing:
        return None
    column = {i.code: k for k, i in enumerate(INDICATORS)}
    data, buttons, views, rows = [], [], [], 0
    for k, r in enumerate(failing):
        ind, level = r["indicator"], r["level"]
        values = schools[ind]
        rows = max(rows, sum(1 for lv, v in zip(schools["level"], values) if lv == level and v is not None))
        thr = thresholds[(level, ind)]
        views.append({"level": level, "indicator": column[ind], "threshold": thr, "county_value": r["county_value"]})
        data.append({
            "type": "scatter", "mode": "markers", "visible": k == 0, "x": [], "y": [], "customdata": [],
            "marker": {"size": 9}, "showlegend": False,
            "hovertemplate": "%{y}<br>指标值 %{x:,.2f}<br>在校生 %{customdata:,}<extra></extra>",
        })
        shapes = [{"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": thr, "x1": thr,
                   "line": {"color": "#c53030", "dash": "dash"}},
                  {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": r["county_value"],
                   "x1": r["county_value"], "line": {"color": "#4a5568"}}]
        left = thr <= r["county_value"]  # the two labels point away from each other
        annotations = [
            {"x": thr, "y": 1, "yref": "paper", "text": f"标准 {thr:,.4g}", "showarrow": False, "yanchor": "bottom",
             "xanchor": "right" if left else "left", "font": {"color": "#c53030"}},
            {"x": r["county_value"], "y": 1, "yref": "paper", "text": f"县域均值 {r['county_value']:,.2f}",
             "showarrow": False, "yanchor": "bottom", "xanchor": "left" if left else "right",
             "font": {"color": "#4a5568"}}]
        label = f"{LEVEL_ZH[level]}·{IND_SHORT[ind]}（{r['cv']:.3f}，标准 ≤ {r['cv_threshold']:.2f}）"
        buttons.append({"label": label, "method": "update",
                        "args": [{"visible": [i == k for i in range(len(failing))]},
                                 {"shapes": shapes, "annotations": annotations,
                                  "xaxis.title.text": f"{IND_ZH[ind]}（{IND_UNIT[ind]}）"}]})
    first = buttons[0]["args"][1]
    return {"data": data, "points": {"table": table, "views": views, "colours": POSITION_COLOURS},
            "layout": layout(
        xaxis={"title": {"text": first["xaxis.title.text"]}, "rangemode": "tozero"},
        yaxis={"automargin": True, "dtick": 1}, height=max(360, 18 * rows + 170),
        shapes=first["shapes"], annotations=first["annotations"], margin={"l": 60, "r": 30, "t": 90, "b": 60},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.0,
                      "yanchor": "bottom", "pad": {"b": 30}}])}


def provinces_overview(progress: pl.DataFrame, milestones: pl.DataFrame, year: int,
                       horizon_years: tuple[int, ...]) -> dict:
    """Every province: its share of counties passing now, where its current pace takes it in each
    milestone year, and its target for that year (diamonds)."""
    p = progress.filter(pl.col("year") == year).sort("province_code")
    names = p.get_column("province").to_list()
    rows = list(p.iter_rows(named=True))
    shades = ("#90cdf4", "#63b3ed", "#4299e1", "#3182ce")
    data = [{"type": "bar", "name": f"{year} 学年（现在）", "x": names, "y": [r["share_quality_balanced"] for r in rows],
             "offsetgroup": "now", "marker": {"color": "#2b6cb0"},
             "text": [f"{r['share_quality_balanced']:.0%}" for r in rows], "textposition": "outside",
             "cliponaxis": False, "hovertemplate": "%{x} 现在：%{y:.0%}<extra></extra>"}]
    for k, y in enumerate(horizon_years):
        paced = [_pace(r, y) for r in rows]
        data.append({"type": "bar", "name": f"按当前进度 {y} 年", "x": names, "y": paced, "offsetgroup": str(y),
                     "marker": {"color": shades[k % len(shades)], "opacity": 0.55},
                     "hovertemplate": f"%{{x}} 按当前进度 {y} 年：%{{y:.0%}}<extra></extra>"})
    # the targets sit over their year's bar: as many scatter groups as bar groups, in the same order
    data.append({"type": "scatter", "mode": "markers", "x": names, "y": [None] * len(names), "offsetgroup": "now",
                 "showlegend": False, "hoverinfo": "skip"})
    for k, y in enumerate(horizon_years):
        # the target in force at year y: the first share-of-counties target at or after it
        targets = []
        for r in rows:
            t = _targets(milestones, r["province_code"]).filter(pl.col("year") >= y)
            targets.append(t["target_share"][0] if t.height and t["year"][0] == y else None)
        data.append({"type": "scatter", "mode": "markers", "name": f"{y} 年目标", "x": names, "y": targets,
                     "offsetgroup": str(y), "showlegend": k == 0, "legendgroup": "target",
                     "marker": {"symbol": "diamond", "size": 12, "color": "#c53030"},
                     "hovertemplate": f"%{{x}} {y} 年目标：%{{y:.0%}}<extra></extra>"})
    next(d for d in data if d.get("legendgroup") == "target")["name"] = "目标（红色菱形）"
    return {"data": data, "layout": layout(
        barmode="group", scattermode="group",
        yaxis={"tickformat": ".0%", "range": [0, 1.15], "title": {"text": "县比例"}},
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"}, height=460)}
