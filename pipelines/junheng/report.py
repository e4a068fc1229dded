"""What a run tells the statistician: the summary and the quarantine workbook."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import polars as pl

from junheng.contract import QUARANTINE_COLUMNS
from junheng.publish import atomic_write_bytes
from junheng.warehouse import table_exists


def quarantine_frame(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every problem found in the input, errors first; empty when the run stopped before staging."""
    if not table_exists(con, "quarantine"):
        return pl.DataFrame(schema={c.name: c.dtype for c in QUARANTINE_COLUMNS})
    frame = con.sql("select * from quarantine order by severity, source_file, source_sheet, source_row, "
                    "\"column\"").pl()
    return frame.select([pl.col(c.name).cast(c.dtype) if c.name in frame.columns else pl.lit(None, c.dtype).alias(c.name)
                         for c in QUARANTINE_COLUMNS])


SKIPPED_HEADERS = {"file": "文件或文件夹", "sheet": "工作表", "reason": "原因代码", "reason_zh": "未读取的原因",
                   "reason_en": "Why not read (English)"}


def skipped_inputs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every file, folder and worksheet of the input that was not read, with the reason."""
    parts = [f"select * from ingest_skipped_{t}" for t in ("schools", "counties")
             if table_exists(con, f"ingest_skipped_{t}")]
    if not parts:
        return []
    return con.sql("select distinct * from (" + " union all ".join(parts) + ") order by file, sheet nulls first").pl().to_dicts()


VALIDATION_HEADERS = {
    "severity": "严重程度", "suite": "数据表", "year": "学年", "expectation": "检查", "column": "列名",
    "zh": "检查内容", "en": "Expectation (English)", "unexpected_count": "不符合的行数", "rows": "不符合的行（前20行）",
}
SEVERITY_ZH = {"error": "错误（该行未使用）", "warning": "警告（该行已使用，请核对）"}


def write_quarantine_workbook(con: duckdb.DuckDBPyConnection, path: Path, validation_failures: list[dict]) -> int:
    """Sheet 问题清单: one row per problem in the input (file, row, column, value, rule, what to do);
    sheet 数据校验: every failed Great Expectations check, with the rows it found."""
    import xlsxwriter

    frame = quarantine_frame(con)
    headed = frame.with_columns(pl.col("severity").replace(SEVERITY_ZH)).rename(
        {c.name: c.zh for c in QUARANTINE_COLUMNS})
    skipped = pl.DataFrame(skipped_inputs(con), schema={k: pl.String for k in SKIPPED_HEADERS}).rename(SKIPPED_HEADERS)
    checks = pl.DataFrame(
        [{**f, "severity": SEVERITY_ZH.get(f["severity"], f["severity"]),
          "rows": "；".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in f["rows"])}
         for f in validation_failures],
        schema={k: pl.Int64 if k in ("year", "unexpected_count") else pl.String for k in VALIDATION_HEADERS},
    ).select(list(VALIDATION_HEADERS)).rename(VALIDATION_HEADERS)
    buf = io.BytesIO()
    # text stays text: a cell typed "=A1+1" in an export is shown as typed, not made a live formula
    with xlsxwriter.Workbook(buf, {"strings_to_formulas": False}) as wb:
        headed.write_excel(wb, worksheet="问题清单", autofit=True, header_format={"bold": True})
        checks.write_excel(wb, worksheet="数据校验", autofit=True, header_format={"bold": True})
        skipped.write_excel(wb, worksheet="未读取的文件", autofit=True, header_format={"bold": True})
    atomic_write_bytes(Path(path), buf.getvalue())
    return frame.height


def stage_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Per input table: rows in = rows staged + rows quarantined, and the errors and warnings."""
    out = {}
    for table in ("schools", "counties"):
        if not table_exists(con, f"quarantine_{table}"):
            continue
        out[table] = con.sql(f"""
            select (select count(*) from raw_{table}) as rows_in,
                   (select count(*) from stg_{table}) as rows_staged,
                   (select count(*) from (select distinct source_file, source_sheet, source_row
                                          from quarantine_{table} where severity = 'error')) as rows_quarantined,
                   (select count(*) from quarantine_{table} where severity = 'error') as problems,
                   (select count(*) from quarantine_{table} where severity = 'warning') as warnings
        """).pl().to_dicts()[0]
    return out


def write_run_reports(con: duckdb.DuckDBPyConnection, output_dir: Path, summary: dict) -> dict:
    """The quarantine workbook and run_summary.json, from what the warehouse holds now. Called by
    the reports asset after a run that published, and by the command line and the failure
    sensor after one that did not, so the statistician always learns why."""
    from junheng import validation
    from junheng.publish import write_json

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_quarantine_workbook(con, output_dir / "quarantine_report.xlsx", validation.saved_failures(output_dir))
    summary = {**summary, **stage_counts(con), "skipped": skipped_inputs(con)}
    if summary.get("published"):
        summary["years"] = year_summary(con)
        summary["provinces"] = province_summary(con)
    write_json(output_dir / "run_summary.json", summary)
    return summary


def write_failed_run_reports(con: duckdb.DuckDBPyConnection, output_dir: Path, summary: dict) -> dict:
    """What a run that did not publish leaves: the workbook, the summary, and the Data Docs of
    the validations it ran (they show which expectation failed, on which rows)."""
    from junheng.validation import build_data_docs

    summary = write_run_reports(con, output_dir, summary)
    build_data_docs(output_dir)
    return summary


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
            (select count(*) filter (where all_cv_pass) from cv where cv.year = s.year) as counties_all_cv_pass,
            (select count(*) from county_completeness c where c.year = s.year and c.schools_quarantined > 0)
                as counties_with_quarantined_schools
        from (select distinct year from stg_schools) s
        order by s.year
        """
    ).pl()
    return rows.to_dicts()


def format_summary(counts: dict, years: list[dict]) -> str:
    lines = ["运行摘要 / run summary"]
    for table, zh in (("schools", "学校表"), ("counties", "县级表")):
        c = counts[table]
        lines.append(
            f"  {zh} {table}: 读入 {c['rows_in']} rows in = 通过 {c['rows_staged']} staged + "
            f"隔离 {c['rows_quarantined']} quarantined (错误 {c['problems']} errors, 警告 {c['warnings']} warnings)"
        )
    for y in years:
        share = y["share_units_meeting_standard"]
        lines.append(
            f"  {y['year']} 学年: 评估单元 {y['units']} units, 达标 {share:.1%} meet the school standard; "
            f"县 {y['counties']} counties, 14 项差异系数全部达标 {y['counties_all_cv_pass']} with all CVs passing"
            if share is not None else f"  {y['year']}: no units"
        )
        if y["counties_with_quarantined_schools"]:
            lines.append(
                f"    其中 {y['counties_with_quarantined_schools']} 个县有学校数据被隔离，资源配置无法判定达标（数据不足）"
                f" / {y['counties_with_quarantined_schools']} counties have quarantined schools: their resource part "
                "cannot pass (insufficient data)")
    return "\n".join(lines)


def format_skipped(skipped: list[dict]) -> str:
    if not skipped:
        return "未读取的文件 / not read: 无 none"
    lines = [f"未读取的文件和工作表 / not read ({len(skipped)}):"]
    for s in skipped:
        where = s["file"] + (f" [{s['sheet']}]" if s["sheet"] else "")
        lines.append(f"  {where}: {s['reason_zh']} / {s['reason_en']}")
    return "\n".join(lines)


def format_failure(output_dir: Path) -> str:
    """What the statistician has after a failed run, and what the output folder holds."""
    import json

    lines = [f"问题清单 / problems: {output_dir / 'quarantine_report.xlsx'}",
             f"运行摘要 / summary: {output_dir / 'run_summary.json'}"]
    try:
        summary = json.loads((output_dir / "run_summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "\n".join(lines)
    lines.append(f"详细日志 / full log: {summary.get('log')}")
    earlier = summary.get("earlier_publication")
    if earlier:
        lines.append(f"注意：输出文件夹中现有的结果来自 {earlier['published_at']} 的运行（学年 {earlier['years']}），"
                     f"不是本次运行的结果。 / Note: the results in the output folder are from the run of "
                     f"{earlier['published_at']}, not from this run.")
    else:
        lines.append("本次没有发布任何结果。 / Nothing was published.")
    return "\n".join(lines)


def province_summary(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Latest year per province: counties passing, the share against the next milestone, and
    the three most common failing items."""
    rows = con.sql(
        """
        with latest as (select max(year) as year from province_progress),
        fails as (
            select s.province_code, f.item, count(*) as counties
            from county_scorecard s, latest, unnest(s.failing_items) as f(item)
            where s.year = latest.year
            group by all
        ),
        top as (
            select province_code,
                   list(item || ' (' || counties || ')' order by counties desc, item)[1:3] as top_failing
            from fails group by all
        )
        select p.year, p.province, p.province_code, p.counties, p.counties_quality_balanced,
               p.counties_insufficient_data, p.share_quality_balanced, p.next_milestone_year,
               p.next_milestone_target_share, p.target_is_assumption, p.on_track, t.top_failing
        from province_progress p
        join latest on p.year = latest.year
        left join top t on t.province_code = p.province_code
        order by p.province_code
        """
    ).pl()
    return rows.to_dicts()


def format_provinces(provinces: list[dict]) -> str:
    lines = ["各省进展 / provinces (最新学年 latest year)"]
    for p in provinces:
        target = p["next_milestone_target_share"]
        milestone = (
            f"目标 {p['next_milestone_year']} 年 {target:.0%}{'（假设）' if p['target_is_assumption'] else ''}"
            f" target, {'按当前进度可达 on track' if p['on_track'] else '按当前进度难以达到 not on track'}"
            if target is not None else "无下一阶段目标 no next milestone"
        )
        lines.append(
            f"  {p['province']} {p['year']}: {p['counties_quality_balanced']}/{p['counties']} 县达到优质均衡 "
            f"({p['share_quality_balanced']:.0%}); {milestone}"
        )
        if p["top_failing"]:
            lines.append(f"    最常见未达标项目 most common failing items: {', '.join(p['top_failing'])}")
    return "\n".join(lines)
