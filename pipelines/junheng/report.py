"""What a run tells the statistician: the summary and the quarantine workbook."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import polars as pl

from junheng.contract import QUARANTINE_COLUMNS
from junheng.publish import atomic_write_bytes


def quarantine_frame(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.sql("select * from quarantine order by source_file, source_sheet, source_row, \"column\"").pl()


def write_quarantine_workbook(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """One row per problem with Chinese headers; the statistician fixes the file and reruns."""
    frame = quarantine_frame(con)
    headed = frame.rename({c.name: c.zh for c in QUARANTINE_COLUMNS})
    buf = io.BytesIO()
    headed.write_excel(buf, worksheet="问题清单", autofit=True, header_format={"bold": True})
    atomic_write_bytes(Path(path), buf.getvalue())
    return frame.height


def year_summary(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per year: schools, units, counties, and counties whose 14 CVs all pass."""
    rows = con.sql(
        """
        with cv as (
            select year, county_code, bool_and(coalesce(cv_meets, false)) as all_cv_pass
            from county_cv group by all
        )
        select
            s.year,
            (select count(*) from stg_schools t where t.year = s.year) as schools_staged,
            (select count(*) from quarantine q where q.year = s.year) as problems,
            (select count(*) from school_indicators i where i.year = s.year) as units,
            (select avg(meets_school_standard::int) from school_indicators i where i.year = s.year)
                as share_units_meeting_standard,
            (select count(*) from cv where cv.year = s.year) as counties,
            (select count(*) filter (where all_cv_pass) from cv where cv.year = s.year) as counties_all_cv_pass
        from (select distinct year from stg_schools) s
        order by s.year
        """
    ).pl()
    return rows.to_dicts()


def format_summary(counts: dict, years: list[dict]) -> str:
    lines = [
        "运行摘要 / run summary",
        f"  读入行数 rows in:          {counts['rows_in']}",
        f"  通过校验 rows staged:      {counts['rows_staged']}",
        f"  隔离 rows quarantined:     {counts['rows_quarantined']}  (问题 problems: {counts['problems']})",
    ]
    for y in years:
        share = y["share_units_meeting_standard"]
        lines.append(
            f"  {y['year']} 学年: 评估单元 {y['units']} units, 达标 {share:.1%} meet the school standard; "
            f"县 {y['counties']} counties, 14 项差异系数全部达标 {y['counties_all_cv_pass']} with all CVs passing"
            if share is not None else f"  {y['year']}: no units"
        )
    return "\n".join(lines)
