"""Writing the published Parquet tables atomically, with their contract columns.

A reader never sees half a file: each partition is written to a temporary file in the same
folder, flushed to disk, then renamed over the old one (a rename within one file system is
atomic). A run killed midway leaves the previous file whole.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from junheng.contract import COUNTY_COLUMNS, PUBLISHED, QUARANTINE_COLUMNS, SCHOOL_COLUMNS
from junheng.models import PUBLISHED_KEYS
from junheng.warehouse import sql_literal

_UMASK = os.umask(0)
os.umask(_UMASK)



@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; on success it is flushed to disk and renamed
    over ``path``, on failure removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a run that was killed mid-write
        with contextlib.suppress(OSError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; published files are for everyone
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def replaced_folder(final: Path) -> Iterator[Path]:
    """An empty folder beside ``final`` to fill; on success it replaces ``final`` by two renames
    (a folder cannot be replaced in one), on failure it is removed. A reader sees the old folder
    or the new one, and thousands of pages need no file-by-file sync."""
    final = Path(final)
    new = final.with_name(f".{final.name}.{os.getpid()}.new")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    try:
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.{os.getpid()}.old")
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)
    for stale in final.parent.glob(f".{final.name}.*"):  # left by a run that was killed mid-build
        shutil.rmtree(stale, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """zstd Parquet, replaced atomically. Deterministic: same frame, same bytes."""
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=True)
    atomic_write_bytes(path, buf.getvalue())


def partition_path(out_dir: Path, table: str, year: int) -> Path:
    return Path(out_dir) / table / f"year={int(year)}" / "part-0.parquet"


_SQL_TYPES = {pl.String(): "varchar", pl.Int32(): "integer", pl.Int64(): "bigint", pl.Float64(): "double",
              pl.Boolean(): "boolean", pl.List(pl.String()): "varchar[]"}


def publish_year(con: duckdb.DuckDBPyConnection, table: str, year: int, out_dir: Path) -> tuple[Path, int]:
    """Write one year of a warehouse table as its published Parquet partition: the contract's
    columns in its order and types, rows in key order (so the same rows give the same bytes),
    written by DuckDB straight from the warehouse (zstd)."""
    columns = PUBLISHED[table]
    present = {r[0] for r in con.sql(f"describe {table}").fetchall()}
    missing = [c.name for c in columns if c.name not in present]
    if missing:
        raise KeyError(f"published table lacks contract columns: {missing}")
    select = ", ".join(f'"{c.name}"::{_SQL_TYPES[c.dtype]} as "{c.name}"' for c in columns)
    keys = ", ".join(PUBLISHED_KEYS[table])
    path = partition_path(out_dir, table, year)
    with atomic_path(path) as tmp:
        rows = con.execute(f"copy (select {select} from {table} where year = {int(year)} order by {keys}) "
                           f"to {sql_literal(tmp)} (format parquet, compression zstd)").fetchall()[0][0]
    return path, rows


_REQUIRED_WORDS = {
    "always": "every row / 必填",
    "primary": "schools with a primary level / 有小学学段的学校必填",
    "junior": "schools with a junior level / 有初中学段的学校必填",
    "senior": "schools with a senior level / 有高中学段的学校必填",
    "facility": "every row except special-education schools / 除特殊教育学校外必填",
    "optional": "may be blank / 可空",
}


def _input_section(title: str, intro: str, columns) -> list[str]:
    return ["", title, "", intro, "", "| column | 中文表头 | type | required | notes |", "|---|---|---|---|---|",
            *[f"| `{c.name}` | {c.zh} | {c.kind} | {_REQUIRED_WORDS[c.required]} | {c.description} |"
              for c in columns]]


def schema_doc() -> str:
    """Markdown description of the input tables and every published column (English and Chinese)."""
    lines = ["# Data contract / 数据规范", "", "Generated from `pipelines/junheng/contract.py`; do not edit by hand."]
    lines += _input_section(
        "## In: the school table / 输入：学校基础数据表",
        "Files named `schools*.csv|xlsx|parquet`. Headers may be the English or the Chinese names; "
        "column order is free; other columns are kept in the raw layer.", SCHOOL_COLUMNS)
    lines += _input_section(
        "## In: the county table / 输入：县级补充数据表",
        "Files named `counties*.csv|xlsx|parquet`, one row per county and year: what the statistics lack. "
        "Percentages are 0-100; yes/no items take 是/否. A blank makes its item `insufficient_data`, "
        "never a pass. Without any county file every such item is `insufficient_data`.", COUNTY_COLUMNS)
    lines += ["", "# Published tables / 发布数据表", "",
              "Parquet, zstd, one folder per table, partitioned by year: `<table>/year=YYYY/part-0.parquet`.",
              "Key columns hold codes; Chinese labels are in `*_name` columns.", ""]
    for table, columns in {**PUBLISHED, "quarantine (quarantine_report.xlsx)": QUARANTINE_COLUMNS}.items():
        lines += [f"## `{table}`", "", "| column | type | description | 说明 |", "|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.dtype} | {c.en} | {c.zh} |" for c in columns]
        lines.append("")
    return "\n".join(lines)


def write_schema_doc(path: Path) -> None:
    atomic_write_bytes(Path(path), schema_doc().encode("utf-8"))


def write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(Path(path), json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))


def publish_reference(con: duckdb.DuckDBPyConnection, out_dir: Path, assumptions: dict) -> list[Path]:
    """The policy behind the numbers, for readers and the dashboards: indicator thresholds and
    CV ceilings per province, milestones, and the assumptions in force."""
    ref = Path(out_dir) / "reference"
    thresholds = con.sql(
        "select t.province_code, t.level, t.indicator, t.threshold, t.threshold_rule, t.cv_threshold, "
        "t.cv_threshold_rule, p.floor_share, p.floor_share * t.threshold as floor_value, p.relative_tolerance "
        "from policy_level_thresholds t join policy_province p using (province_code) order by all").pl()
    costs = con.sql("select * exclude (resource, per, whole_at, facility) from policy_plan_costs order by all").pl()
    atomic_write_parquet(costs, ref / "plan_costs.parquet")
    milestones = con.sql("select * from policy_milestones order by jurisdiction, year nulls last, kind").pl()
    atomic_write_parquet(thresholds, ref / "indicator_thresholds.parquet")
    atomic_write_parquet(milestones, ref / "milestones.parquet")
    write_json(ref / "assumptions.json", assumptions)
    return [ref / "indicator_thresholds.parquet", ref / "milestones.parquet", ref / "plan_costs.parquet",
            ref / "assumptions.json"]
