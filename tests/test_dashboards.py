"""Dashboards: the numbers in the figures are the published Parquet's; pages work offline."""

import json
import os
import re
from pathlib import Path

import polars as pl
import pytest

from dashboards.browser import chromium, visit

FIGURE = re.compile(r'<script type="application/json" class="figure" data-target="(\w+)">(.*?)</script>', re.S)


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


def test_no_network_references_and_plotly_shipped(published):
    d = published / "dashboards"
    assert (d / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    for page in d.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), page
        assert 'lang="zh-CN"' in text


def test_heatmap_is_the_published_cvs(published):
    cv = read(published, "county_cv").filter(pl.col("province_code") == "52")
    fig = figures(published / "dashboards" / "province" / "52.html")["heatmap"]["data"][0]
    names = dict(read(published, "county_scorecard").select("county_code", "county_name").iter_rows())
    codes = {v: k for k, v in names.items()}
    x = fig["x"]
    for row_name, z_row, text_row in zip(fig["y"], fig["z"], fig["text"]):
        for label, z, text in zip(x, z_row, text_row):
            level = "primary" if label.startswith("小学") else "junior"
            r = cv.filter((pl.col("county_code") == codes[row_name]) & (pl.col("level") == level)
                          & (pl.col("indicator_name") == label.replace("<br>", "").split("·", 1)[1])).row(0, named=True)
            assert z == pytest.approx(r["cv"] / r["cv_threshold"]) and text == f"{r['cv']:.3f}"
    assert len(x) == 14 and len(fig["y"]) == cv["county_code"].n_unique()


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


def test_school_contributions_are_shares_of_weighted_squared_deviation(published):
    schools = read(published, "school_indicators").filter(pl.col("county_code") == "320121")
    cv = read(published, "county_cv").filter(pl.col("county_code") == "320121")
    fig = figures(published / "dashboards" / "county" / "320121.html")["contributions"]
    first = fig["data"][0]
    failing = cv.filter(~pl.col("cv_meets")).sort("cv", descending=True)
    target = failing.row(0, named=True) if failing.height else cv.sort("cv", descending=True).row(0, named=True)
    s = schools.filter(pl.col("level") == target["level"])
    w = (s["students"] * (s[target["indicator"]] - target["county_value"]) ** 2)
    shares = sorted((w / w.sum()).to_list(), reverse=True)[: len(first["x"])]
    assert sorted(first["x"], reverse=True) == pytest.approx(shares)


def test_school_table_lists_every_unit(published):
    n = read(published, "school_indicators").filter(pl.col("county_code") == "650121").height
    page = (published / "dashboards" / "county" / "650121.html").read_text(encoding="utf-8")
    table = page.split("学校（评估单元）一览", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == n + 1


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_pages_render_offline_in_headless_chromium(published, tmp_path):
    assert chromium() is not None, "CI installs chromium: see .ci/run"
    d = published / "dashboards"
    for page in (d / "index.html", d / "province" / "52.html", d / "county" / "520121.html"):
        seen = visit(page, tmp_path / f"{page.parent.name}-{page.stem}.png")
        assert seen.screenshot.stat().st_size > 20_000
        assert seen.urls == [], seen.urls  # no request left the machine
        if page.name != "index.html":
            assert "main-svg" in seen.dom  # plotly.js, loaded from the shared file, drew the figures


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="chromium not installed")
def test_the_offline_check_catches_a_page_that_uses_a_cdn(tmp_path):
    page = tmp_path / "cdn.html"
    page.write_text('<html><body><script src="http://127.0.0.1:9/plotly.min.js"></script></body></html>')
    assert visit(page).urls == ["http://127.0.0.1:9/plotly.min.js"]
