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

import hashlib
import json
import os
import shutil
import time
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import polars as pl

from dashboards.pages import county_page, index_page, province_page
import junheng.contract as contract_module
from junheng.brief import PLAN_COLUMNS, SchoolRule, school_rules
from junheng.contract import CHECKPOINT_YEARS, INDICATORS
from junheng.processes import leave_at_once_at_exit
from junheng.publish import assumptions_path, reference_path, replaced_folder, require_publication

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
    meta = json.loads(assumptions_path(out_dir).read_text(encoding="utf-8"))
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
        milestones=read(reference_path(out_dir, "milestones")),
        thresholds=read(reference_path(out_dir, "indicator_thresholds")), assumptions=meta,
    )


# Excel runs a CSV cell that starts with one of these as a formula
_FORMULA_START = r"^[=+\-@\t\r]"


def _csv(frame: pl.DataFrame, path: Path) -> None:
    """UTF-8 with a byte-order mark, lists joined with 、, so Excel opens it with the Chinese intact.
    Text that Excel would take for a formula (a name typed as "=…") is written after an apostrophe,
    which keeps it text."""
    flat = frame.with_columns([pl.col(c).list.join("、") for c, t in frame.schema.items() if t == pl.List(pl.String)])
    text = [c for c, t in flat.schema.items() if t == pl.String]
    flat = flat.with_columns([pl.when(pl.col(c).str.contains(_FORMULA_START)).then("'" + pl.col(c))
                              .otherwise(pl.col(c)).alias(c) for c in text])
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
    """Write every page under ``dest`` (default ``out_dir/dashboards``) from the Parquet in ``out_dir``
    (PublicationError when it is not there, or not in this version's layout).
    A county page whose rows are those the site there was built from is taken from it as it is."""
    out_dir = Path(out_dir)
    final = Path(dest or out_dir / "dashboards")
    started = time.perf_counter()
    require_publication(out_dir, _TABLES.values())  # PublicationError: which file lacks what
    pub = load_published(out_dir)
    pub_year = pub.year
    run_time = run_time or time.strftime("%Y-%m-%d %H:%M")
    earlier = Earlier.of(final)
    with replaced_folder(final) as dest:  # the site is written whole, then swapped in
        pages, provinces, reused = _write_site(out_dir, pub, dest, pub_year, run_time, earlier)
    return {"pages": pages + 1 + provinces, "reused": reused, "seconds": time.perf_counter() - started,
            "dest": str(final)}


PAGE_KEYS = ".page_keys.json"   # county code → what its page was built from (beside the pages)


@dataclass
class Earlier:
    """The site being replaced: where its county pages are and what each was built from."""

    site: Path | None = None
    keys: dict[str, str] | None = None

    @classmethod
    def of(cls, site: Path) -> Earlier:
        try:
            return cls(site, json.loads((site / PAGE_KEYS).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return cls()

    def holds(self, code: str, key: str) -> bool:
        """Whether the earlier site has the page of ``code`` built from ``key``."""
        return bool(self.keys) and self.keys.get(code) == key and (self.site / "county" / f"{code}.html").exists()

    def reuse(self, code: str, key: str, dest: Path) -> bool:
        """Put the earlier page of ``code`` in ``dest`` if it was built from ``key``."""
        if not self.holds(code, key):
            return False
        old, new = self.site / "county" / f"{code}.html", dest / "county" / f"{code}.html"
        new.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(old, new)     # the earlier folder is removed once the new one is in place
        except OSError:
            try:
                shutil.copyfile(old, new)
            except OSError:
                return False
        return True


def _write_site(out_dir: Path, pub: Published, dest: Path, pub_year: int, run_time: str,
                earlier: Earlier | None = None) -> tuple[int, int, int]:
    """Every page into ``dest``; returns (county pages, province pages, county pages reused)."""
    earlier = earlier or Earlier()
    (dest / "assets").mkdir()
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", dest / "assets" / "plotly.min.js")
    for asset in ASSETS.iterdir():
        shutil.copyfile(asset, dest / "assets" / asset.name)

    # County pages are independent: the pages to write are shared out by province between
    # processes, one per core (each reads only its own provinces' rows); this process writes the
    # index, the provinces, the first share and takes the unchanged pages meanwhile.
    tables, keys = _county_inputs(pub, pub_year)
    province_of = dict(tables["scorecard"].select("county_code", "province_code").iter_rows())
    pending = Counter(province_of[code] for code, key in keys.items() if not earlier.holds(code, key))
    shares = _shares(dict(pending), min(os.cpu_count() or 1, MAX_WORKERS)
                     if sum(pending.values()) >= PARALLEL_FROM else 1) or [[]]
    shares[0] += sorted(set(province_of.values()) - set(pending))
    with ProcessPoolExecutor(max(1, len(shares) - 1), mp_context=multiprocessing.get_context("spawn"),
                             initializer=leave_at_once_at_exit) as pool:
        others = [pool.submit(county_pages, out_dir, dest, share, earlier) for share in shares[1:]]
        _overview_pages(pub, dest, pub_year, run_time)
        # the inputs worked out above for every county serve its own share as they are
        written = [_county_pages(pub, dest, pub_year, earlier, (tables, keys), shares[0] if others else None)]
        written += [f.result() for f in others]
    keys = {code: key for _, _, share in written for code, key in share.items()}
    _write(dest, PAGE_KEYS, json.dumps(dict(sorted(keys.items())), separators=(",", ":")))
    return sum(n for n, _, _ in written), len(set(province_of.values())), sum(r for _, r, _ in written)


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
    if not path.parent.is_dir():  # (a mkdir for every page costs more than the check)
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def county_pages(out_dir: Path, dest: Path, provinces: list[str], earlier: Earlier) -> tuple[int, int, dict]:
    """Write the county pages of ``provinces`` (in a worker process); see _county_pages."""
    pub = load_published(out_dir, provinces)
    return _county_pages(pub, dest, pub.year, earlier)


def _county_pages(pub: Published, dest: Path, pub_year: int, earlier: Earlier,
                  inputs: tuple[dict, dict] | None = None, provinces: list[str] | None = None) -> tuple[int, int, dict]:
    """The county pages (of ``provinces`` only, when given); returns how many, how many were the
    earlier site's, and each one's key. ``inputs``: the tables and keys of _county_inputs, when
    already worked out for ``pub``."""
    tables, keys = inputs or _county_inputs(pub, pub_year)
    thresholds, rules = _standards(pub)
    if provinces is not None:
        keys = {code: keys[code] for code, in tables["scorecard"].filter(pl.col("province_code").is_in(provinces))
                .select("county_code").iter_rows()}
    to_write = [code for code in keys if not earlier.reuse(code, keys[code], dest)]
    for code, d in _county_rows(tables, to_write):
        province = d["scorecard"][0]["province_code"]
        _write(dest, f"county/{code}.html",
               county_page(code, pub_year, d, thresholds.get(province, {}), rules[province]))
    return len(keys), len(keys) - len(to_write), keys


COUNTIES_PER_BLOCK = 200


# tables a county page reads column by column (its school table and figures; the plan's units in
# its brief), given to it as {column: values}: a national year's 272,146 units and 372,721 rows of
# the plan cost a third as long to take that way as dicts
COLUMNAR = {"schools", "unit_plan"}


def _county_rows(tables: dict[str, pl.DataFrame], codes: list[str]) -> Iterator[tuple[str, dict]]:
    """Each county of ``codes`` with its rows of every table as plain dicts (of COLUMNAR tables,
    its columns as lists), each table's rows in the table's order. A page reads tens of rows: they
    are taken a block of neighbouring counties at a time, rather than a frame for every county and
    table (thousands of small frames cost more than the pages' own work), and never a whole table
    at once (that would double the memory)."""
    ordered = {name: frame.sort("county_code", maintain_order=True) for name, frame in tables.items()}
    spans = {name: _spans(frame) for name, frame in ordered.items()}
    place = {code: k for k, code in enumerate(sorted(spans["scorecard"]))}
    block: list[str] = []
    for code in sorted(codes, key=place.__getitem__):
        if block and (place[code] != place[block[-1]] + 1 or len(block) == COUNTIES_PER_BLOCK):
            yield from _block_rows(ordered, spans, block)
            block = []
        block.append(code)
    if block:
        yield from _block_rows(ordered, spans, block)


def _block_rows(ordered: dict[str, pl.DataFrame], spans: dict[str, dict[str, tuple[int, int]]],
                block: list[str]) -> Iterator[tuple[str, dict]]:
    """The counties of ``block`` (neighbours in every table) with their rows."""
    taken = {}
    for name, frame in ordered.items():
        held = [spans[name][code] for code in block if code in spans[name]]
        first = held[0][0] if held else 0
        rows = frame.slice(first, held[-1][0] + held[-1][1] - first if held else 0)
        taken[name] = (first, rows.to_dict(as_series=False) if name in COLUMNAR else rows.to_dicts())
    for code in block:
        rows = {}
        for name, (first, got) in taken.items():
            start, length = spans[name].get(code, (first, 0))
            a, b = start - first, start - first + length
            rows[name] = {c: v[a:b] for c, v in got.items()} if name in COLUMNAR else got[a:b]
        yield code, rows


def _spans(frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """County → (first row, rows) in a table sorted by county."""
    counts = frame.group_by("county_code", maintain_order=True).len()
    starts = counts.get_column("len").cum_sum() - counts.get_column("len")
    return {code: (start, n) for code, start, n in zip(counts.get_column("county_code"), starts, counts.get_column("len"))}


def _standards(pub: Published) -> tuple[dict, dict[str, SchoolRule]]:
    """Each province's thresholds ({(level, indicator): value}) and its school rule (the floor, the
    tolerance the rule compares with, how many of the seven must meet their standard)."""
    return _thresholds(pub.thresholds), school_rules(pub.thresholds)


# The columns a county page reads of its largest tables (with county_code, which shares
# their rows out): every row becomes a dict, and the others would double that work. Every row of
# these tables reads each listed column, so a column missing here fails every build, not just
# the odd county's.
_PAGE_COLUMNS = {
    "schools": ["county_code", "school_name", "level", "unit_kind", "students", *(i.code for i in INDICATORS),
                "indicators_met", "meets_school_standard"],                           # pages, figures, brief
    "cv": ["county_code", "year", "level", "indicator", "cv", "cv_threshold"],       # figures.cv_trends
    "cv_year": ["county_code", "level", "indicator", "county_value", "cv", "cv_meets",
                "cv_threshold"],                                                     # figures, brief
    "items": ["county_code", "area", "item", "item_name", "value", "unit", "op", "threshold", "rule",
              "verdict", "trend_note", "projected_pass_year"],                       # pages
    "unit_plan": ["county_code", *PLAN_COLUMNS],                                    # brief
}


def _county_inputs(pub: Published, pub_year: int) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """What the county pages are made from: each table's rows of the year in page order, and
    each page's key."""
    year_cards = pub.scorecard.filter(pl.col("year") == pub_year)
    year_cv = pub.cv.filter(pl.col("year") == pub_year)
    year_items = pub.items.filter(pl.col("year") == pub_year)
    tables = {
        "scorecard": year_cards,
        "progress": pub.county_progress.filter(pl.col("year") == pub_year),
        "items": year_items.sort("area", "item").select(_PAGE_COLUMNS["items"]),
        "cv": pub.cv.select(_PAGE_COLUMNS["cv"]),
        "cv_year": year_cv.select(_PAGE_COLUMNS["cv_year"]),
        "schools": pub.schools.filter(pl.col("year") == pub_year).sort("level", "school_name")
                          .select(_PAGE_COLUMNS["schools"]),
        "county_plan": pub.county_plan.filter(pl.col("year") == pub_year),
        "unit_plan": pub.unit_plan.filter(pl.col("year") == pub_year).select(_PAGE_COLUMNS["unit_plan"]),
    }
    return tables, _page_keys(tables, pub_year, *_standards(pub))


def _renderer() -> bytes:
    """What a county page is made by: the code that writes it and the version of polars (whose row
    hashes the keys are made of)."""
    sources = [Path(__file__).parent / f for f in ("build.py", "pages.py", "figures.py")]
    sources += [Path(contract_module.__file__).with_name(f) for f in ("brief.py", "contract.py")]
    return hashlib.blake2b(b"".join(p.read_bytes() for p in sources) + pl.__version__.encode()).digest()


def _page_keys(tables: dict[str, pl.DataFrame], pub_year: int, thresholds: dict,
               rules: dict[str, SchoolRule]) -> dict[str, str]:
    """Each county page's key: a digest of everything it is made from (its rows of every table,
    in order, the year, its province's standards and the renderer). Equal keys, equal pages."""
    base = hashlib.blake2b(_renderer() + str(pub_year).encode()).digest()
    rows = {name: _row_hashes(frame) for name, frame in tables.items()}
    keys = {}
    for code, province in tables["scorecard"].select("county_code", "province_code").iter_rows():
        h = hashlib.blake2b(base, digest_size=16)
        h.update(repr((province, sorted(thresholds.get(province, {}).items()), tuple(rules[province]))).encode())
        for name, by_county in rows.items():
            h.update(name.encode() + by_county.get(code, b""))
        keys[code] = h.hexdigest()
    return keys


def _row_hashes(frame: pl.DataFrame) -> dict[str, bytes]:
    """Each county's rows of a table, in the table's order, as the bytes of their row hashes."""
    hashed = (frame.select("county_code", pl.Series("h", frame.hash_rows(seed=0)))
              .group_by("county_code", maintain_order=True).agg("h"))
    return {code: np.array(h, dtype=np.uint64).tobytes() for code, h in hashed.iter_rows()}


def _thresholds(reference: pl.DataFrame) -> dict[str, dict]:
    """{province_code: {(level, indicator): threshold}} from the published reference table."""
    out: dict[str, dict] = {}
    for code, level, ind, thr in reference.select("province_code", "level", "indicator", "threshold").iter_rows():
        out.setdefault(code, {})[(level, ind)] = thr
    return out
