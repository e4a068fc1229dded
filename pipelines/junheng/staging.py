"""Typing and validating raw school rows against the contract (staging layer).

Every raw row either becomes one typed row of ``stg_schools`` or goes to the quarantine
with one line per problem: file, row, column, the value found, the rule and the reason in
Chinese and English. Nothing is dropped: rows in = rows staged + rows quarantined.

Repairs made without guessing: cells Excel turned into numbers (``520102.0``) get their
trailing ``.0`` removed; thousands separators are removed from counts; the known
alternative spellings of a school type are mapped to its code; full-width characters are
folded (NFKC) and invisible characters (zero-width spaces, BOMs) removed from codes,
enumerations and numbers, each such change reported as a warning naming the cell. Anything
that would need a guess (a code that lost a leading zero, a number in scientific notation)
is rejected.

Each problem has a severity: ``error`` quarantines the row (it is not used, and its county
cannot be judged to pass); ``warning`` keeps the row and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from junheng.contract import (
    FIRST_YEAR,
    LAST_YEAR,
    LEVEL_NAMES_ZH,
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
    TEACHING_POINT,
    Column,
)
from junheng.policy import InputChecks

COUNTY_CODE_DIGITS = 6
# Zero-width and other invisible characters that survive copy and paste from web pages and
# chat messages: a code with one displays correctly and matches nothing.
INVISIBLE = "[\u00ad\u180e\u200b-\u200f\u2028-\u202f\u2060-\u2064\ufeff]"
# What the statistics system and statisticians type for "not applicable" or "none".
EMPTY_MARKERS = ("—", "——", "–", "-", "--", "/", "无", "n/a", "na", "null", "空", "\\")
FORMULA_ERROR = r"^#(REF!|DIV/0!|VALUE!|N/A|NAME\?|NUM!|NULL!|SPILL!|CALC!|GETTING_DATA)$"
FOLDED_KINDS = ("code", "enum", "bool", "int", "float")


class DuplicateFilesError(Exception):
    """The same schools appear in two files: a copy of a file, or two exports overlapping.
    Which file is right cannot be known, so the run stops and names both."""

    def __init__(self, pairs: list[tuple[str, str, int, list[str]]]):
        self.pairs = pairs
        lines = [f"- {a} 与 and {b}: {n} 所学校相同 schools in both (例如 e.g. {', '.join(ids[:3])})"
                 for a, b, n, ids in pairs]
        super().__init__(
            "以下文件含有相同学年的相同学校（学校标识码重复），可能是同一文件的副本或两次导出重叠。请删除或移走其中一个文件后重试。"
            " / These files hold the same schools for the same year (a copy, or two overlapping exports). "
            "Remove one of each pair and retry.\n" + "\n".join(lines))


@dataclass
class Staged:
    rows: pl.DataFrame  # typed rows that passed every rule
    problems: pl.DataFrame  # one row per problem (quarantine), errors and warnings
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    quarantined: pl.DataFrame | None = None  # one row per quarantined row: year, county, school, type


PROBLEM_ORDER = ("source_file", "source_sheet", "source_row", "column", "rule")  # as the quarantine lists them


def independent_files(keys: pl.DataFrame, columns: tuple[Column, ...]) -> list[list[str]]:
    """The files in groups that can be staged apart, each group's files sorted, the groups by
    their first file. Every rule compares a row only with rows of its own sheet or of its own
    year (duplicates, parents and county names within a year, stray years within a sheet), so
    files that share no year, directly or through other files, share no rule. ``keys``: the raw
    rows' ``source_file`` and ``year`` as typed (read here as staging reads it)."""
    year = next(c for c in columns if c.name == "year")
    pairs = _parse(keys.select("source_file", "year"), (year,)).select("source_file", _p("year")).unique()
    parent: dict[tuple, tuple] = {}

    def root(node: tuple) -> tuple:
        while parent.setdefault(node, node) != node:
            parent[node] = node = parent[parent[node]]
        return node

    for file, value in pairs.iter_rows():
        a = root(("file", file))
        if value is not None:
            parent[a] = root(("year", value))
    groups: dict[tuple, list[str]] = {}
    for file in sorted(pairs.get_column("source_file").unique().to_list()):
        groups.setdefault(root(("file", file)), []).append(file)
    return sorted(groups.values())


def combine(parts: list[Staged]) -> Staged:
    """Parts staged apart (see :func:`independent_files`) as one, in the quarantine's order."""
    if len(parts) == 1:
        return parts[0]
    held = [p.quarantined for p in parts if p.quarantined is not None]
    return Staged(
        pl.concat([p.rows for p in parts]),
        pl.concat([p.problems for p in parts], how="vertical_relaxed").sort(*PROBLEM_ORDER, nulls_last=True),
        sum(p.rows_in for p in parts), sum(p.rows_staged for p in parts), sum(p.rows_quarantined for p in parts),
        pl.concat(held).sort(*PROBLEM_ORDER[:3], nulls_last=True) if held else None,
    )


def _p(name: str) -> str:
    return f"__v_{name}"


def text_with(template: str, *values: pl.Expr) -> pl.Expr:
    """``template`` with each ``{}`` replaced by the next value (null if any value is null), as
    ``pl.format`` does. Written with ``concat_str`` because ``pl.format`` (polars 2.1.0) panicked
    on a problem of a national decade's rows, an index out of bounds in its string kernel, while
    ``concat_str`` gives the text."""
    pieces = template.split("{}")
    if len(pieces) != len(values) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholders for {len(values)} values: {template}")
    parts: list[pl.Expr] = [pl.lit(pieces[0])]
    for value, piece in zip(values, pieces[1:]):
        parts += [value.cast(pl.String), pl.lit(piece)]
    return pl.concat_str(parts)


def _types_with(level: str) -> list[str]:
    return [t for t, levels in TYPE_LEVELS.items() if level in levels]


def _numeric(name: str, percent: bool = False, plain: bool = False) -> pl.Expr:
    """``plain``: every cell of the column is digits and points, with nothing to take out."""
    text = pl.col(name)
    if not plain:
        text = text.str.replace_all(",", "").str.replace_all("，", "")
        if percent:  # "90%" as Excel shows a percent cell, or as a CSV export writes it
            text = text.str.strip_suffix("%")
    value = text.cast(pl.Float64, strict=False)
    return pl.when(value.is_nan() | value.is_infinite()).then(None).otherwise(value)


def _code(name: str) -> pl.Expr:
    # Excel stores codes typed as numbers as floats: "520102.0" is 520102 with nothing lost.
    return pl.col(name).str.replace(r"^([0-9]+)\.0+$", "${1}")


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
    """Collects problem frames: one line per (row, column, rule).

    Rules are gathered and evaluated together: one pass over the frame tells which rules hit
    any row, and only those are filtered (clean data, the usual case, costs one pass). The
    pending rules are evaluated whenever the frame is replaced, against the frame they were
    written for."""

    def __init__(self, frame: pl.DataFrame, table: str, columns: tuple[Column, ...], id_column: str | None):
        self._frame = frame
        self.table = table
        self.columns = {c.name: c for c in columns}
        self.id_expr = pl.col(_p(id_column)) if id_column else pl.lit(None, pl.String)
        self.parts: list[pl.DataFrame] = []
        self.pending: list[tuple[pl.Expr, list[pl.Expr]]] = []

    @property
    def frame(self) -> pl.DataFrame:
        return self._frame

    @frame.setter
    def frame(self, frame: pl.DataFrame) -> None:
        self.flush()
        self._frame = frame

    def flush(self) -> None:
        if not self.pending:
            return
        hits = self._frame.select(
            [mask.fill_null(False).any().alias(str(i)) for i, (mask, _) in enumerate(self.pending)]).row(0)
        for hit, (mask, select) in zip(hits, self.pending):
            if hit:
                self.parts.append(self._frame.filter(mask).select(select))
        self.pending = []

    def add(self, mask: pl.Expr, column: str, rule: str, zh: str | pl.Expr, en: str | pl.Expr,
            severity: str = "error", value: pl.Expr | None = None) -> None:
        col = self.columns.get(column)
        if value is None:
            original = _orig(column)
            value = pl.col(original if original in self.frame.columns else column).cast(pl.String) \
                if column in self.frame.columns else pl.lit(None, pl.String)
        self.pending.append((mask, [
            pl.col("__rid"),
            pl.lit(self.table).alias("table_name"),
            pl.lit(severity).alias("severity"),
            pl.col("source_file"),
            pl.col("source_sheet"),
            pl.col("source_row"),
            pl.col(_p("year")).cast(pl.Int32, strict=False).alias("year"),
            self.id_expr.alias("school_id"),
            pl.lit(column).alias("column"),
            pl.lit(col.zh if col else column).alias("column_zh"),
            value.alias("value"),
            pl.lit(rule).alias("rule"),
            (zh if isinstance(zh, pl.Expr) else pl.lit(zh)).alias("reason_zh"),
            (en if isinstance(en, pl.Expr) else pl.lit(en)).alias("reason_en"),
        ]))

    def collect(self) -> pl.DataFrame:
        self.flush()
        if not self.parts:
            return self.frame.head(0).select(
                pl.col("__rid"), pl.lit(self.table).alias("table_name"), pl.lit("error").alias("severity"),
                pl.col("source_file"), pl.col("source_sheet"), pl.col("source_row"),
                pl.lit(None, pl.Int32).alias("year"), pl.lit(None, pl.String).alias("school_id"),
                *[pl.lit(None, pl.String).alias(n) for n in
                  ("column", "column_zh", "value", "rule", "reason_zh", "reason_en")],
            )
        return pl.concat(self.parts).sort(*PROBLEM_ORDER, nulls_last=True)


def _orig(name: str) -> str:
    return f"__orig_{name}"


def _flag(kind: str, name: str) -> str:
    return f"__{kind}_{name}"


def _plain_columns(raw: pl.DataFrame, columns: tuple[Column, ...]) -> set[str]:
    """The columns whose every cell is digits and points (or blank), as nearly every number column
    of an export is: they hold no invisible or full-width character, no placeholder and no formula
    error, so one scan clears them of every check ``_clean`` makes."""
    if not raw.height:
        return set()
    found = raw.select(*[(~pl.col(c.name).str.contains(r"[^0-9.]")).all().alias(c.name) for c in columns])
    return {name for name, plain in found.row(0, named=True).items() if plain}


def _folding_changes(u: pl.Expr) -> dict[str, pl.Expr]:
    """For ``_clean``: whether NFKC changes any of the values ``u``: ``x``, against the values as
    they are (NFKC then stripping, as a column without invisible characters is folded); ``y``,
    against the values stripped of invisible characters and spaces (as a column with them is)."""
    bare = u.str.replace_all(INVISIBLE, "")
    folded = bare.str.normalize("NFKC").str.strip_chars()
    return {"x": (folded != u).any(), "y": (folded != bare.str.strip_chars()).any()}


def _clean(raw: pl.DataFrame, columns: tuple[Column, ...], plain: set[str] = frozenset()) -> pl.DataFrame:
    """Fold what a cell shows from how it was typed, before any rule looks at it:
    invisible characters removed everywhere; full-width forms folded (NFKC) in codes,
    enumerations and numbers; placeholders such as “—” read as blank; formula errors
    (#REF! …) read as blank and flagged. Flag and original columns are added only for the
    columns where something changed, so the rules can say exactly what was found."""
    # Most cells are plain digits or plain words: find the columns that need any folding first,
    # with cheap scans, and fold only those (the ``plain`` columns need none).
    columns = tuple(c for c in columns if c.name not in plain)
    probe = raw.select(
        *[pl.col(c.name).str.contains(INVISIBLE).any().alias(f"i{c.name}") for c in columns],
        *[pl.col(c.name).str.contains(r"[^\x00-\x7f]").any().alias(f"w{c.name}") for c in columns
          if c.kind in FOLDED_KINDS],
        # whether folding would change any value at all, with and without the invisible characters
        # removed first: seen on the column's distinct values (a handful in a column of Chinese
        # words, which NFKC leaves as they are), not on every cell
        *[e.alias(f"{k}{c.name}") for c in columns if c.kind in FOLDED_KINDS
          for k, e in _folding_changes(pl.col(c.name).unique(maintain_order=True)).items()],
        *[pl.col(c.name).str.starts_with("#").any().alias(f"f{c.name}") for c in columns],
        *[pl.col(c.name).str.to_lowercase().is_in(EMPTY_MARKERS).any().alias(f"d{c.name}") for c in columns],
    ).row(0, named=True) if raw.height and columns else {}
    for c in columns:  # a column folding leaves as it is needs no folding (the same values, flags)
        if probe.get(f"w{c.name}") and not probe[f"{'y' if probe.get(f'i{c.name}') else 'x'}{c.name}"]:
            probe[f"w{c.name}"] = False
    cleaned = {}
    for c in columns:
        v = pl.col(c.name)
        if probe.get(f"i{c.name}"):
            v = v.str.replace_all(INVISIBLE, "")
        if probe.get(f"w{c.name}"):
            v = v.str.normalize("NFKC")
        cleaned[c.name] = v.str.strip_chars() if probe.get(f"i{c.name}") or probe.get(f"w{c.name}") else v
    folded = [n for n in cleaned if probe.get(f"i{n}") or probe.get(f"w{n}")]
    scans = [
        *[(e.ne_missing(pl.col(n)) & ~e.str.to_lowercase().is_in(EMPTY_MARKERS)
           & ~e.str.contains(FORMULA_ERROR)).any().alias(f"n{n}") for n, e in cleaned.items() if n in folded],
        *[e.str.to_lowercase().is_in(EMPTY_MARKERS).any().alias(f"d{n}") for n, e in cleaned.items()
          if n in folded or probe.get(f"d{n}")],
        *[e.str.contains(FORMULA_ERROR).any().alias(f"f{n}") for n, e in cleaned.items()
          if n in folded or probe.get(f"f{n}")],
    ]
    stats = raw.select(scans).row(0, named=True) if raw.height and scans else {}
    extra = []
    for n, e in cleaned.items():
        dash = e.str.to_lowercase().is_in(EMPTY_MARKERS)
        error = e.str.contains(FORMULA_ERROR)
        if stats.get(f"n{n}") or stats.get(f"f{n}"):  # the messages quote the cell as typed
            extra.append(pl.col(n).alias(_orig(n)))
        if stats.get(f"n{n}"):
            extra.append((e.ne_missing(pl.col(n)) & ~dash & ~error).fill_null(False).alias(_flag("norm", n)))
        if stats.get(f"d{n}"):
            extra.append(dash.fill_null(False).alias(_flag("dash", n)))
        if stats.get(f"f{n}"):
            extra.append(error.fill_null(False).alias(_flag("fe", n)))
    frame = raw.with_columns(extra)
    touched = {n for n in cleaned if stats.get(f"n{n}") or stats.get(f"d{n}") or stats.get(f"f{n}")}
    return frame.with_columns([
        pl.when(e.str.to_lowercase().is_in(EMPTY_MARKERS) | e.str.contains(FORMULA_ERROR) | (e == ""))
        .then(None).otherwise(e).alias(n) for n, e in cleaned.items() if n in touched])


def _parse(raw: pl.DataFrame, columns: tuple[Column, ...]) -> pl.DataFrame:
    """Add a parsed twin ``__v_<name>`` of every number, code and yes/no column."""
    plain = _plain_columns(raw, columns)
    exprs = []
    for c in columns:
        if c.kind in ("int", "float"):
            exprs.append(_numeric(c.name, c.max_value == 100.0, c.name in plain).alias(_p(c.name)))
        elif c.kind == "code":
            exprs.append(_code(c.name).alias(_p(c.name)))
        elif c.kind == "bool":
            low = pl.col(c.name).str.to_lowercase()
            exprs.append(pl.when(low.is_in(BOOL_TRUE)).then(True).when(low.is_in(BOOL_FALSE)).then(False)
                         .otherwise(None).alias(_p(c.name)))
    return _clean(raw, columns, plain).with_row_index("__rid").with_columns(exprs)


def _cleaning_problems(probs: _Problems, columns: tuple[Column, ...]) -> None:
    """Warnings for folded cells; errors for formula errors."""
    cols = probs.frame.columns
    for col in columns:
        name = col.name
        if _flag("norm", name) in cols:
            probs.add(
                pl.col(_flag("norm", name)), name, "normalised",
                text_with(f"“{col.zh}”含全角字符或不可见字符（如零宽空格），已按“{{}}”读取。请在原表中改正。",
                          pl.col(name)),
                text_with(f"'{name}' ({col.zh}) held full-width or invisible characters (e.g. a zero-width space); "
                          "read as '{}'. Correct the file.", pl.col(name)),
                severity="warning",
            )
        if _flag("fe", name) in cols:
            probs.add(
                pl.col(_flag("fe", name)), name, "formula_error",
                text_with(f"“{col.zh}”是 Excel 公式错误 {{}}（#REF! 表示公式引用的单元格已被删除，#DIV/0! 表示除以 0）。"
                          "请在原表中修正公式，或直接填写数值。", pl.col(_orig(name))),
                text_with(f"'{name}' ({col.zh}) holds the Excel formula error {{}} (#REF!: the formula refers to "
                          "deleted cells; #DIV/0!: division by zero). Fix the formula or type the value.",
                          pl.col(_orig(name))),
            )


def _has(probs: _Problems, kind: str, name: str) -> pl.Expr:
    flag = _flag(kind, name)
    return pl.col(flag) if flag in probs.frame.columns else pl.lit(False)


# A blank in these columns has a usual cause worth naming.
BLANK_HINTS = {
    "county_code": ("县区代码为空。若导出时县区是合并单元格，只有第一行带有代码：请取消合并，在每一行填写县区代码。",
                    "county_code is blank. If the county was a merged cell in the export, only its first row has "
                    "the code: unmerge the cells and fill the code in on every row."),
    "year": ("学年为空。请在每一行填写学年（如 2024）。", "year is blank. Fill in the school year on every row (e.g. 2024)."),
}


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
            hint_zh, hint_en = BLANK_HINTS.get(name, (
                f"“{col.zh}”为空，但必须填写。" + ("请填写（没有时填 0）。" if col.kind in ("int", "float") else "请填写。"),
                f"'{name}' ({col.zh}) is blank but required here. "
                + ("Fill it in (0 if none)." if col.kind in ("int", "float") else "Fill it in.")))
            dash = _has(probs, "dash", name)
            probs.add(
                required & blank & ~absent & ~_has(probs, "fe", name), name, "required_blank",
                pl.when(dash).then(pl.lit(f"“{col.zh}”填的是“—”“/”等占位符，但此行必须填写"
                                          + ("数值（没有时填 0）。" if col.kind in ("int", "float") else "。")))
                .otherwise(pl.lit(hint_zh)),
                pl.when(dash).then(pl.lit(f"'{name}' ({col.zh}) holds a placeholder such as '—' or '/', but this "
                                          "row needs a value" + (" (0 if none)." if col.kind in ("int", "float")
                                                                 else ".")))
                .otherwise(pl.lit(hint_en)),
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


def _year_and_county_checks(probs: _Problems, checks: InputChecks) -> None:
    year = pl.col(_p("year"))
    probs.add(
        year.is_not_null() & ((year != year.round(0)) | (year < FIRST_YEAR) | (year > LAST_YEAR)),
        "year", "bad_year",
        f"学年应为 {FIRST_YEAR}–{LAST_YEAR} 之间的四位年份（如 2024）。",
        f"year must be a 4-digit year between {FIRST_YEAR} and {LAST_YEAR} (e.g. 2024).",
    )
    cc = pl.col(_p("county_code"))
    sci = pl.col("county_code").str.contains(r"(?i)e[+-]?[0-9]+$")
    probs.add(
        cc.is_not_null() & ~sci & cc.str.contains(r"^[0-9]{1,5}$"), "county_code", "county_code_short",
        f"县区代码应为 {COUNTY_CODE_DIGITS} 位数字，这里位数不足：可能是 Excel 把代码当成数字，去掉了开头的 0。"
        "请把该列设为“文本”格式并填写完整代码。",
        f"county_code must have {COUNTY_CODE_DIGITS} digits; this one is shorter, perhaps Excel treated it as a "
        "number and dropped leading zeros. Format the column as text and enter the full code.",
    )
    probs.add(
        cc.is_not_null() & ~sci & ~cc.str.contains(r"^[0-9]{1,6}$"), "county_code", "county_code_invalid",
        f"县区代码应为 {COUNTY_CODE_DIGITS} 位数字（行政区划代码）。",
        f"county_code must be the {COUNTY_CODE_DIGITS}-digit administrative code.",
    )
    probs.add(
        cc.str.contains(r"^[0-9]{6}$") & ~cc.str.slice(0, 2).is_in(list(checks.provinces)), "county_code",
        "county_code_unknown_province",
        "县区代码的前两位不是任何省级行政区的代码，请核对。",
        "the first two digits of county_code are no province's code. Check the code.",
    )


def _valid_code(checks: InputChecks) -> pl.Expr:
    cc = pl.col(_p("county_code"))
    return cc.str.contains(r"^[0-9]{6}$") & cc.str.slice(0, 2).is_in(list(checks.provinces))


def _province_checks(probs: _Problems, checks: InputChecks) -> None:
    """The province written on a row must be the one its county code belongs to."""
    cc = pl.col(_p("county_code"))
    short = cc.str.slice(0, 2).replace_strict({c: s for c, (_, s) in checks.provinces.items()}, default=None)
    full = cc.str.slice(0, 2).replace_strict({c: n for c, (n, _) in checks.provinces.items()}, default=None)
    text = pl.col("province")
    probs.add(
        _valid_code(checks) & text.is_not_null() & ~text.str.contains(short, literal=True), "province",
        "province_mismatch",
        text_with("县区代码 {} 属于{}，但省份写的是“{}”。代码或省份有一处写错了，请核对。", cc, full, text),
        text_with("county code {} belongs to {}, but the province reads '{}'. One of them is wrong: check both.",
                  cc, full, text),
    )


def _county_name_checks(probs: _Problems, checks: InputChecks) -> None:
    """One county code, one county name (per year): a row that names its county otherwise
    than the other rows do is quarantined, since the code or the name is mistyped."""
    key = [_p("year"), _p("county_code")]
    df = probs.frame.filter(_valid_code(checks) & pl.col(_p("year")).is_not_null() & pl.col("county_name").is_not_null())
    if not df.height:
        return
    names = df.group_by(*key, "county_name").len()
    top = names.group_by(key).agg(
        pl.col("len").max().alias("__top"),
        pl.col("county_name").filter(pl.col("len") == pl.col("len").max()).sort().first().alias("__usual"),
        (pl.col("len") == pl.col("len").max()).sum().alias("__ties"),
        pl.col("county_name").sort().str.join("、").alias("__all_names"),
    )
    wrong = (names.join(top, on=key).filter((pl.col("len") < pl.col("__top")) | (pl.col("__ties") > 1))
             .select(*key, "county_name", "__usual", "__ties", "__all_names"))
    if not wrong.height:
        return
    probs.frame = probs.frame.join(wrong, on=[*key, "county_name"], how="left")
    cc = pl.col(_p("county_code"))
    tie = pl.col("__ties") > 1
    probs.add(
        pl.col("__usual").is_not_null(), "county_name", "county_name_mismatch",
        pl.when(tie).then(text_with("县区代码 {} 在本表中对应了不同的县名（{}），各占相同行数，无法判断哪个正确。请统一。",
                                    cc, pl.col("__all_names")))
        .otherwise(text_with("县区代码 {} 在本表其他行中是“{}”，这一行写的是“{}”。代码或县名有一处写错了，请核对。",
                             cc, pl.col("__usual"), pl.col("county_name"))),
        pl.when(tie).then(text_with("county code {} has different names in this table ({}), equally often; which "
                                    "is right cannot be told. Make them agree.", cc, pl.col("__all_names")))
        .otherwise(text_with("county code {} is '{}' on the other rows but '{}' here. The code or the name is "
                             "mistyped: check both.", cc, pl.col("__usual"), pl.col("county_name"))),
    )
    probs.frame = probs.frame.drop("__usual", "__ties", "__all_names")


def _stray_year_checks(probs: _Problems, checks: InputChecks) -> None:
    """A handful of rows with another year than the rest of their sheet (last year's 学年 typed
    on one row) are flagged row by row rather than assessed as a year of their own."""
    sheet = ["source_file", "source_sheet"]
    year = pl.col(_p("year"))

    def stray(rows: pl.Expr) -> pl.Expr:  # this year's rows are few beside the sheet's main year
        return rows < checks.stray_year_share * pl.col("__main_n")

    # a join, not nested windows: polars 1.x panics on those over a decade of national rows
    counts = probs.frame.filter(year.is_not_null()).group_by(*sheet, _p("year")).len()
    main = counts.group_by(*sheet).agg(
        pl.col("len").max().alias("__main_n"),
        pl.col(_p("year")).filter(pl.col("len") == pl.col("len").max()).max().alias("__main_year"))
    if not counts.join(main, on=sheet, nulls_equal=True).filter(stray(pl.col("len"))).height:
        return  # the usual case: no sheet has a stray year, and the wide frame is left alone
    probs.frame = probs.frame.join(main, on=sheet, how="left", nulls_equal=True)
    probs.add(
        year.is_not_null() & stray(pl.len().over(*sheet, _p("year"))), "year", "stray_year",
        text_with("本表其他 {} 行都是 {} 学年，只有少数几行是 {} 学年：多半是误填了学年。请核对；如确实是另一学年的数据，请放在单独的文件中。",
                  pl.col("__main_n"), pl.col("__main_year").cast(pl.Int64), year.cast(pl.Int64)),
        text_with("the other {} rows of this sheet are year {}; only a few rows are year {}: most likely a typing "
                  "slip. Check it; data of another year belong in a file of their own.",
                  pl.col("__main_n"), pl.col("__main_year").cast(pl.Int64), year.cast(pl.Int64)),
    )
    probs.frame = probs.frame.drop("__main_n", "__main_year")


def _plausibility_checks(probs: _Problems, checks: InputChecks) -> None:
    """Values per student beyond a physical limit are errors; beyond a plausible band, warnings
    (limits in policy/plausibility.toml)."""
    students = {level: pl.col(_p(f"{level}_students")).fill_null(0) for level in ("primary", "junior", "senior")}
    students["all"] = students["primary"] + students["junior"] + students["senior"]
    for name, spec in checks.per_student.items():
        col = probs.columns[name]
        per = students[spec["per"]]
        scale = float(spec.get("scale", 1))
        ratio = pl.col(_p(name)) * scale / per
        shown = ratio.round(2).cast(pl.String)
        where = per > 0
        probs.add(
            where & (ratio > spec["error_above"]), name, "implausible_value",
            text_with(f"“{col.zh}”折合{spec['zh']}为 {{}}，超过 {spec['error_above']:g}，不可能：多半是多打了几位、"
                      "单位填错（如元与万元）或小数点位置有误。请核对。", shown),
            text_with(f"'{name}' ({col.zh}) comes to {{}} per student ({spec['zh']}), above {spec['error_above']:g}, "
                      "which no school has: most likely extra digits, the wrong unit (元 for 万元) or a misplaced "
                      "decimal point. Check it.", shown),
        )
        probs.add(
            where & (ratio > spec["warn_above"]) & (ratio <= spec["error_above"]), name, "unusual_value",
            text_with(f"“{col.zh}”折合{spec['zh']}为 {{}}，高于通常范围（{spec['warn_above']:g}）。数据已使用，请核对。",
                      shown),
            text_with(f"'{name}' ({col.zh}) comes to {{}} per student ({spec['zh']}), above the usual range "
                      f"({spec['warn_above']:g}). The value is used; check it.", shown),
            severity="warning",
        )


def _parent_checks(probs: _Problems) -> None:
    """A teaching point's parent school must exist in the same year and lie in the same county."""
    df = probs.frame
    parents = df.filter(pl.col(_p("school_id")).is_not_null()).select(
        pl.col(_p("year")), pl.col(_p("school_id")).alias(_p("parent_school_id")),
        pl.col(_p("county_code")).alias("__parent_county")).unique([_p("year"), _p("parent_school_id")])
    # the parent's county as one more column (a join of the whole wide frame would copy every column)
    keys = [_p("year"), _p("parent_school_id")]
    probs.frame = df.with_columns(
        df.select(keys).join(parents, on=keys, how="left", maintain_order="left").get_column("__parent_county"))
    has_parent = pl.col(_p("parent_school_id")).is_not_null() & (pl.col("__type") == TEACHING_POINT)
    probs.add(
        has_parent & pl.col("__parent_county").is_not_null() & (pl.col("__parent_county") != pl.col(_p("county_code"))),
        "parent_school_id", "parent_other_county",
        text_with("所属学校 {} 在另一个县（{}），教学点不能跨县归属。请核对所属学校标识码或县区代码。",
                  pl.col(_p("parent_school_id")), pl.col("__parent_county")),
        text_with("the parent school {} lies in another county ({}); a teaching point cannot belong across a county "
                  "line. Check the parent id or the county code.", pl.col(_p("parent_school_id")),
                  pl.col("__parent_county")),
    )
    probs.add(
        has_parent & pl.col("__parent_county").is_null(), "parent_school_id", "parent_not_found",
        "所属学校标识码在本学年的学校表中找不到。教学点按独立单元处理；请核对所属学校标识码。",
        "the parent school id is not in this year's school table; the teaching point is treated as a unit of "
        "its own. Check the parent id.",
        severity="warning",
    )
    # a statistics export marks teaching points with 是否计校数 = 0: one whose parent the export
    # does not give cannot be placed in a school's unit or judged on its own with certainty
    from_export = pl.col("extra_columns").fill_null("").str.contains('"是否计校数": "0"', literal=True)
    probs.add(
        from_export & (pl.col("__type") == TEACHING_POINT) & pl.col(_p("parent_school_id")).is_null(),
        "parent_school_id", "teaching_point_without_parent",
        "统计报表中“是否计校数”为 0（教学点或分校区），但没有填写所属学校标识码，无法确定它属于哪所学校。"
        "请在导出表中补上“所属学校标识码”。",
        "the export marks this row as a teaching point or branch site (是否计校数 = 0) but gives no parent school "
        "id, so it cannot be placed with its school. Add 所属学校标识码 to the export.",
    )
    probs.frame = probs.frame.drop("__parent_county")


def _duplicate_check(probs: _Problems, key_column: str, zh: str) -> None:
    """Every row sharing (year, key) is quarantined: which one is right cannot be known. When
    the same keys come from two different files, the run stops instead, naming both."""
    df = probs.frame
    key = [_p("year"), _p(key_column)]
    where = text_with("{}:{}", pl.col("source_file").str.split("/").list.last(), pl.col("source_row"))
    dup = (
        df.filter(pl.col(_p(key_column)).is_not_null() & pl.col(_p("year")).is_not_null())
        .with_columns(where.alias("__where"))
        .with_columns(pl.len().over(key).alias("__n"), pl.col("__where").implode().over(key).alias("__all"))
        .filter(pl.col("__n") > 1)
    )
    if not dup.height:
        return
    files = dup.group_by(key).agg(pl.col("source_file").unique().sort().alias("__files"))
    across = files.filter(pl.col("__files").list.len() > 1)
    if across.height:
        pairs = (across.with_columns(pl.col("__files").list.get(0).alias("a"), pl.col("__files").list.get(1).alias("b"))
                 .group_by("a", "b").agg(pl.len().alias("n"), pl.col(_p(key_column)).sort().head(3).alias("ids"))
                 .sort("a", "b"))
        raise DuplicateFilesError([(r["a"], r["b"], r["n"], r["ids"]) for r in pairs.iter_rows(named=True)])
    probs.frame = df.join(dup.select("__rid", pl.col("__all").list.join("、").alias("__others")), on="__rid",
                          how="left")
    probs.add(
        pl.col("__others").is_not_null(), key_column, f"duplicate_{key_column}",
        text_with(f"同一学年中{zh}重复，出现在：{{}}。请只保留一行。", pl.col("__others")),
        text_with(f"the same {key_column} appears more than once in this year, at: {{}}. Keep one row.",
                  pl.col("__others")),
    )


def _percent_fractions(probs: _Problems, columns: tuple[Column, ...]) -> None:
    """Percent cells typed as Excel percentages ("90%" is stored as 0.9): when every percent value
    of a sheet lies in 0-1 and one lies strictly between, the sheet's percent columns are read
    ×100, with a warning on every cell that changes. (A real form has values such as 95 and
    100; a sheet of nothing but 0-1 was typed with the % format.)"""
    pct = [c for c in columns if c.max_value == 100.0]
    if not pct:
        return
    sheet = ["source_file", "source_sheet"]
    values = [pl.col(_p(c.name)) for c in pct]
    fraction = ((pl.max_horizontal(values).max().over(sheet) <= 1)
                & pl.any_horizontal([(v > 0) & (v < 1) for v in values]).any().over(sheet))
    probs.frame = probs.frame.with_columns(
        [(fraction & v.is_not_null()).fill_null(False).alias(_flag("pct", c.name)) for c, v in zip(pct, values)])
    for col, v in zip(pct, values):
        shown = (v * 100).round(6).cast(pl.String)
        probs.add(
            pl.col(_flag("pct", col.name)), col.name, "percent_as_fraction",
            text_with(f"“{col.zh}”整列都在 0–1 之间，应是 Excel 百分比格式（90% 存为 0.9）：已按 {{}}% 读取。请核对。",
                      shown),
            text_with(f"every '{col.name}' ({col.zh}) value of this sheet lies in 0-1, so the column was typed as "
                      "an Excel percentage (90% is stored as 0.9): read as {}%. Check it.", shown),
            severity="warning",
        )
    # the warnings above are judged on the values as typed, before this replaces them
    probs.frame = probs.frame.with_columns(
        [pl.when(pl.col(_flag("pct", c.name))).then(v * 100).otherwise(v).alias(_p(c.name))
         for c, v in zip(pct, values)])


def _finish(raw: pl.DataFrame, probs: _Problems, typed, quarantined=None) -> Staged:
    problems = probs.collect()
    bad = problems.filter(pl.col("severity") == "error").select("__rid").unique()
    good = probs.frame.join(bad, on="__rid", how="anti")
    rows = typed(good)
    rules = problems.filter(pl.col("severity") == "error").group_by("__rid").agg(pl.col("rule").unique().alias("__rules"))
    held = quarantined(probs.frame.join(rules, on="__rid", how="inner")) if quarantined else None
    return Staged(rows, problems.drop("__rid"), raw.height, rows.height, bad.height, held)


QUARANTINED_SCHEMA = {"year": pl.Int32, "province_code": pl.String, "county_code": pl.String,
                      "county_name": pl.String, "school_id": pl.String, "school_name": pl.String,
                      "school_type": pl.String, "source_file": pl.String, "source_sheet": pl.String,
                      "source_row": pl.Int64, "rules": pl.String}


def _quarantined_schools(checks: InputChecks):
    """One row per quarantined school row, with what could still be read of it: its year and
    county (null where they could not be read), so its county is known to be incomplete."""
    year = pl.col(_p("year"))

    def select(bad: pl.DataFrame) -> pl.DataFrame:
        code = pl.when(_valid_code(checks)).then(pl.col(_p("county_code")))
        return bad.select(
            # a stray year is a typing slip: the row's real year is not known
            pl.when((year >= FIRST_YEAR) & (year <= LAST_YEAR) & (year == year.round(0))
                    & ~pl.col("__rules").list.contains("stray_year")).then(year)
            .cast(pl.Int32, strict=False).alias("year"),
            code.str.slice(0, 2).alias("province_code"),
            code.alias("county_code"),
            pl.col("county_name"),
            pl.col(_p("school_id")).alias("school_id"),
            pl.col("school_name"),
            pl.col("__type").alias("school_type"),
            "source_file", "source_sheet", "source_row",
            pl.col("__rules").list.sort().list.join(",").alias("rules"),
        ).cast(QUARANTINED_SCHEMA).sort(*PROBLEM_ORDER[:3], nulls_last=True)

    return select


def stage_schools(raw: pl.DataFrame, checks: InputChecks | None = None) -> Staged:
    """Validate and type the raw school rows. Pure function: frame in, frames out."""
    checks = checks or InputChecks.load()
    type_text = pl.col("school_type")
    df = _parse(raw, SCHOOL_COLUMNS).with_columns(
        pl.coalesce(type_text.replace_strict(SCHOOL_TYPE_ALIASES, default=None), type_text).alias("__type_raw"),
    ).with_columns(
        pl.when(pl.col("__type_raw").is_in(SCHOOL_TYPES)).then(pl.col("__type_raw")).alias("__type"),
    )
    probs = _Problems(df, "schools", SCHOOL_COLUMNS, "school_id")
    _cleaning_problems(probs, SCHOOL_COLUMNS)
    _column_checks(probs, SCHOOL_COLUMNS, _required_mask)
    _year_and_county_checks(probs, checks)
    _province_checks(probs, checks)
    _county_name_checks(probs, checks)
    _stray_year_checks(probs, checks)
    _plausibility_checks(probs, checks)

    for col in SCHOOL_COLUMNS:
        if col.required in ("primary", "junior", "senior") and col.kind in ("int", "float"):
            v = pl.col(_p(col.name))
            level_zh = LEVEL_NAMES_ZH[col.required]
            probs.add(
                pl.col("__type").is_not_null() & ~_required_mask(col) & v.is_not_null() & (v != 0), col.name,
                "level_not_taught",
                text_with("办学类型为“{}”，没有{}学段，但“{}”不为 0。请核对办学类型或该数值。",
                          pl.col("__type"), pl.lit(level_zh), pl.lit(col.zh)),
                text_with("school type {} has no {} level, yet '{}' is not 0. Check the type or the value.",
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
        zh_level = LEVEL_NAMES_ZH[level]
        probs.add(
            pl.col("__type").is_in(_types_with(level)) & (students > 0) & (teachers == 0),
            f"{level}_teachers", "students_without_teachers",
            f"有{zh_level}在校生，但{zh_level}专任教师数为 0。请核对。",
            f"the school has {level} students but 0 {level} teachers. Check both.",
        )
    _parent_checks(probs)
    _duplicate_check(probs, "school_id", "学校标识码")
    return _finish(raw, probs, _typed_schools, _quarantined_schools(checks))


def stage_counties(raw: pl.DataFrame, checks: InputChecks | None = None) -> Staged:
    """Validate and type the raw county rows (the supplementary county table)."""
    checks = checks or InputChecks.load()
    probs = _Problems(_parse(raw, COUNTY_COLUMNS), "counties", COUNTY_COLUMNS, None)
    _cleaning_problems(probs, COUNTY_COLUMNS)
    for col in COUNTY_COLUMNS:
        if col.max_value == 100.0:
            probs.add(
                pl.col(col.name).str.ends_with("%"), col.name, "percent_cell",
                text_with(f"“{col.zh}”是百分比格式的单元格（{{}}），已按 {{}} 读取（本表百分比填 0-100）。请核对。",
                          pl.col(col.name), pl.col(_p(col.name)).cast(pl.String)),
                text_with(f"'{col.name}' ({col.zh}) is a percent-formatted cell ({{}}), read as {{}} (this form takes "
                          "percentages as 0-100). Check it.", pl.col(col.name), pl.col(_p(col.name)).cast(pl.String)),
                severity="warning",
            )
    if checks.detect_percent_fractions:
        _percent_fractions(probs, COUNTY_COLUMNS)
    _column_checks(probs, COUNTY_COLUMNS, lambda col: pl.lit(col.required == "always"))
    _year_and_county_checks(probs, checks)
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
