"""Typing and validating raw school rows against the contract (staging layer).

Every raw row either becomes one typed row of ``stg_schools`` or goes to the quarantine
with one line per problem: file, row, column, the value found, the rule and the reason in
Chinese and English. Nothing is dropped: rows in = rows staged + rows quarantined.

Repairs made without guessing: cells Excel turned into numbers (``520102.0``) get their
trailing ``.0`` removed; thousands separators are removed from counts; the known
alternative spellings of a school type are mapped to its code. Anything that would need
a guess (a code that lost a leading zero, a number in scientific notation) is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from junheng.contract import (
    BOOL_FALSE,
    BOOL_TRUE,
    COUNTY_COLUMNS,
    LOCATIONS,
    OWNERSHIPS,
    SCHOOL_COLUMNS,
    SCHOOL_TYPE_ALIASES,
    SCHOOL_TYPES,
    SPECIAL_EDUCATION,
    SUBSET_PAIRS,
    TYPE_LEVELS,
    Column,
)

YEAR_RANGE = (2000, 2100)
COUNTY_CODE_DIGITS = 6


@dataclass
class Staged:
    rows: pl.DataFrame  # typed rows that passed every rule
    problems: pl.DataFrame  # one row per problem (quarantine)
    rows_in: int
    rows_staged: int
    rows_quarantined: int


def _p(name: str) -> str:
    return f"__v_{name}"


def _types_with(level: str) -> list[str]:
    return [t for t, levels in TYPE_LEVELS.items() if level in levels]


def _numeric(name: str) -> pl.Expr:
    text = pl.col(name).str.replace_all(",", "").str.replace_all("，", "")
    value = text.cast(pl.Float64, strict=False)
    return pl.when(value.is_nan() | value.is_infinite()).then(None).otherwise(value)


def _code(name: str) -> pl.Expr:
    # Excel stores codes typed as numbers as floats: "520102.0" is 520102 with nothing lost.
    return pl.col(name).str.replace(r"^(\d+)\.0+$", "${1}")


def _required_mask(col: Column) -> pl.Expr:
    t = pl.col("__type")
    if col.required == "always":
        return pl.lit(True)
    if col.required in ("primary", "junior", "senior"):
        return t.is_in(_types_with(col.required))
    if col.required == "facility":
        return t.is_not_null() & (t != SPECIAL_EDUCATION)
    return pl.lit(False)


class _Problems:
    """Collects problem frames: one line per (row, column, rule)."""

    def __init__(self, frame: pl.DataFrame, table: str, columns: tuple[Column, ...], id_column: str | None):
        self.frame = frame
        self.table = table
        self.columns = {c.name: c for c in columns}
        self.id_expr = pl.col(_p(id_column)) if id_column else pl.lit(None, pl.String)
        self.parts: list[pl.DataFrame] = []

    def add(self, mask: pl.Expr, column: str, rule: str, zh: str | pl.Expr, en: str | pl.Expr) -> None:
        col = self.columns.get(column)
        value = pl.col(column).cast(pl.String) if column in self.frame.columns else pl.lit(None, pl.String)
        part = self.frame.filter(mask).select(
            pl.col("__rid"),
            pl.lit(self.table).alias("table_name"),
            pl.col("source_file"),
            pl.col("source_sheet"),
            pl.col("source_row"),
            pl.col(_p("year")).cast(pl.Int32).alias("year"),
            self.id_expr.alias("school_id"),
            pl.lit(column).alias("column"),
            pl.lit(col.zh if col else column).alias("column_zh"),
            value.alias("value"),
            pl.lit(rule).alias("rule"),
            (zh if isinstance(zh, pl.Expr) else pl.lit(zh)).alias("reason_zh"),
            (en if isinstance(en, pl.Expr) else pl.lit(en)).alias("reason_en"),
        )
        if part.height:
            self.parts.append(part)

    def collect(self) -> pl.DataFrame:
        if not self.parts:
            return self.frame.head(0).select(
                pl.col("__rid"), pl.lit(self.table).alias("table_name"), pl.col("source_file"), pl.col("source_sheet"), pl.col("source_row"),
                pl.lit(None, pl.Int32).alias("year"), pl.lit(None, pl.String).alias("school_id"),
                *[pl.lit(None, pl.String).alias(n) for n in
                  ("column", "column_zh", "value", "rule", "reason_zh", "reason_en")],
            )
        return pl.concat(self.parts).sort("source_file", "source_sheet", "source_row", "column", "rule",
                                          nulls_last=True)


def _parse(raw: pl.DataFrame, columns: tuple[Column, ...]) -> pl.DataFrame:
    """Add a parsed twin ``__v_<name>`` of every number, code and yes/no column."""
    exprs = []
    for c in columns:
        if c.kind in ("int", "float"):
            exprs.append(_numeric(c.name).alias(_p(c.name)))
        elif c.kind == "code":
            exprs.append(_code(c.name).alias(_p(c.name)))
        elif c.kind == "bool":
            low = pl.col(c.name).str.to_lowercase()
            exprs.append(pl.when(low.is_in(BOOL_TRUE)).then(True).when(low.is_in(BOOL_FALSE)).then(False)
                         .otherwise(None).alias(_p(c.name)))
    return raw.with_row_index("__rid").with_columns(exprs)


def _column_checks(probs: _Problems, columns: tuple[Column, ...], required_mask) -> None:
    """Rules that depend on one column only: presence, numbers, ranges, yes/no, codes."""
    missing_by_row = pl.col("source_missing_columns").str.split(",")
    for col in columns:
        name = col.name
        blank = pl.col(name).is_null()
        required = required_mask(col)
        if col.required != "optional":
            absent = missing_by_row.list.contains(name)
            probs.add(
                required & blank & absent, name, "missing_column",
                f"文件中没有“{col.zh}”（{name}）这一列，此行需要该值。请补上这一列。",
                f"the file has no column '{name}' ({col.zh}), which this row needs. Add the column.",
            )
            probs.add(
                required & blank & ~absent, name, "required_blank",
                f"“{col.zh}”为空，但必须填写。请填写（没有时填 0）。",
                f"'{name}' ({col.zh}) is blank but required here. Fill it in (0 if none).",
            )
        if col.kind in ("int", "float"):
            v = pl.col(_p(name))
            probs.add(
                ~blank & v.is_null(), name, "not_a_number",
                f"“{col.zh}”应为数字，实际是文字。请改为数字。",
                f"'{name}' ({col.zh}) must be a number but holds text. Enter a number.",
            )
            if name != "year":
                probs.add(
                    v < col.min_value, name, "below_minimum" if col.min_value else "negative",
                    f"“{col.zh}”不能小于 {col.min_value:g}。请核对。",
                    f"'{name}' ({col.zh}) cannot be below {col.min_value:g}. Check it.",
                )
            if col.max_value is not None:
                probs.add(
                    v > col.max_value, name, "above_maximum",
                    f"“{col.zh}”不能大于 {col.max_value:g}（百分比请填 0-100）。请核对。",
                    f"'{name}' ({col.zh}) cannot be above {col.max_value:g} (percentages are 0-100). Check it.",
                )
            if col.kind == "int" and name != "year":
                probs.add(
                    v.is_not_null() & (v != v.round(0)), name, "not_whole",
                    f"“{col.zh}”应为整数。请核对。", f"'{name}' ({col.zh}) must be a whole number. Check it.",
                )
        elif col.kind == "bool":
            probs.add(
                ~blank & pl.col(_p(name)).is_null(), name, "not_yes_no",
                f"“{col.zh}”只能填“是”或“否”。", f"'{name}' ({col.zh}) must be 是/否 (yes/no).",
            )
        elif col.kind == "code":
            probs.add(
                pl.col(name).str.contains(r"(?i)^[0-9.]+e[+-]?\d+$"), name, "scientific_notation",
                f"“{col.zh}”被 Excel 显示成了科学计数法，位数已丢失。请把该列设为“文本”格式后重新导出。",
                f"'{name}' ({col.zh}) was turned into scientific notation by Excel and has lost digits. "
                "Format the column as text and export again.",
            )


def _year_and_county_checks(probs: _Problems) -> None:
    year = pl.col(_p("year"))
    probs.add(
        year.is_not_null() & ((year != year.round(0)) | (year < YEAR_RANGE[0]) | (year > YEAR_RANGE[1])),
        "year", "bad_year",
        f"学年应为 {YEAR_RANGE[0]}–{YEAR_RANGE[1]} 之间的四位年份（如 2024）。",
        f"year must be a 4-digit year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]} (e.g. 2024).",
    )
    cc = pl.col(_p("county_code"))
    sci = pl.col("county_code").str.contains(r"(?i)e[+-]?\d+$")
    probs.add(
        cc.is_not_null() & ~sci & cc.str.contains(r"^\d{1,5}$"), "county_code", "county_code_short",
        f"县区代码应为 {COUNTY_CODE_DIGITS} 位数字，这里位数不足：可能是 Excel 把代码当成数字，去掉了开头的 0。"
        "请把该列设为“文本”格式并填写完整代码。",
        f"county_code must have {COUNTY_CODE_DIGITS} digits; this one is shorter, perhaps Excel treated it as a "
        "number and dropped leading zeros. Format the column as text and enter the full code.",
    )
    probs.add(
        cc.is_not_null() & ~sci & ~cc.str.contains(r"^\d{1,6}$"), "county_code", "county_code_invalid",
        f"县区代码应为 {COUNTY_CODE_DIGITS} 位数字（行政区划代码）。",
        f"county_code must be the {COUNTY_CODE_DIGITS}-digit administrative code.",
    )


def _duplicate_check(probs: _Problems, key_column: str, zh: str) -> None:
    """Every row sharing (year, key) is quarantined: which one is right cannot be known."""
    df = probs.frame
    key = [_p("year"), _p(key_column)]
    where = pl.format("{}:{}", pl.col("source_file").str.split("/").list.last(), pl.col("source_row"))
    dup = (
        df.filter(pl.col(_p(key_column)).is_not_null() & pl.col(_p("year")).is_not_null())
        .with_columns(where.alias("__where"))
        .with_columns(pl.len().over(key).alias("__n"), pl.col("__where").implode().over(key).alias("__all"))
        .filter(pl.col("__n") > 1)
    )
    if not dup.height:
        return
    probs.frame = df.join(dup.select("__rid", pl.col("__all").list.join("、").alias("__others")), on="__rid",
                          how="left")
    probs.add(
        pl.col("__others").is_not_null(), key_column, f"duplicate_{key_column}",
        pl.format(f"同一学年中{zh}重复，出现在：{{}}。请只保留一行。", pl.col("__others")),
        pl.format(f"the same {key_column} appears more than once in this year, at: {{}}. Keep one row.",
                  pl.col("__others")),
    )


def _finish(raw: pl.DataFrame, probs: _Problems, typed) -> Staged:
    problems = probs.collect()
    bad = problems.select("__rid").unique()
    good = probs.frame.join(bad, on="__rid", how="anti")
    rows = typed(good)
    return Staged(rows, problems.drop("__rid"), raw.height, rows.height, bad.height)


def stage_schools(raw: pl.DataFrame) -> Staged:
    """Validate and type the raw school rows. Pure function: frame in, frames out."""
    type_text = pl.col("school_type")
    df = _parse(raw, SCHOOL_COLUMNS).with_columns(
        pl.coalesce(type_text.replace_strict(SCHOOL_TYPE_ALIASES, default=None), type_text).alias("__type_raw"),
    ).with_columns(
        pl.when(pl.col("__type_raw").is_in(SCHOOL_TYPES)).then(pl.col("__type_raw")).alias("__type"),
    )
    probs = _Problems(df, "schools", SCHOOL_COLUMNS, "school_id")
    _column_checks(probs, SCHOOL_COLUMNS, _required_mask)
    _year_and_county_checks(probs)

    for col in SCHOOL_COLUMNS:
        if col.required in ("primary", "junior", "senior") and col.kind in ("int", "float"):
            v = pl.col(_p(col.name))
            level_zh = {"primary": "小学", "junior": "初中", "senior": "高中"}[col.required]
            probs.add(
                pl.col("__type").is_not_null() & ~_required_mask(col) & v.is_not_null() & (v != 0), col.name,
                "level_not_taught",
                pl.format("办学类型为“{}”，没有{}学段，但“{}”不为 0。请核对办学类型或该数值。",
                          pl.col("__type"), pl.lit(level_zh), pl.lit(col.zh)),
                pl.format("school type {} has no {} level, yet '{}' is not 0. Check the type or the value.",
                          pl.col("__type"), pl.lit(col.required), pl.lit(col.name)),
            )
    probs.add(
        type_text.is_not_null() & pl.col("__type").is_null(), "school_type", "unknown_school_type",
        "无法识别的办学类型。可用：" + "、".join(SCHOOL_TYPES) + "。",
        "unknown school type. Allowed: " + ", ".join(SCHOOL_TYPES) + ".",
    )
    probs.add(
        pl.col("ownership").is_not_null() & ~pl.col("ownership").is_in(OWNERSHIPS), "ownership", "unknown_ownership",
        "办学性质只能是“公办”或“民办”。", "ownership must be 公办 or 民办.",
    )
    probs.add(
        pl.col("location").is_not_null() & ~pl.col("location").is_in(LOCATIONS), "location", "unknown_location",
        "城乡类型只能是“城区”“镇区”或“乡村”。", "location must be 城区, 镇区 or 乡村.",
    )
    zh_of = {c.name: c.zh for c in SCHOOL_COLUMNS}
    for part, whole in SUBSET_PAIRS:
        probs.add(
            pl.col(_p(part)) > pl.col(_p(whole)), part, "exceeds_total",
            f"“{zh_of[part]}”大于“{zh_of[whole]}”，不可能。请核对。",
            f"'{part}' ({zh_of[part]}) is larger than '{whole}' ({zh_of[whole]}). Check both.",
        )
    for level in ("primary", "junior"):
        students, teachers = pl.col(_p(f"{level}_students")), pl.col(_p(f"{level}_teachers"))
        zh_level = {"primary": "小学", "junior": "初中"}[level]
        probs.add(
            pl.col("__type").is_in(_types_with(level)) & (students > 0) & (teachers == 0),
            f"{level}_teachers", "students_without_teachers",
            f"有{zh_level}在校生，但{zh_level}专任教师数为 0。请核对。",
            f"the school has {level} students but 0 {level} teachers. Check both.",
        )
    _duplicate_check(probs, "school_id", "学校标识码")
    return _finish(raw, probs, _typed_schools)


def stage_counties(raw: pl.DataFrame) -> Staged:
    """Validate and type the raw county rows (the supplementary county table)."""
    probs = _Problems(_parse(raw, COUNTY_COLUMNS), "counties", COUNTY_COLUMNS, None)
    _column_checks(probs, COUNTY_COLUMNS, lambda col: pl.lit(col.required == "always"))
    _year_and_county_checks(probs)
    _duplicate_check(probs, "county_code", "县区代码")
    return _finish(raw, probs, lambda df: _typed(df, COUNTY_COLUMNS).sort("year", "county_code"))


def _typed(df: pl.DataFrame, columns: tuple[Column, ...], level_zero=None) -> pl.DataFrame:
    out = [pl.col("source_file"), pl.col("source_sheet"), pl.col("source_row")]
    for col in columns:
        name = col.name
        if col.kind in ("int", "float"):
            v = pl.col(_p(name))
            if level_zero is not None:
                v = level_zero(col, v)
            dtype = pl.Float64 if col.kind == "float" else (pl.Int32 if name == "year" else pl.Int64)
            out.append(v.cast(dtype).alias(name))
        elif col.kind in ("code", "bool"):
            out.append(pl.col(_p(name)).alias(name))
        elif name == "school_type":
            out.append(pl.col("__type").alias(name))
        else:
            out.append(pl.col(name))
    out.append(pl.col(_p("county_code")).str.slice(0, 2).alias("province_code"))
    return df.select(out)


def _typed_schools(df: pl.DataFrame) -> pl.DataFrame:
    """Typed staging rows; level columns a school type does not teach become 0."""

    def level_zero(col: Column, v: pl.Expr) -> pl.Expr:
        if col.required in ("primary", "junior", "senior"):
            return pl.when(_required_mask(col)).then(v).otherwise(pl.coalesce(v, pl.lit(0.0)))
        return v

    return _typed(df, SCHOOL_COLUMNS, level_zero).sort("year", "county_code", "school_id")
