"""Dashboards: the numbers in the figures are the published Parquet's; pages work offline."""

import json
import os
import re
from pathlib import Path

import polars as pl
import pytest

from dashboards.browser import chromium, column_after_sorting, drawn_figure, table_cells, visit
from junheng.contract import INDICATORS

FIGURE = re.compile(r'<script type="application/json" class="figure" data-target="(\w+)">(.*?)</script>', re.S)
pytestmark = pytest.mark.usefixtures("kept_validation_worker")   # see conftest


def figures(page: Path) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in FIGURE.findall(page.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from dagster import DagsterInstance

    from junheng.cli import run_pipeline
    from junheng.paths import POLICY_DIR, SAMPLE_DIR

    tmp = tmp_path_factory.mktemp("dash")
    out = tmp / "out"
    run_pipeline(SAMPLE_DIR / "xlsx", out, tmp / "w.duckdb", POLICY_DIR, instance=DagsterInstance.ephemeral())
    return out


def read(out: Path, table: str, year: int = 2024) -> pl.DataFrame:
    return pl.read_parquet(out / table / f"year={year}" / "part-0.parquet")


def test_pages_for_every_province_and_county(published):
    d = published / "dashboards"
    cards = read(published, "county_scorecard")
    assert (d / "index.html").exists()
    assert sorted(p.stem for p in (d / "province").glob("*.html")) == sorted(cards["province_code"].unique())
    assert sorted(p.stem for p in (d / "county").glob("*.html")) == sorted(cards["county_code"])


def test_pages_shared_between_processes_are_the_pages_written_in_one(published, tmp_path, monkeypatch):
    """A national run writes county pages in several processes, a province each at a time."""
    from dashboards import build

    monkeypatch.setattr(build, "PARALLEL_FROM", 0)
    monkeypatch.setattr(build.os, "cpu_count", lambda: 3)
    shared = build.build_dashboards(published, tmp_path / "shared", run_time="2024-10-01 06:00")
    monkeypatch.setattr(build, "PARALLEL_FROM", 10**9)
    alone = build.build_dashboards(published, tmp_path / "alone", run_time="2024-10-01 06:00")
    assert shared["pages"] == alone["pages"] == len(list((tmp_path / "alone").rglob("*.html")))
    files = sorted(p.relative_to(tmp_path / "alone") for p in (tmp_path / "alone").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "shared") for p in (tmp_path / "shared").rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "shared" / rel).read_bytes() == (tmp_path / "alone" / rel).read_bytes(), rel


def test_a_rebuild_takes_unchanged_county_pages_from_the_site_it_replaces(published, tmp_path):
    """A county page is rebuilt only when its rows changed, and the site is the site a build
    from nothing writes."""
    import shutil

    from dashboards import build

    out = tmp_path / "out"
    shutil.copytree(published, out, ignore=shutil.ignore_patterns("dashboards"))
    first = build.build_dashboards(out, run_time="2024-10-01 06:00")
    again = build.build_dashboards(out, run_time="2024-10-01 06:00")
    assert first["reused"] == 0 and again["reused"] == first["pages"] - 1 - len(list((out / "dashboards" / "province").glob("*.html")))

    cards = out / "county_scorecard" / "year=2024" / "part-0.parquet"
    frame = pl.read_parquet(cards)
    county = frame["county_code"][0]
    frame.with_columns(pl.when(pl.col("county_code") == county).then(pl.lit("改名县")).otherwise(pl.col("county_name"))
                       .alias("county_name")).write_parquet(cards)
    changed = build.build_dashboards(out, run_time="2024-10-01 06:00")
    assert changed["reused"] == again["reused"] - 1
    assert "改名县" in (out / "dashboards" / "county" / f"{county}.html").read_text(encoding="utf-8")

    build.build_dashboards(out, tmp_path / "fresh", run_time="2024-10-01 06:00")
    files = sorted(p.relative_to(tmp_path / "fresh") for p in (tmp_path / "fresh").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out / "dashboards") for p in (out / "dashboards").rglob("*") if p.is_file())
    for rel in files:
        assert (out / "dashboards" / rel).read_bytes() == (tmp_path / "fresh" / rel).read_bytes(), rel


def test_provinces_are_shared_out_by_their_county_counts():
    from dashboards.build import _shares

    shares = _shares({"52": 88, "32": 95, "35": 84, "65": 96, "11": 16}, 2)
    assert sorted(code for share in shares for code in share) == ["11", "32", "35", "52", "65"]
    assert shares == [["65", "35", "11"], ["32", "52"]]   # 196 and 183 counties
    assert _shares({"52": 3}, 4) == [["52"]]


def test_no_network_references_and_plotly_shipped(published):
    d = published / "dashboards"
    assert (d / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    for page in d.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), page
        assert 'lang="zh-CN"' in text


def test_heatmap_is_the_published_cvs(published):
    cv = read(published, "county_cv").filter(pl.col("province_code") == "52")
    panels = figures(published / "dashboards" / "province" / "52.html")["heatmap"]["data"]
    names = dict(read(published, "county_scorecard").select("county_code", "county_name").iter_rows())
    codes = {v: k for k, v in names.items()}
    short = {i.short: i.code for i in INDICATORS}
    assert [p["name"] for p in panels] == ["小学", "初中"]
    for panel, level in zip(panels, ("primary", "junior")):
        assert len(panel["x"]) == 7 and len(panel["y"]) == cv["county_code"].n_unique()
        for row_name, z_row, text_row in zip(panel["y"], panel["z"], panel["text"]):
            for label, z, text in zip(panel["x"], z_row, text_row):
                r = cv.filter((pl.col("county_code") == codes[row_name]) & (pl.col("level") == level)
                              & (pl.col("indicator") == short[label])).row(0, named=True)
                assert z == pytest.approx(min(r["cv"] / r["cv_threshold"], 2.0)) and text == f"{r['cv']:.3f}"
    # the colours break at the ceiling: just under is green, just over is red
    scale = dict((stop, colour) for stop, colour in panels[0]["colorscale"])
    assert scale[0.4999] != scale[0.5] and scale[0.5].startswith("#e")


def test_ranked_counties_and_common_failures(published):
    cards = read(published, "county_scorecard").filter(pl.col("province_code") == "35")
    figs = figures(published / "dashboards" / "province" / "35.html")
    ranked = figs["ranked"]["data"][0]
    got = dict(zip(ranked["y"], ranked["x"]))
    assert got == {n: len(f) for n, f in cards.select("county_name", "failing_items").iter_rows()}
    assert ranked["x"] == sorted(ranked["x"])  # furthest from passing at the top of a horizontal bar chart
    failures = figs["failures"]["data"][0]
    counts = cards.select(pl.col("failing_items").explode()).to_series().value_counts()
    expected = dict(counts.iter_rows())
    assert dict(zip(failures["customdata"], failures["x"])) == {k: expected[k] for k in failures["customdata"]}


def test_milestone_path_is_published_progress_and_targets(published):
    fig = figures(published / "dashboards" / "province" / "65.html")["path"]["data"]
    progress = pl.read_parquet(published / "province_progress" / "**" / "*.parquet").filter(
        pl.col("province_code") == "65").sort("year")
    assert fig[0]["x"] == progress["year"].to_list()
    assert fig[0]["y"] == progress["share_quality_balanced"].to_list()
    assert list(zip(fig[1]["x"], fig[1]["y"])) == [(2027, 0.4), (2035, 1.0)]  # 新疆's plan


def test_county_page_numbers(published):
    cv = read(published, "county_cv").filter(pl.col("county_code") == "320121")
    thresholds = pl.read_parquet(published / "reference" / "indicator_thresholds.parquet").filter(
        pl.col("province_code") == "32")
    figs = figures(published / "dashboards" / "county" / "320121.html")
    primary = figs["indicators"]["data"][0]
    expected = (cv.filter(pl.col("level") == "primary")
                .join(thresholds.filter(pl.col("level") == "primary"), on=["level", "indicator"])
                .with_columns((pl.col("county_value") / pl.col("threshold")).alias("ratio")))
    assert sorted(primary["y"]) == pytest.approx(sorted(expected["ratio"].to_list()))
    trend = figs["cv_trend"]["data"]
    assert len(trend) == 14


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_failing_cvs_show_each_school_against_the_county_value_and_the_standard(published):
    """Each failing CV's view, as the browser draws it: the level's schools lowest first (their
    points come from the school table's rows), coloured against the standard and the county value."""
    cv = read(published, "county_cv")
    # the county with the most failing CVs, so that views after the first are tested too
    code, province = (cv.filter(~pl.col("cv_meets")).group_by("county_code", "province_code").len()
                      .sort("len", "county_code", descending=[True, False]).row(0)[:2])
    schools = read(published, "school_indicators").filter(pl.col("county_code") == code)
    failing = cv.filter((pl.col("county_code") == code) & ~pl.col("cv_meets")).sort("cv", descending=True)
    assert failing.height > 1, "one failing CV: the test would not test the views after the first"
    fig = drawn_figure(published / "dashboards" / "county" / f"{code}.html", "positions")
    assert len(fig["data"]) == failing.height
    reference = pl.read_parquet(published / "reference" / "indicator_thresholds.parquet").filter(
        pl.col("province_code") == province)
    colours = {"#c53030": 0, "#dd6b20": 0, "#2b6cb0": 0}
    for k, (target, trace) in enumerate(zip(failing.iter_rows(named=True), fig["data"])):
        ind = target["indicator"]
        s = (schools.filter((pl.col("level") == target["level"]) & pl.col(ind).is_not_null())
             .sort(ind, "school_name", "school_id"))
        assert trace["x"] == s[ind].to_list() and trace["y"] == s["school_name"].to_list()
        assert trace["customdata"] == s["students"].to_list()
        assert trace["visible"] == (k == 0)
        threshold = reference.filter((pl.col("level") == target["level"]) & (pl.col("indicator") == ind))["threshold"].item()
        shapes = fig["layout"]["updatemenus"][0]["buttons"][k]["args"][1]["shapes"]
        assert sorted(shape["x0"] for shape in shapes) == pytest.approx(sorted([threshold, target["county_value"]]))
        # red below the standard, orange below the county value, blue at or above both
        for value, colour in zip(trace["x"], trace["marker"]["color"]):
            expected = ("#c53030" if value < threshold else "#dd6b20" if value < target["county_value"] else "#2b6cb0")
            assert colour == expected
            colours[colour] += 1
    assert all(colours.values()), f"a colour never occurs, so it is not tested: {colours}"
    assert fig["layout"]["shapes"] == fig["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["shapes"]


def test_county_page_opens_with_its_plan_in_plain_chinese(published):
    plan = read(published, "county_plan").filter(pl.col("year") == pl.col("year").max())
    passing = read(published, "county_scorecard").filter(
        (pl.col("year") == pl.col("year").max()) & pl.col("resource_ok"))
    for code in plan["county_code"].to_list():
        page = (published / "dashboards" / "county" / f"{code}.html").read_text(encoding="utf-8")
        block = page.split("<section class='plan'>", 1)[1].split("</section>", 1)[0]
        assert "如何达标" in block and "需增加" in block or "资源配置本身没有未达标项目" in block
        assert not re.search(r"\b[RGQSPV]\d\d|R_cv_", block), "item codes in the plan block"
    for code in passing["county_code"].to_list()[:3]:
        page = (published / "dashboards" / "county" / f"{code}.html").read_text(encoding="utf-8")
        assert "资源配置已达标，无需新增资源。" in page


def test_school_table_lists_every_unit(published):
    n = read(published, "school_indicators").filter(pl.col("county_code") == "650121").height
    page = (published / "dashboards" / "county" / "650121.html").read_text(encoding="utf-8")
    table = page.split("学校（评估单元）一览", 1)[1].split('class="school-rows"', 1)[1]
    rows = json.loads(table.split(">", 1)[1].split("</script>", 1)[0])["rows"]
    assert len(rows) == n


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_the_school_table_shows_each_value_against_its_standard(published):
    """The school table as the browser draws it from its rows: every unit in order, each value to
    two decimals (an exact half to the even digit, as everywhere else) and coloured as the school
    rule judges it: at the standard, below it, below 85% of it. Expected cells computed here from
    the published rows and the published standards."""
    halves = 0
    for code in ("320121", "320225"):
        halves += _check_school_table(published, code)
    assert halves, "no value exactly halfway between two cents was shown"


def _check_school_table(published: Path, code: str) -> int:
    """Compare one county's school table with its expected cells; returns how many values lie
    exactly halfway between two cents (binary fractions: 100 × 26 / 320 = 8.125)."""
    from decimal import Decimal

    schools = read(published, "school_indicators").filter(pl.col("county_code") == code).sort("level", "school_name")
    standards = pl.read_parquet(published / "reference" / "indicator_thresholds.parquet").filter(
        pl.col("province_code") == code[:2])
    threshold = {(r["level"], r["indicator"]): r["threshold"] for r in standards.iter_rows(named=True)}
    floor, tolerance = standards["floor_share"][0], standards["relative_tolerance"][0]
    level_zh, kind_zh = {"primary": "小学", "junior": "初中"}, {"school": "学校", "section": "一贯制学校的学段",
                                                                    "teaching_point": "教学点"}
    expected = []
    for r in schools.iter_rows(named=True):
        cells = [("text", r["school_name"]), ("text", level_zh[r["level"]]), ("text", kind_zh[r["unit_kind"]]),
                 ("", f"{r['students']:,}")]
        for i in INDICATORS:
            v, t = r[i.code], threshold[(r["level"], i.code)]
            cls = "pass" if v >= t * (1 - tolerance) else "fail" if v >= floor * t * (1 - tolerance) else "floor"
            cells.append((cls, f"{v:,.2f}"))
        ok = r["meets_school_standard"]
        cells += [("", str(r["indicators_met"])), ("pass" if ok else "fail", "是" if ok else "否")]
        expected.append(cells)
    shown = table_cells(published / "dashboards" / "county" / f"{code}.html", "table.schools")
    assert shown == expected
    if code == "320121":
        assert {c for row in expected for c, _ in row[4:11]} == {"pass", "fail", "floor"}   # all three seen
    return sum(Decimal(r[i.code]) * 100 % 1 == Decimal("0.5") for r in schools.iter_rows(named=True)
               for i in INDICATORS)


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_the_school_table_compares_with_its_provinces_tolerance(published, tmp_path):
    """A province may set its own tolerance (policy: resource.comparison.relative_tolerance); the
    page colours each value with the one published for its province, as the school rule judges.
    Here 江苏's is loosened to 5% in a copy of the publication and the pages built again."""
    import shutil

    from dashboards.build import build_dashboards

    out = tmp_path / "out"
    shutil.copytree(published, out, ignore=shutil.ignore_patterns("dashboards", "data_docs", "validation"))
    reference = out / "reference" / "indicator_thresholds.parquet"
    standards = pl.read_parquet(reference).with_columns(
        relative_tolerance=pl.when(pl.col("province_code") == "32").then(0.05).otherwise(pl.col("relative_tolerance")))
    standards.write_parquet(reference)
    build_dashboards(out)
    schools = read(out, "school_indicators").filter(pl.col("county_code") == "320121")
    threshold = {(r["level"], r["indicator"]): r["threshold"] for r in standards.filter(
        pl.col("province_code") == "32").iter_rows(named=True)}
    within = sum(0.95 * threshold[(r["level"], i.code)] <= r[i.code] < threshold[(r["level"], i.code)]
                 for r in schools.iter_rows(named=True) for i in INDICATORS)
    assert within, "no value lies within 5% under its standard: the test would not test the tolerance"
    _check_school_table(out, "320121")


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_names_holding_markup_are_shown_as_written(tmp_path):
    """School names are free text: one that opens a comment or a script inside the page's JSON
    must neither break the table nor the page, and shows exactly as written."""
    import shutil

    from dashboards import pages

    names = ["<!--<script>", "</script><b>粗体</b>", "第一小学"]
    codes = [i.code for i in INDICATORS]
    schools = {"school_name": names, "level": ["primary"] * 3, "unit_kind": ["school"] * 3,
               "students": [100, 200, 300], **{c: [5.0, 5.0, 5.0] for c in codes},
               "indicators_met": [7, 7, 7], "meets_school_standard": [True, True, True]}
    html = pages.page("测试", 0, [("测试", None)], [pages._school_table(schools, {}, pages.SchoolRule(0.85, 1e-9, 6))], {})
    assert "<!--" not in html.split("<main>", 1)[1]
    (tmp_path / "assets").mkdir()
    shutil.copy(Path(pages.__file__).parent / "assets" / "dashboard.js", tmp_path / "assets")
    page = tmp_path / "names.html"
    page.write_text(html, encoding="utf-8")
    assert [row[0][1] for row in table_cells(page, "table.schools")] == names


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_a_tables_rows_are_drawn_from_their_json_as_written(tmp_path):
    """A table's rows travel as JSON and the page's script draws them: links and markup in a
    display stay markup, free text stays text (even text that would end the script), words are
    left-aligned and numbers not, and a column sorts by its sort values, not by the text shown."""
    import shutil

    from dashboards import pages

    rows = [[(f'<a href="x.html">{pages.esc("甲&乙")}</a>', "甲&乙", ""), ("1,793 ㎡", "1793.0", ""),
             pages.esc("</script><!--粗体"), ("未达标", "fail", "fail")],
            ["丙", ("12 ㎡", "12.0", ""), "", ("达标", "pass", "pass")]]
    html = pages.page("测试", 0, [("测试", None)], [pages.table(["学校", "面积", "说明", "判定"], rows, cls="cards")], {})
    assert "<!--" not in html.split("<main>", 1)[1] and html.count("</script>") == 2   # its JSON and the script
    (tmp_path / "assets").mkdir()
    shutil.copy(Path(pages.__file__).parent / "assets" / "dashboard.js", tmp_path / "assets")
    page = tmp_path / "table.html"
    page.write_text(html, encoding="utf-8")
    assert table_cells(page, "table.cards") == [
        [("text", "甲&乙"), ("", "1,793 ㎡"), ("text", "</script><!--粗体"), ("fail text", "未达标")],
        [("text", "丙"), ("", "12 ㎡"), ("text", ""), ("pass text", "达标")]]
    assert column_after_sorting(page, "table.cards", 1) == ["12.0", "1793.0"]   # by data-v: 1,793 reads as 1
    assert column_after_sorting(page, "table.cards", 0, clicks=2) == ["甲&乙", "丙"]   # by the text shown


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_a_click_on_a_header_sorts_its_own_table(published):
    """The school table is not the page's first table: a click on its 在校生 header sorts it by
    enrolment, a second click the other way."""
    page = published / "dashboards" / "county" / "650121.html"
    students = sorted(read(published, "school_indicators").filter(pl.col("county_code") == "650121")["students"])
    assert [int(v) for v in column_after_sorting(page, "table.schools", 3)] == students
    assert [int(v) for v in column_after_sorting(page, "table.schools", 3, clicks=2)] == students[::-1]


def _page_kinds(published: Path) -> dict[str, Path]:
    """Every kind of page: the index, a province, a county that passes, one that fails, one whose
    data are missing, and the Data Docs (index, a suite, a validation result)."""
    cards = read(published, "county_scorecard")
    d, docs = published / "dashboards", published / "data_docs"
    county = {s: cards.filter(pl.col("status") == s)["county_code"][0]
              for s in ("quality_balanced", "not_yet", "insufficient_data")}
    return {"index": d / "index.html", "province": d / "province" / "52.html",
            **{f"county-{s}": d / "county" / f"{c}.html" for s, c in county.items()},
            "docs-index": docs / "index.html", "docs-suite": sorted((docs / "expectations").glob("*.html"))[0],
            "docs-result": sorted((docs / "validations").rglob("*.html"))[0]}


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_works_offline_in_chinese_without_overlaps(published, width):
    assert chromium() is not None, "CI installs chromium: see .ci/run"
    for kind, page in _page_kinds(published).items():
        seen = visit(page, width=width, phone=width < 600)
        assert seen.urls == [], (kind, seen.urls)                 # no request left the machine
        assert seen.console_errors == [], (kind, seen.console_errors)
        if kind.startswith("docs"):
            continue  # Great Expectations' own pages are in English; they must load and work offline
        assert seen.figures >= 1, kind                             # plotly.js, from the shared file, drew
        assert seen.english == [], (kind, seen.english[:5])
        assert seen.upload_buttons == [], kind
        assert seen.overlaps == [], (kind, seen.overlaps[:5])


def test_no_page_but_plotly_is_over_one_megabyte(published):
    for page in (published / "dashboards").rglob("*"):
        if page.is_file() and page.name != "plotly.min.js" and page.suffix in (".html", ".js", ".css"):
            assert page.stat().st_size < 1_000_000, page


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_the_browser_check_catches_what_it_must(tmp_path):
    cdn = tmp_path / "cdn.html"
    cdn.write_text('<html><body><script src="http://127.0.0.1:9/plotly.min.js"></script></body></html>')
    assert visit(cdn).urls == ["http://127.0.0.1:9/plotly.min.js"]
    english = tmp_path / "english.html"
    english.write_text('<html><body><p>达标 Download plot 2024</p><p>Ⅲ级 III 级 12.5%</p>'
                       '<p style="display:none">hidden words</p><script>nosuch()</script></body></html>',
                       encoding="utf-8")
    seen = visit(english)
    assert seen.english == ["达标 Download plot 2024"]
    assert len(seen.console_errors) == 1 and "nosuch" in seen.console_errors[0]
    import plotly as plotly_package

    plotly = Path(plotly_package.__file__).parent / "package_data" / "plotly.min.js"
    overlap = tmp_path / "overlap.html"  # two annotations drawn on the same spot
    overlap.write_text(
        f'<html><body><div id="f" style="width:600px;height:300px"></div><script src="{plotly.as_uri()}"></script>'
        '<script>Plotly.newPlot("f", [{"y": [1, 2]}], {"annotations": ['
        '{"text": "标准", "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper", "showarrow": false},'
        '{"text": "县域均值", "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper", "showarrow": false}]});'
        '</script></body></html>', encoding="utf-8")
    assert visit(overlap).overlaps == [["f", "标准", "县域均值"]]


def test_junheng_plan_prints_the_county_plan_from_the_published_tables(published, capsys):
    from junheng.cli import main

    # the county whose plan adds the most kinds of resource; each total is stated in its unit
    words = {"qualified_teachers_added": ("高于规定学历的专任教师", "名"), "backbone_teachers_added": ("县级以上骨干教师", "名"),
             "pe_arts_teachers_added": ("体育艺术专任教师", "名"), "teaching_area_added_m2": ("教学及辅助用房", "㎡"),
             "sports_area_added_m2": ("体育运动场馆", "㎡"), "multimedia_rooms_added": ("网络多媒体教室", "间")}
    plan = (read(published, "county_plan").filter(pl.col("teachers_added") > 0)
            .sort(pl.sum_horizontal(pl.col(*words, "equipment_added_yuan") > 0), "county_code", descending=[True, False])
            .row(0, named=True))
    assert main(["plan", "--county", plan["county_code"], "--output", str(published)]) == 0
    text = capsys.readouterr().out
    assert f"{plan['county_name']}（{plan['county_code']}） 2024 学年 · 如何达标" in text
    adds = next(line for line in text.splitlines() if "需增加：" in line)
    assert f"专任教师 {plan['teachers_added']:,.0f} 名（其中" in adds
    for column, (name, unit) in words.items():
        assert (f"{name} {plan[column]:,.0f} {unit}" in adds) == (plan[column] > 0), column
    assert ("教学仪器设备 " in adds) == (plan["equipment_added_yuan"] > 0)
    assert sum(plan[c] > 0 for c in (*words, "equipment_added_yuan")) >= 4   # the sample has such a county
    assert "一次性投入约 " in text and "两者分列，不相加" in text
    # every school the plan touches is named
    schools = read(published, "unit_plan").filter(pl.col("county_code") == plan["county_code"])
    for name in schools["school_name"].unique().to_list():
        assert f"  · {name}（" in text
    # a county that is not there: a clear line, exit 1, no traceback
    assert main(["plan", "--county", "999999", "--output", str(published)]) == 1
    err = capsys.readouterr().err
    assert "999999" in err and "Traceback" not in err


def test_an_old_or_partial_publication_is_named_file_by_file_not_a_traceback(published, tmp_path, capsys):
    """The dashboards (or a county's plan) made alone read a publication an earlier run wrote. One
    written by an older version lacks the columns added since, one cut short lacks files: each
    reader says which file lacks what and what to do, from the command line and from Dagster
    (the dashboards asset materialised alone), and writes nothing."""
    import shutil

    from dagster import DagsterInstance, materialize

    from dashboards.build import build_dashboards
    from junheng.assets import ALL_ASSETS
    from junheng.cli import main
    from junheng.paths import POLICY_DIR
    from junheng.publish import PublicationError
    from junheng.resources import JunhengSettings, WarehouseResource

    out = tmp_path / "out"
    shutil.copytree(published, out, ignore=shutil.ignore_patterns("dashboards", "data_docs", "validation"))
    reference = out / "reference" / "indicator_thresholds.parquet"
    pl.read_parquet(reference).drop("relative_tolerance").write_parquet(reference)   # as an older version wrote it
    old_year = sorted((out / "school_indicators").glob("year=*/part-0.parquet"))[0]
    pl.read_parquet(old_year).drop("lowest_share_of_threshold").write_parquet(old_year)
    shutil.rmtree(out / "unit_plan")                                                 # a publication cut short

    with pytest.raises(PublicationError) as caught:
        build_dashboards(out)
    message = str(caught.value)
    assert "reference/indicator_thresholds.parquet：缺少列 / lacks relative_tolerance" in message
    assert f"school_indicators/{old_year.parent.name}/part-0.parquet：缺少列 / lacks lowest_share_of_threshold" in message
    assert "unit_plan：没有文件 / missing" in message
    assert "county_cv" not in message and "junheng run" in message
    assert not (out / "dashboards").exists()

    code = read(published, "county_scorecard")["county_code"][0]
    assert main(["plan", "--county", code, "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "unit_plan：没有文件 / missing" in err and "relative_tolerance" in err and "Traceback" not in err

    result = materialize(ALL_ASSETS, selection=["dashboards"], instance=DagsterInstance.ephemeral(),
                         raise_on_error=False, resources={
                             "warehouse_db": WarehouseResource(database=str(tmp_path / "unused.duckdb")),
                             "settings": JunhengSettings(input_dir=str(tmp_path), output_dir=str(out),
                                                         policy_dir=str(POLICY_DIR))})
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert "unit_plan：没有文件 / missing" in failure.description and not (out / "dashboards").exists()


def test_validation_results_carry_a_fingerprint_of_the_rows_validated(published):
    """Great Expectations' own pandas hash of every cell is switched off (it cost a quarter of a
    national validation); each kept result names its rows by a digest of their polars row hashes,
    shown in the Data Docs."""
    import json

    from junheng.validation import FINGERPRINT, RESULTS_DIR

    marks = {}
    for name in ("stg_schools", "school_indicators-2024", "school_indicators-2023"):
        saved = json.loads((published / RESULTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        markers = saved["result"]["meta"]["batch_markers"]
        assert "pandas_data_fingerprint" not in markers
        marks[name] = markers[FINGERPRINT]
        assert len(marks[name]) == 32 and int(marks[name], 16) >= 0
    assert len(set(marks.values())) == 3                  # different rows, different fingerprints
    pages = "".join(p.read_text(encoding="utf-8") for p in (published / "data_docs" / "validations").rglob("*.html"))
    assert all(m in pages for m in marks.values())


def test_downloads_keep_text_that_excel_would_run_as_a_formula_as_text(tmp_path):
    """The CSV downloads open in Excel: a name typed as "=…" (or "+", "-", "@") is written after
    an apostrophe, so Excel shows it as text instead of running it; other cells are as published."""
    from dashboards.build import _csv

    frame = pl.DataFrame({"school_name": ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "-1+2", "第一小学", "a=b", None],
                          "students": [-1, 2, 3, 4, 5, 6], "failing_items": [["=x", "y"]] * 6})
    _csv(frame, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_bytes()
    assert text.startswith("\ufeff".encode())
    back = pl.read_csv(text[3:], schema_overrides={"school_name": pl.String})
    assert back["school_name"].to_list() == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'-1+2", "第一小学", "a=b", None]
    assert back["students"].to_list() == [-1, 2, 3, 4, 5, 6]
    assert back["failing_items"].to_list() == ["'=x、y"] * 6


def test_the_pages_and_the_plan_state_the_rule_and_ceilings_their_province_sets(tmp_path, capsys):
    """A province may set its own CV ceilings and school rule (policy: resource.cv_thresholds,
    resource.school_rule). Here 江苏 sets 0.45 / 0.40, at least 5 of the seven and a 90% floor:
    its pages and its plan say so, the other provinces' keep the national 0.50 / 0.45, 6 and 85%,
    and the index names the province that differs. The rule's item, R01, takes its name's numbers
    from the same settings, so the province's file does not rename it."""
    import shutil

    from dagster import DagsterInstance

    from junheng.cli import main, run_pipeline
    from junheng.paths import POLICY_DIR, SAMPLE_DIR

    policy = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy)
    jiangsu = next((policy / "provinces").glob("32_*.toml"))
    jiangsu.write_text(jiangsu.read_text(encoding="utf-8") + "\n[resource.cv_thresholds]\nprimary = 0.45\n"
                       "junior = 0.40\n\n[resource.school_rule]\nmin_indicators_met = 5\nfloor_share = 0.9\n",
                       encoding="utf-8")
    out = tmp_path / "out"
    run_pipeline(SAMPLE_DIR / "xlsx", out, tmp_path / "w.duckdb", policy, instance=DagsterInstance.ephemeral())

    reference = pl.read_parquet(out / "reference" / "indicator_thresholds.parquet")
    rules = {r["province_code"]: r for r in reference.iter_rows(named=True)}
    assert (rules["32"]["min_indicators_met"], rules["32"]["floor_share"]) == (5, 0.9)
    assert (rules["52"]["min_indicators_met"], rules["52"]["floor_share"]) == (6, 0.85)
    named = dict(read(out, "county_items").filter(pl.col("item") == "R01_all_units_meet_standard")
                 .select("province_code", "item_name").unique().iter_rows())
    assert named["32"] == "每所学校（评估单元）七项指标至少5项达标、余项不低于90%"
    assert named["52"] == "每所学校（评估单元）七项指标至少6项达标、余项不低于85%"

    cards = read(out, "county_scorecard")
    site = out / "dashboards"
    for code, province in cards.select("county_code", "province_code").iter_rows():
        text = (site / "county" / f"{code}.html").read_text(encoding="utf-8")
        if province == "32":
            assert "七项指标中至少 5 项达到标准，其余各项也不能低于标准的 90%" in text
            assert "低于标准的 90%</span>" in text and "标准的 85%" not in text
        else:
            assert "七项指标中至少 6 项达到标准，余下一项也不能低于标准的 85%" in text
            assert "低于标准的 85%</span>" in text and "标准的 90%" not in text
        levels = set(read(out, "county_cv").filter(pl.col("county_code") == code)["level"].to_list())
        ceilings = {"32": {"primary": "0.45", "junior": "0.40"}}.get(province, {"primary": "0.50", "junior": "0.45"})
        zh = {"primary": "小学", "junior": "初中"}
        for level in levels:
            assert f"{zh[level]}每项不超过 {ceilings[level]}" in text
    province = (site / "province" / "32.html").read_text(encoding="utf-8")
    assert "小学每项不超过 0.45、初中每项不超过 0.40 才算达标，14 项都要达标" in province
    assert "小学每项不超过 0.50、初中每项不超过 0.45 才算达标" in (site / "province" / "52.html").read_text(encoding="utf-8")
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "小学每项 ≤ 0.50、初中每项 ≤ 0.45（江苏省：小学每项 ≤ 0.45、初中每项 ≤ 0.40）" in index

    # the plan of a 江苏 county that fails the school rule states 江苏's rule
    short = (read(out, "school_indicators").filter((pl.col("province_code") == "32")
                                                    & (pl.col("meets_school_standard") == False))  # noqa: E712
             ["county_code"].unique().sort())
    assert len(short), "no 江苏 county fails the school rule: the test would not test the plan's words"
    assert main(["plan", "--county", short[0], "--output", str(out)]) == 0
    assert "每所学校七项指标至少5项达标、其余不低于标准的90%" in capsys.readouterr().out
