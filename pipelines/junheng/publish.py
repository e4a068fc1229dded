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
from typing import Iterable, Iterator

import duckdb
import polars as pl

from junheng.contract import COUNTY_COLUMNS, PUBLISHED, QUARANTINE_COLUMNS, REFERENCE, SCHOOL_COLUMNS, OutColumn
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


PARTITION_FILE = "part-0.parquet"   # <table>/year=YYYY/part-0.parquet


def partition_path(out_dir: Path, table: str, year: int) -> Path:
    return Path(out_dir) / table / f"year={int(year)}" / PARTITION_FILE


def partition_files(out_dir: Path, table: str) -> list[Path]:
    """Every year's file of a published table in ``out_dir``, in year order."""
    return sorted((Path(out_dir) / table).glob(f"year=*/{PARTITION_FILE}"))


REFERENCE_DIR = "reference"
ASSUMPTIONS_FILE = "assumptions.json"


def reference_path(out_dir: Path, name: str) -> Path:
    """A reference table's file (``name``: a table of contract.REFERENCE)."""
    return Path(out_dir) / REFERENCE_DIR / f"{name}.parquet"


def assumptions_path(out_dir: Path) -> Path:
    """The assumptions in force, beside the reference tables."""
    return Path(out_dir) / REFERENCE_DIR / ASSUMPTIONS_FILE


def _missing_columns(columns: tuple[OutColumn, ...], present) -> list[str]:
    """The contract's columns a table or file lacks (``present``: the names it has)."""
    return [c.name for c in columns if c.name not in present]


def _require_columns(table: str, present: set[str], columns: tuple[OutColumn, ...]) -> None:
    """A published file has every column of its contract (and only those are written)."""
    missing = _missing_columns(columns, present)
    if missing:
        raise KeyError(f"published table {table} lacks contract columns: {missing}")


_SQL_TYPES = {pl.String(): "varchar", pl.Int32(): "integer", pl.Int64(): "bigint", pl.Float64(): "double",
              pl.Boolean(): "boolean", pl.List(pl.String()): "varchar[]"}


def publish_year(con: duckdb.DuckDBPyConnection, table: str, year: int, out_dir: Path) -> tuple[Path, int]:
    """Write one year of a warehouse table as its published Parquet partition: the contract's
    columns in its order and types, rows in key order (so the same rows give the same bytes),
    written by DuckDB straight from the warehouse (zstd)."""
    columns = PUBLISHED[table]
    _require_columns(table, {r[0] for r in con.sql(f"describe {table}").fetchall()}, columns)
    select = ", ".join(f'"{c.name}"::{_SQL_TYPES[c.dtype]} as "{c.name}"' for c in columns)
    keys = ", ".join(PUBLISHED_KEYS[table])
    path = partition_path(out_dir, table, year)
    with atomic_path(path) as tmp:
        rows = con.execute(f"copy (select {select} from {table} where year = {int(year)} order by {keys}) "
                           f"to {sql_literal(tmp)} (format parquet, compression zstd)").fetchall()[0][0]
    return path, rows


class PublicationError(RuntimeError):
    """The published folder is not what this version writes: nothing published yet, or files
    an older version wrote (a column added since is missing). The message is for the terminal."""


def publication_problems(out_dir: Path, tables: Iterable[str] = tuple(PUBLISHED)) -> list[str]:
    """What in ``out_dir`` a reader of ``tables`` and the reference tables would miss: a table
    without any year's file, a file without a column of its contract, a reference file absent.
    Only the files' schemas are read."""
    out_dir = Path(out_dir)
    expected = [(t, partition_files(out_dir, t), PUBLISHED[t]) for t in tables]
    for name, columns in REFERENCE.items():
        path = reference_path(out_dir, name)
        expected.append((str(path.relative_to(out_dir)), [path], columns))
    problems = []
    for label, files, columns in expected:
        files = [f for f in files if f.is_file()]
        if not files:
            problems.append(f"{label}：没有文件 / missing")
        for f in files:
            missing = _missing_columns(columns, pl.read_parquet_schema(f))
            if missing:
                problems.append(f"{f.relative_to(out_dir)}：缺少列 / lacks {', '.join(missing)}")
    assumptions = assumptions_path(out_dir)
    if not assumptions.is_file():
        problems.append(f"{assumptions.relative_to(out_dir)}：没有文件 / missing")
    return problems


LISTED = 12   # problems a PublicationError names (a decade of old files would list a hundred)


def require_publication(out_dir: Path, tables: Iterable[str] = tuple(PUBLISHED)) -> None:
    """Raise PublicationError, naming each file and column, unless ``out_dir`` holds what a
    reader of ``tables`` needs in this version's layout."""
    problems = publication_problems(out_dir, tables)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems[:LISTED])
        if len(problems) > LISTED:
            listed += f"\n  …（另有 {len(problems) - LISTED} 处 / {len(problems) - LISTED} more）"
        raise PublicationError(
            f"{out_dir} 中的发布结果不完整，或由旧版本写出，与本版本的数据规范不符：\n{listed}\n"
            "请用各学年的文件重新运行 junheng run（在 Dagster 界面中：物化 publish 组的全部资产），"
            "或移走上列旧文件后再试。"
            f"\n / The results published in {out_dir} are incomplete, or were written by an older version and "
            "do not follow this version's contract (above). Run `junheng run` again with every year's files "
            "(in Dagster: materialise the whole publish group), or move the files listed away, then retry.")


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
        lines += _columns_section(f"## `{table}`", columns)
    lines += ["# Reference tables / 政策参照表", "",
              "The policy in force for the provinces of the run, written whole by every run: "
              "`reference/<table>.parquet` (zstd), with `reference/assumptions.json`.", ""]
    for table, columns in REFERENCE.items():
        lines += _columns_section(f"## `reference/{table}`", columns)
    return "\n".join(lines)


def _columns_section(title: str, columns: tuple[OutColumn, ...]) -> list[str]:
    return [title, "", "| column | type | description | 说明 |", "|---|---|---|---|",
            *[f"| `{c.name}` | {c.dtype} | {_cell(c.en)} | {_cell(c.zh)} |" for c in columns], ""]


def _cell(text: str) -> str:
    """Text in a Markdown table cell: a bare | would end the cell ("primary | junior")."""
    return text.replace("|", "\\|")


def write_schema_doc(path: Path) -> None:
    atomic_write_bytes(Path(path), schema_doc().encode("utf-8"))


def write_json(path: Path, payload: dict) -> None:
    atomic_write_bytes(Path(path), json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))


def publish_reference(con: duckdb.DuckDBPyConnection, out_dir: Path, assumptions: dict) -> list[Path]:
    """The policy behind the numbers, for readers and the dashboards (``REFERENCE`` in the
    contract): indicator thresholds and CV ceilings per province, milestones, the plan's unit
    costs, and the assumptions in force."""
    queries = {
        "indicator_thresholds":
            "select t.province_code, t.level, t.indicator, t.threshold, t.threshold_rule, t.cv_threshold, "
            "t.cv_threshold_rule, p.floor_share, p.floor_share * t.threshold as floor_value, p.relative_tolerance, "
            "p.min_indicators_met "
            "from policy_level_thresholds t join policy_province p using (province_code) order by all",
        "milestones": "select * from policy_milestones order by jurisdiction, year nulls last, kind",
        "plan_costs": "select * exclude (resource, per, whole_at, facility) from policy_plan_costs order by all",
    }
    paths = []
    for name, columns in REFERENCE.items():
        frame = con.sql(queries[name]).pl()
        _require_columns(name, set(frame.columns), columns)
        paths.append(reference_path(out_dir, name))
        atomic_write_parquet(frame.select([pl.col(c.name).cast(c.dtype) for c in columns]), paths[-1])
    paths.append(assumptions_path(out_dir))
    write_json(paths[-1], assumptions)
    return paths
