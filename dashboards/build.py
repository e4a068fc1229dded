"""Static, offline dashboards from the published Parquet (never from the warehouse).

    index.html              every province now, at its current pace and against its 2027/2030/2035
                            targets; a searchable county list by province; the tables to download
    province/<code>.html    share against the milestones, the path to the next one (the cost of each
                            county's plan, the cheapest set), counties by distance, the 14 CVs
    county/<code>.html      status, what is missing and who supplies it, 如何达标 (the plan), the
                            indicators, the CVs, each school against the county value and standard,
                            every school with the 85% rule visible, every item

Figures are in :mod:`dashboards.figures`, pages in :mod:`dashboards.pages`. plotly.js and its
zh-CN locale (from the plotly.js package) are copied once into ``assets/``; nothing is fetched
from a network.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path

import polars as pl

from dashboards.pages import county_page, index_page, province_page
from junheng.contract import CHECKPOINT_YEARS
from junheng.publish import replaced_folder

ASSETS = Path(__file__).parent / "assets"
DOWNLOADS = {  # published table → label; county-level tables nationally, school-level ones per province
    "county_scorecard": "县域评估结论", "county_items": "县域评估全部项目", "county_cv": "县域差异系数",
    "county_plan": "县域达标方案", "county_progress": "各县进度与预计达标年份", "province_progress": "各省进展",
    "province_plan": "各省达标路径",
}
SCHOOL_DOWNLOADS = {"school_indicators": "学校指标", "unit_plan": "学校达标方案"}


@dataclass
class Published:
    year: int                          # the publication year: the latest year of county_scorecard
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

    def table(self, name: str) -> pl.DataFrame:
        """A published table by its published name."""
        return getattr(self, _FIELD_OF[name])

    def restricted(self, provinces: list[str]) -> Published:
        """The same tables, only the rows of ``provinces``."""
        return Published(**{f.name: _of_provinces(v, provinces) if isinstance(v, pl.DataFrame) else v
                            for f in fields(self) for v in [getattr(self, f.name)]})


def _of_provinces(frame, provinces: list[str]):
    """The rows of ``provinces`` (a frame, eager or lazy); a table without provinces whole."""
    if "province_code" not in frame.collect_schema():
        return frame
    return frame.filter(pl.col("province_code").is_in(provinces))


# Published field → the published table it holds
_TABLES = {"schools": "school_indicators", "cv": "county_cv", "scorecard": "county_scorecard",
           "items": "county_items", "county_progress": "county_progress", "province_progress": "province_progress",
           "county_plan": "county_plan", "unit_plan": "unit_plan", "province_plan": "province_plan"}
_FIELD_OF = {table: field for field, table in _TABLES.items()}
# read for the publication year only: the pages show no other year of these (trends come from
# county_cv and county_items' own trend columns), and a decade of school rows costs gigabytes
_PUBLICATION_YEAR_ONLY = {"schools", "items", "county_plan", "unit_plan"}


def load_published(out_dir: Path, provinces: list[str] | None = None) -> Published:
    """The published tables (see _PUBLICATION_YEAR_ONLY); with ``provinces``, only those provinces' rows."""
    out_dir = Path(out_dir)
    meta = json.loads((out_dir / "reference" / "assumptions.json").read_text(encoding="utf-8"))
    pub_year = (pl.scan_parquet(out_dir / _TABLES["scorecard"] / "**" / "*.parquet")
                .select(pl.col("year").max()).collect().item())

    def read(path: Path, latest: bool = False) -> pl.DataFrame:
        frame = pl.scan_parquet(path)
        if latest:
            frame = frame.filter(pl.col("year") == pub_year)
        return (frame if provinces is None else _of_provinces(frame, provinces)).collect()

    return Published(
        year=pub_year,
        **{field: read(out_dir / table / "**" / "*.parquet", field in _PUBLICATION_YEAR_ONLY)
           for field, table in _TABLES.items()},
        milestones=read(out_dir / "reference" / "milestones.parquet"),
        thresholds=read(out_dir / "reference" / "indicator_thresholds.parquet"), assumptions=meta,
    )


def _csv(frame: pl.DataFrame, path: Path) -> None:
    """UTF-8 with a byte-order mark, lists joined with 、, so Excel opens it with the Chinese intact."""
    flat = frame.with_columns([pl.col(c).list.join("、") for c, t in frame.schema.items() if t == pl.List(pl.String)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write("\ufeff".encode("utf-8"))
        flat.write_csv(f)


def write_downloads(pub: Published, dest: Path, year: int) -> list[tuple[str, str]]:
    """The latest year's published tables as CSV beside the pages; returns (label, link) pairs."""
    links = []
    for table, label in DOWNLOADS.items():
        _csv(pub.table(table).filter(pl.col("year") == year), dest / "data" / f"{table}.csv")
        links.append((f"{label}（{year} 学年，全部县）", f"data/{table}.csv"))
    for table, label in SCHOOL_DOWNLOADS.items():
        frame = pub.table(table).filter(pl.col("year") == year)
        for (code,), part in frame.partition_by("province_code", as_dict=True).items():
            _csv(part, dest / "data" / code / f"{table}.csv")
            links.append((f"{label}（{year} 学年，{part['province'][0]}）", f"data/{code}/{table}.csv"))
    return links


def build_dashboards(out_dir: Path, dest: Path | None = None, run_time: str | None = None) -> dict:
    """Write every page under ``dest`` (default ``out_dir/dashboards``) from the Parquet in ``out_dir``."""
    out_dir = Path(out_dir)
    final = Path(dest or out_dir / "dashboards")
    started = time.perf_counter()
    pub = load_published(out_dir)
    pub_year = pub.year
    run_time = run_time or time.strftime("%Y-%m-%d %H:%M")
    with replaced_folder(final) as dest:  # the site is written whole, then swapped in
        pages, provinces = _write_site(out_dir, pub, dest, pub_year, run_time)
    return {"pages": pages + 1 + provinces, "seconds": time.perf_counter() - started, "dest": str(final)}


def _write_site(out_dir: Path, pub: Published, dest: Path, pub_year: int, run_time: str) -> tuple[int, int]:
    """Every page into ``dest``; returns (county pages, province pages)."""
    (dest / "assets").mkdir()
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", dest / "assets" / "plotly.min.js")
    for asset in ASSETS.iterdir():
        shutil.copyfile(asset, dest / "assets" / asset.name)

    year_cards = pub.scorecard.filter(pl.col("year") == pub_year)
    # County pages are independent: shared out by province between processes, one per core
    # (each reads only its own provinces' rows); this process writes the index, the provinces
    # and the first share meanwhile.
    counties = dict(year_cards.group_by("province_code").len().iter_rows())
    shares = _shares(counties, min(os.cpu_count() or 1, MAX_WORKERS) if len(year_cards) >= PARALLEL_FROM else 1)
    with ProcessPoolExecutor(max(1, len(shares) - 1), mp_context=multiprocessing.get_context("spawn")) as pool:
        others = [pool.submit(county_pages, out_dir, dest, share) for share in shares[1:]]
        _overview_pages(pub, dest, pub_year, run_time)
        pages = _county_pages(pub.restricted(shares[0]) if others else pub, dest, pub_year)
        pages += sum(f.result() for f in others)
    return pages, len(counties)


def _overview_pages(pub: Published, dest: Path, pub_year: int, run_time: str) -> None:
    """The index (with the downloads) and a page per province."""
    downloads = write_downloads(pub, dest, pub_year)
    _write(dest, "index.html", index_page(pub, pub_year, run_time, downloads,
                                          tuple(y for y in CHECKPOINT_YEARS if y >= pub_year)))
    year_cards = pub.scorecard.filter(pl.col("year") == pub_year)
    year_cv = pub.cv.filter(pl.col("year") == pub_year)
    year_items = pub.items.filter(pl.col("year") == pub_year)
    for code in sorted(year_cards.get_column("province_code").unique()):
        _write(dest, f"province/{code}.html", province_page(
            code, pub_year, pub, year_cards.filter(pl.col("province_code") == code),
            year_cv.filter(pl.col("province_code") == code), year_items.filter(pl.col("province_code") == code)))


PARALLEL_FROM = 300   # counties: fewer are written in this process alone
MAX_WORKERS = 4


def _shares(counties: dict[str, int], n: int) -> list[list[str]]:
    """Provinces split into ``n`` groups of about equal county counts (largest first, each to
    the group with fewest so far); groups left empty are dropped."""
    groups: list[list[str]] = [[] for _ in range(max(1, n))]
    sizes = [0] * len(groups)
    for code in sorted(counties, key=lambda c: (-counties[c], c)):
        k = sizes.index(min(sizes))
        groups[k].append(code)
        sizes[k] += counties[code]
    return [g for g in groups if g]


def _write(dest: Path, rel: str, text: str) -> None:
    path = dest / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def county_pages(out_dir: Path, dest: Path, provinces: list[str]) -> int:
    """Write the county pages of ``provinces`` (in a worker process); returns how many."""
    pub = load_published(out_dir, provinces)
    return _county_pages(pub, dest, pub.year)


def _county_pages(pub: Published, dest: Path, pub_year: int) -> int:
    year_cards = pub.scorecard.filter(pl.col("year") == pub_year)
    year_cv = pub.cv.filter(pl.col("year") == pub_year)
    year_items = pub.items.filter(pl.col("year") == pub_year)
    thresholds = _thresholds(pub.thresholds)
    floor_share = dict(pub.thresholds.select("province_code", "floor_share").unique().iter_rows())
    parts = {
        "scorecard": _by_county(year_cards),
        "progress": _by_county(pub.county_progress.filter(pl.col("year") == pub_year)),
        "items": _by_county(year_items.sort("area", "item")),
        "cv": _by_county(pub.cv),
        "cv_year": _by_county(year_cv),
        "schools": _by_county(pub.schools.filter(pl.col("year") == pub_year).sort("level", "school_name")),
        "county_plan": _by_county(pub.county_plan.filter(pl.col("year") == pub_year)),
        "unit_plan": _by_county(pub.unit_plan.filter(pl.col("year") == pub_year)),
    }
    pages = 0
    for code in parts["scorecard"]:
        # a page reads tens of rows: as plain dicts, taken once, rather than a frame operation
        # for every figure and table (dicts for every county at once would double the memory)
        d = {k: v[code].to_dicts() if code in v else [] for k, v in parts.items()}
        province = d["scorecard"][0]["province_code"]
        _write(dest, f"county/{code}.html",
               county_page(code, pub_year, d, thresholds.get(province, {}), floor_share[province]))
        pages += 1
    return pages


def _by_county(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """A table's rows by county, each county's in the table's order."""
    return {code: part for (code,), part in frame.partition_by("county_code", as_dict=True).items()}


def _thresholds(reference: pl.DataFrame) -> dict[str, dict]:
    """{province_code: {(level, indicator): threshold}} from the published reference table."""
    out: dict[str, dict] = {}
    for code, level, ind, thr in reference.select("province_code", "level", "indicator", "threshold").iter_rows():
        out.setdefault(code, {})[(level, ind)] = thr
    return out
