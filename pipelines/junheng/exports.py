"""Reading the statistics system's own exports (教育事业统计 基层报表): one workbook per booklet,
a title, 3 to 6 merged header rows naming each column by its header *path*, sometimes a row of
column numbers (栏次), then schools, a 合计 row and signature lines.

How a column is found is data, not code: ``policy/exports/<booklet>.toml`` maps header paths
(with alternatives, and sums of several headers) to the school table's columns, so a
statistician extends it when a header changes. Each file becomes raw rows of the school table
with its file, sheet and row number, and goes through the same staging as a flat file.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import polars as pl

from junheng.contract import SCHOOL_COLUMNS, TEACHING_POINT, Column
from junheng.paths import POLICY_DIR

COUNTED = "counted_as_school"          # 是否计校数: 0 marks a teaching point or a branch site
HEADER_SEARCH_ROWS = 15
MAX_HEADER_ROWS = 6
TOTAL_WORDS = ("合计", "总计", "小计")
SIGNATURE_WORDS = ("填表人", "单位负责人", "统计负责人", "审核人", "制表人", "报出日期", "联系电话")
NOTE_PREFIXES = ("说明", "注：", "注:", "备注")
COLUMN_NUMBER_WORDS = set("甲乙丙丁戊")


def norm(text: object) -> str:
    """A header cell or path as compared: NFKC (full-width → ASCII), no whitespace or breaks."""
    if text is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).split())


@dataclass(frozen=True)
class Term:
    alternatives: tuple[str, ...]   # normalised paths, the first found is used
    optional: bool


@dataclass(frozen=True)
class Booklet:
    name: str
    file_words: tuple[str, ...]
    columns: dict[str, tuple[Term, ...]]   # one term: the cell; several: their sum
    sums: frozenset[str]
    required: tuple[str, ...]
    source: str                              # the mapping file, for messages

    def line_for(self, column: str, found: str) -> str:
        """The line a statistician adds to the mapping file for a header found under another name."""
        terms = self.columns[column]
        if column in self.sums:
            return f'{column} = {{ sum = [...] }}  # add "{found}" to the term it replaces'
        alts = [a for a in terms[0].alternatives] + [found]
        return f"{column} = [{', '.join(json.dumps(a, ensure_ascii=False) for a in alts)}]"


def _terms(spec) -> tuple[tuple[Term, ...], bool]:
    def term(alternatives: list[str]) -> Term:
        optional = all(a.startswith("?") for a in alternatives)
        return Term(tuple(norm(a.lstrip("?")) for a in alternatives), optional)

    if isinstance(spec, dict):
        return tuple(term(t) for t in spec["sum"]), True
    return (term(spec),), False


def load_booklets(policy_dir: Path | str | None = None) -> list[Booklet]:
    root = Path(policy_dir or POLICY_DIR) / "exports"
    if not root.exists():
        return []
    common = tomllib.loads((root / "common.toml").read_text(encoding="utf-8"))["columns"]
    out = []
    for path in sorted(root.glob("*.toml")):
        if path.name == "common.toml":
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        columns, sums = {}, set()
        for name, spec in {**common, **data["columns"]}.items():
            columns[name], is_sum = _terms(spec)
            if is_sum:
                sums.add(name)
        b = data["booklet"]
        out.append(Booklet(b["name"], tuple(b["file_words"]), columns, frozenset(sums), tuple(b["required"]),
                           str(path)))
    return out


def booklet_for(path: Path, booklets: Sequence[Booklet]) -> Booklet | None:
    """The booklet a file is an export of, by the words in its name (the longest match wins:
    九年一贯制学校与十二年一贯制学校 before 小学)."""
    name = norm(Path(path).stem)
    hits = [(len(w), b) for b in booklets for w in b.file_words if norm(w) in name]
    return max(hits, key=lambda h: h[0])[1] if hits else None


# ---- cells and merged ranges ---------------------------------------------------------------------


def _sheets(path: Path, include_hidden: bool) -> tuple[dict[str, tuple[list[list[str | None]], list, int]], list]:
    """Every visible sheet as rows of text cells, its merged ranges in those rows' terms, and the
    sheet row number of the first row less one (.xlsx and .xls)."""
    from junheng.ingest import _excel_open_error, _is_backup, _read_excel_sheets, skipped

    if path.suffix.lower() == ".xls":
        import xlrd

        try:
            book = xlrd.open_workbook(str(path), formatting_info=True)
        except Exception as exc:
            raise _excel_open_error(path, exc) from exc
        out, skips = {}, []
        for sheet in book.sheets():
            if sheet.visibility != 0 and not include_hidden:
                skips.append(skipped(path, "hidden_sheet", sheet.name))
                continue
            if _is_backup(sheet.name):
                skips.append(skipped(path, "backup_sheet", sheet.name))
                continue
            if sheet.nrows == 0:
                skips.append(skipped(path, "empty_sheet", sheet.name))
                continue
            rows = [[_xls_text(sheet.cell(r, c)) for c in range(sheet.ncols)] for r in range(sheet.nrows)]
            out[sheet.name] = (rows, [(r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in sheet.merged_cells], 0)
        return out, skips
    frames, skips = _read_excel_sheets(path, include_hidden)
    from junheng.ingest import SheetLayout, xlsx_layouts

    layouts = xlsx_layouts(path)
    out = {}
    for name, f in frames.items():
        layout = layouts.get(name, SheetLayout((0, 0), ()))
        out[name] = ([list(r) for r in f.iter_rows()], list(layout.merges), layout.origin[0])
    return out, skips


def _xls_text(cell) -> str | None:
    import xlrd

    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if cell.ctype == xlrd.XL_CELL_NUMBER:
        return str(int(cell.value)) if float(cell.value).is_integer() else repr(cell.value)
    return str(cell.value)


# ---- the header block ----------------------------------------------------------------------------


def header_paths(rows: list[list[str | None]], merges: list, start: int, end: int) -> list[str]:
    """The path of every column: the header rows start..end (inclusive), merged cells expanded,
    joined top to bottom with '/', a text repeated down a vertical merge written once."""
    width = max(len(r) for r in rows[start:end + 1])
    grid = [[norm(rows[r][c]) if c < len(rows[r]) else "" for c in range(width)] for r in range(start, end + 1)]
    for r0, c0, r1, c1 in merges:
        if r1 < start or r0 > end or r0 < start:
            continue
        value = grid[r0 - start][c0] if c0 < width else ""
        for r in range(r0, min(r1, end) + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                grid[r - start][c] = value
    paths = []
    for c in range(width):
        parts: list[str] = []
        for r in range(len(grid)):
            text = grid[r][c]
            if text and (not parts or parts[-1] != text):
                parts.append(text)
        paths.append("/".join(parts))
    return paths


def _match(term: Term, paths: list[str]) -> int | None:
    """The column a term reads: an exact path first, else the one header ending with it."""
    for alt in term.alternatives:
        if alt in paths:
            return paths.index(alt)
    for alt in term.alternatives:
        ends = [i for i, p in enumerate(paths) if p.endswith("/" + alt)]
        if len(ends) == 1:
            return ends[0]
    return None


def nearest(looked: Sequence[str], found: Sequence[str], n: int = 3) -> list[str]:
    """The headers of a file most like the paths looked for: by sequence and by shared characters
    (Chinese headers renamed keep most of their characters, not their order)."""
    def likeness(a: str, b: str) -> float:
        chars = len(set(a) & set(b)) / max(1, len(set(a) | set(b)))
        return max(difflib.SequenceMatcher(None, a, b).ratio(), chars)

    scored = sorted(((max(likeness(a, f) for a in looked), f) for f in found), key=lambda s: -s[0])
    return [f for score, f in scored[:n] if score >= 0.3]


def _score(booklet: Booklet, paths: list[str]) -> int:
    """How well a candidate header block fits: an exact path counts twice a suffix match, so a
    title row above the header (which every path would then start with) is not taken in."""
    exact = set(paths)
    score = 0
    for terms in booklet.columns.values():
        for t in terms:
            if any(a in exact for a in t.alternatives):
                score += 2
            elif _match(t, paths) is not None:
                score += 1
    return score


def _is_column_numbers(row: list[str | None]) -> bool:
    """The 栏次 row under a header: 甲 乙 丙 … and 1 2 3 …"""
    cells = [norm(c) for c in row if norm(c)]
    if len(cells) < 3:
        return False
    words = [c for c in cells if c in COLUMN_NUMBER_WORDS]
    numbers = [int(c) for c in cells if c.isdigit()]
    return len(words) + len(numbers) == len(cells) and numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def find_header(rows: list[list[str | None]], merges: list, booklet: Booklet) -> tuple[int, int, list[str]] | None:
    """The header block (first row, last row, paths) that matches the booklet best."""
    best: tuple[int, int, int, list[str]] | None = None
    for start in range(min(HEADER_SEARCH_ROWS, len(rows))):
        for end in range(start, min(start + MAX_HEADER_ROWS, len(rows))):
            paths = header_paths(rows, merges, start, end)
            score = _score(booklet, paths)
            if best is None or score > best[0]:
                best = (score, start, end, paths)
    if best is None or best[0] < 3:
        return None
    return best[1], best[2], best[3]


# ---- rows ----------------------------------------------------------------------------------------


def _row_kind(row: list[str | None]) -> str:
    """data | blank | total | signature | note"""
    cells = [norm(c) for c in row if norm(c)]
    if not cells:
        return "blank"
    text = "".join(cells)
    if any(w in text for w in SIGNATURE_WORDS):
        return "signature"
    if cells[0].startswith(NOTE_PREFIXES):
        return "note"
    if any(c in TOTAL_WORDS or re.fullmatch(r"(全县|全区|全市|本页|总)?合计", c) for c in cells[:4]):
        return "total"
    return "data"


def _number(text: str | None) -> float | None:
    try:
        return float(text.replace(",", "")) if text is not None and text.strip() != "" else None
    except ValueError:
        return None


def _year_from(texts: Sequence[str]) -> str | None:
    for text in texts:
        m = re.search(r"(20\d\d)", text or "")
        if m:
            return m.group(1)
    return None


def read_export(path: Path, booklet: Booklet, include_hidden_sheets: bool = False,
                columns: Sequence[Column] = SCHOOL_COLUMNS):
    """One booklet's workbook as raw rows of the school table (a :class:`junheng.ingest.RawRead`)."""
    from junheng.ingest import RAW_META_COLUMNS, FileReport, InputFileError, RawRead, Skipped, empty_raw, skipped

    sheets, skips = _sheets(path, include_hidden_sheets)
    frames, reports = [], []
    for sheet, (rows, merges, row0) in sheets.items():
        found = find_header(rows, merges, booklet)
        if found is None:
            skips.append(skipped(path, "no_header", sheet))
            continue
        start, end, paths = found
        where: dict[str, list[int | None]] = {}
        missing_required = []
        for name, terms in booklet.columns.items():
            hits = [_match(t, paths) for t in terms]
            if any(h is None and not t.optional for h, t in zip(hits, terms)):
                if name in booklet.required:
                    missing_required.append((name, terms))
                continue
            where[name] = hits
        if missing_required:
            lines_zh, lines_en = [], []
            shown = [p for p in paths if p]
            for name, terms in missing_required:
                looked = [a for t in terms for a in t.alternatives]
                near = nearest(looked, shown)
                lines_zh.append(f"“{name}”：查找的表头 {' | '.join(looked)}；文件中最接近的表头：{' | '.join(near) or '无'}；"
                                f"如确是同一列，请在 {booklet.source} 中写：{booklet.line_for(name, near[0] if near else '…')}")
                lines_en.append(f"'{name}': looked for {' | '.join(looked)}; nearest headers in the file: "
                                f"{' | '.join(near) or 'none'}; if it is the same column, add to {booklet.source}: "
                                f"{booklet.line_for(name, near[0] if near else '…')}")
            raise InputFileError(
                path, f"“{booklet.name}”基层报表（工作表 {sheet}）缺少必需的列：\n    " + "\n    ".join(lines_zh),
                f"the {booklet.name} export (sheet {sheet}) lacks required columns:\n    " + "\n    ".join(lines_en))
        title_year = _year_from([" ".join(norm(c) for c in r if c) for r in rows[:start]] + [path.stem])
        body_start = end + 1
        if body_start < len(rows) and _is_column_numbers(rows[body_start]):
            body_start += 1
        records, set_aside = [], {"total": [], "signature": [], "note": []}
        blank = 0
        for r in range(body_start, len(rows)):
            row = rows[r]
            kind = _row_kind(row)
            if kind == "blank":
                blank += 1
                continue
            if kind != "data":
                set_aside[kind].append(row0 + r + 1)
                continue
            record = {"source_row": row0 + r + 1}     # as the spreadsheet numbers it
            for name, hits in where.items():
                cells = [row[h] if h is not None and h < len(row) else None for h in hits]
                if name in booklet.sums:
                    numbers = [_number(c) for c in cells]
                    bad = [c for c, n in zip(cells, numbers) if c not in (None, "") and n is None]
                    value = bad[0] if bad else (None if all(n is None for n in numbers)
                                                else _fmt(sum(n or 0 for n in numbers)))
                else:
                    value = cells[0]
                record[name] = None if value is None or str(value).strip() == "" else str(value).strip()
            records.append(record)
        for kind, numbers in set_aside.items():
            if numbers:
                zh, en = ROW_KINDS[kind]
                skips.append(Skipped(str(path), sheet, f"{kind}_rows",
                                     f"{zh}（第 {'、'.join(map(str, numbers))} 行），未作为学校读入",
                                     f"{en} (rows {', '.join(map(str, numbers))}), not read as schools"))
        frame = _records_to_raw(records, path, sheet, booklet, title_year, columns)
        frames.append(frame)
        reports.append(FileReport(str(path), sheet, None, row0 + end + 1, frame.height, blank,
                                  sorted(k for k in where if k != COUNTED),
                                  sorted(c.name for c in columns if c.name not in where), []))
    if not frames:
        return RawRead(empty_raw(columns), [FileReport(str(path), None, None, 0, 0, 0, [], [], [])], skips)
    return RawRead(pl.concat(frames).select(list(RAW_META_COLUMNS) + [c.name for c in columns]), reports, skips)


ROW_KINDS = {"total": ("合计或小计行", "total or subtotal rows"),
             "signature": ("签名行（填表人、单位负责人、报出日期等）", "signature lines (填表人, 单位负责人, 报出日期 …)"),
             "note": ("说明行", "note lines")}


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 10))


def _records_to_raw(records: list[dict], path: Path, sheet: str, booklet: Booklet, title_year: str | None,
                    columns: Sequence[Column]) -> pl.DataFrame:
    """Raw rows with the contract's names: a teaching point (是否计校数 = 0) typed as one, the year
    from the title when the export has no year column, and 是否计校数 kept for staging."""
    names = [c.name for c in columns]
    absent = ",".join(n for n in names if n not in booklet.columns)
    out = []
    for rec in records:
        counted = rec.pop(COUNTED, None)
        row = {n: rec.get(n) for n in names}
        if row["year"] is None:
            row["year"] = title_year
        if counted is not None and norm(counted) in ("0", "否") and row["school_type"] in ("小学", "教学点", None):
            row["school_type"] = TEACHING_POINT
        extra = json.dumps({"是否计校数": norm(counted)}, ensure_ascii=False) if counted is not None else None
        out.append({"source_file": str(path), "source_sheet": sheet, "source_row": rec["source_row"],
                    "source_missing_columns": absent, "extra_columns": extra, **row})
    schema = {"source_file": pl.String, "source_sheet": pl.String, "source_row": pl.Int64,
              "source_missing_columns": pl.String, "extra_columns": pl.String, **{n: pl.String for n in names}}
    return pl.DataFrame(out, schema=schema)
