"""Reading statisticians' files into a raw frame, exactly as they came.

Accepts CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM, GB18030/GBK: detected, never
assumed), XLSX and Parquet. Headers may be the contract's English names or the Chinese
headers (full-width or ASCII brackets, stray spaces and line breaks are tolerated). Title
rows above the header, as provincial exports have, are skipped. Every value is kept as
text; typing and validation happen in :mod:`junheng.staging`.

Each row keeps its file, worksheet and row number as a spreadsheet shows it, so every
problem can be pointed at. Columns the contract does not know are kept as JSON text.
"""

from __future__ import annotations

import io
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import polars as pl

from junheng.contract import Column

HEADER_SEARCH_ROWS = 15  # title rows an export may put above the header
MIN_HEADER_MATCHES = 3
SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls", ".parquet")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
# Words that mark a file or sheet as a backup or a copy not meant for submission
# (Windows adds "副本" / "- Copy"; statisticians write 备份, 勿报, 作废 on old sheets).
BACKUP_WORDS = ("备份", "副本", "勿报", "作废", "旧版", "backup", "copy")
RAW_META_COLUMNS = ("source_file", "source_sheet", "source_row", "source_missing_columns", "extra_columns")


class InputFileError(Exception):
    """A whole file could not be read. The message is for a statistician, in Chinese and English."""

    def __init__(self, path: Path | str, zh: str, en: str):
        self.path = str(path)
        self.zh = zh
        self.en = en
        super().__init__(f"{path}: {zh} / {en}")


@dataclass
class FileReport:
    """What was read from one file (or worksheet)."""

    file: str
    sheet: str | None
    encoding: str | None
    header_row: int
    rows: int
    blank_rows: int
    matched_columns: list[str]
    missing_columns: list[str]
    extra_columns: list[str]


@dataclass
class RawRead:
    frame: pl.DataFrame
    reports: list[FileReport] = field(default_factory=list)
    skipped: list["Skipped"] = field(default_factory=list)


def normalise_header(text: object) -> str:
    """Fold the ways one header is typed: NFKC (full-width → ASCII), no spaces, lower case."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text))
    return "".join(folded.split()).lower()


def header_lookup(columns: Sequence[Column]) -> dict[str, str]:
    """Normalised English and Chinese header → contract column name."""
    lookup: dict[str, str] = {}
    for col in columns:
        lookup[normalise_header(col.name)] = col.name
        lookup[normalise_header(col.zh)] = col.name
    return lookup


def as_utf8(data: bytes) -> tuple[bytes, str]:
    """A CSV export's bytes in UTF-8, and the encoding it came in; raises if none we accept.
    (Decoded once: the check that an encoding fits is the decoding itself.)"""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        # GB18030 is a superset of GBK and GB2312, the encodings of Chinese Windows exports.
        # Chinese text in GB18030 is almost never valid UTF-8, so UTF-8 is tried first.
        candidates = ("utf-8", "gb18030")
    first_error = None
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
            continue
        return (data if encoding == "utf-8" else text.encode("utf-8")), encoding
    raise ValueError(f"byte {first_error.start}")


@dataclass(frozen=True)
class Skipped:
    """A file, folder or worksheet of the input that was not read, and why (for the run summary)."""

    path: str
    sheet: str | None
    reason: str
    reason_zh: str
    reason_en: str


SKIP_REASONS = {
    "subfolder": ("子文件夹中的文件不读取（只读取输入文件夹本身中的文件；需要时用 --include-subfolders）",
                  "files in sub-folders are not read (only the input folder itself; use --include-subfolders)"),
    "office_lock_file": ("Excel 打开文件时生成的临时文件", "a temporary file Excel makes while a workbook is open"),
    "hidden_file": ("隐藏文件", "a hidden file"),
    "unsupported_format": ("不支持的文件格式（可用 xlsx、xls、csv、parquet）",
                           "unsupported format (use xlsx, xls, csv or parquet)"),
    "not_an_input_name": ("文件名不是以 schools 或 counties 开头，也不是统计系统导出的基层报表（文件名含小学、中学、"
                          "一贯制等），不是输入文件",
                          "the name does not start with schools or counties and is not a statistics-system "
                          "export (a name with 小学, 中学, 一贯制 …): not an input file"),
    "backup_copy": ("文件名表明这是备份或副本（含“备份”“副本”“勿报”等），不读取；如需读取请改名",
                    "the name marks a backup or copy (备份, 副本, 勿报 …); rename it to have it read"),
    "hidden_sheet": ("隐藏的工作表不读取（需要时取消隐藏，或用 --include-hidden-sheets）",
                     "hidden worksheets are not read (unhide it, or use --include-hidden-sheets)"),
    "backup_sheet": ("工作表名表明这是备份或旧数据（含“备份”“勿报”等），不读取",
                     "the sheet name marks a backup or old figures (备份, 勿报 …); not read"),
    "empty_sheet": ("空工作表", "an empty worksheet"),
    "no_header": ("工作表中没有找到规定的表头，不是数据表", "no contract header found in this sheet: not a data table"),
}


def skipped(path: Path | str, reason: str, sheet: str | None = None) -> Skipped:
    zh, en = SKIP_REASONS[reason]
    return Skipped(str(path), sheet, reason, zh, en)


def _is_backup(name: str) -> bool:
    low = unicodedata.normalize("NFKC", name).lower()
    return any(w in low for w in BACKUP_WORDS)


def survey_folder(input_dir: Path, stems: Sequence[str], include_subfolders: bool = False,
                  ) -> tuple[dict[str, list[Path]], list[Skipped]]:
    """Sort every entry of the input folder: the files each input table reads (by name stem),
    and everything else with the reason it is not read. Nothing is passed over in silence."""
    root = Path(input_dir)
    files: dict[str, list[Path]] = {s: [] for s in stems}
    skips: list[Skipped] = []
    entries = sorted(root.rglob("*") if include_subfolders else root.iterdir())
    for p in entries:
        if p.is_dir():
            if not include_subfolders:
                skips.append(skipped(p, "subfolder"))
            continue
        name = p.name
        if name.startswith("~$"):
            skips.append(skipped(p, "office_lock_file"))
        elif name.startswith("."):
            skips.append(skipped(p, "hidden_file"))
        elif p.suffix.lower() not in SUPPORTED_SUFFIXES:
            skips.append(skipped(p, "unsupported_format"))
        elif _is_backup(name):
            skips.append(skipped(p, "backup_copy"))
        else:
            stem = next((s for s in stems if name.lower().startswith(s)), None)
            if stem is None and p.suffix.lower() in EXCEL_SUFFIXES and "schools" in files and export_booklet(p):
                stem = "schools"   # a statistics-system export (基层报表) of one booklet
            if stem is None:
                skips.append(skipped(p, "not_an_input_name"))
            else:
                files[stem].append(p)
    return files, skips


def export_booklet(path: Path):
    """The booklet a workbook exports (小学, 中学 …), from its name; None for other files."""
    from junheng.exports import booklet_for, load_booklets

    return booklet_for(path, load_booklets())


def find_input_files(input_dir: Path, stem: str, include_subfolders: bool = False) -> list[Path]:
    """Files named ``<stem>*.csv|xlsx|xls|parquet`` in ``input_dir``, in a stable order."""
    return survey_folder(input_dir, (stem,), include_subfolders)[0][stem]


def _read_csv_cells(path: Path) -> tuple[pl.DataFrame, str]:
    data = path.read_bytes()
    if not data.strip():
        return pl.DataFrame(), "utf-8"
    try:
        data, encoding = as_utf8(data)
    except ValueError as exc:
        raise InputFileError(
            path,
            f"无法识别文件编码（{exc} 处既不是 UTF-8 也不是 GB18030/GBK）。请在 Excel 中另存为“CSV UTF-8”或 XLSX 后重试。",
            f"cannot tell the text encoding (at {exc} it is neither UTF-8 nor GB18030/GBK). "
            "Save the file again as 'CSV UTF-8' or XLSX and retry.",
        ) from exc
    try:
        cells = pl.read_csv(
            io.BytesIO(data), has_header=False, infer_schema=False, truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise InputFileError(
            path,
            f"CSV 文件格式有误，无法逐行读取：{exc}",
            f"the CSV is malformed and cannot be read row by row: {exc}",
        ) from exc
    return cells, encoding


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _excel_open_error(path: Path, exc: Exception) -> InputFileError:
    try:
        with open(path, "rb") as f:
            head = f.read(len(_OLE_MAGIC))
    except OSError:
        head = b""
    said = str(exc).lower()
    if (path.suffix.lower() != ".xls" and head == _OLE_MAGIC) or "password" in said or "encrypt" in said:
        # an .xlsx saved with a password to open is an encrypted OLE container, not a zip
        return InputFileError(
            path, "工作簿设置了打开密码，无法读取。请在 Excel 中取消密码（文件→信息→保护工作簿→用密码进行加密，清空密码）后另存再试。",
            "the workbook is protected by a password to open and cannot be read. Remove the password in Excel "
            "(File → Info → Protect Workbook → Encrypt with Password, clear it), save and retry.")
    return InputFileError(
        path, f"无法打开 Excel 文件（文件可能已损坏，或扩展名与实际格式不符）：{exc}",
        f"cannot open the Excel file (damaged, or its extension does not match its format): {exc}")


_PERCENT_BUILTIN_FORMATS = {"9", "10"}  # 0% and 0.00%
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}


def _cell_index(ref: str) -> tuple[int, int]:
    """'C12' → (row 12, column index 2)."""
    letters = "".join(ch for ch in ref if ch.isalpha())
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch.upper()) - 64
    return int(ref[len(letters):]), col - 1


def _xlsx_sheet_xml(z, names: set[str]):
    """Each worksheet of an open .xlsx zip: its name and its parsed XML part."""
    from xml.etree import ElementTree as ET

    book = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels}
    for sheet in book.iterfind("m:sheets/m:sheet", _NS):
        rel = target.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        part = rel.lstrip("/") if rel.startswith("/") else f"xl/{rel}"
        if part in names:
            yield sheet.get("name"), ET.fromstring(z.read(part))


def percent_cells(path: Path) -> dict[str, set[tuple[int, int]]]:
    """Per worksheet of an .xlsx, the (row, column) of every cell shown in a percent format:
    such a cell typed "90%" holds 0.9, and only its format tells. Read from the workbook's XML
    (the cell readers give values, not formats)."""
    import zipfile
    from xml.etree import ElementTree as ET

    out: dict[str, set[tuple[int, int]]] = {}
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "xl/styles.xml" not in names:
                return out
            styles = ET.fromstring(z.read("xl/styles.xml"))
            custom = {f.get("numFmtId") for f in styles.iterfind("m:numFmts/m:numFmt", _NS)
                      if "%" in (f.get("formatCode") or "")}
            xfs = [xf.get("numFmtId") for xf in styles.iterfind("m:cellXfs/m:xf", _NS)]
            percent_styles = {str(i) for i, f in enumerate(xfs) if f in _PERCENT_BUILTIN_FORMATS | custom}
            if not percent_styles:
                return out
            for name, xml in _xlsx_sheet_xml(z, names):
                out[name] = {_cell_index(c.get("r")) for c in xml.iterfind(".//m:c", _NS)
                             if c.get("s") in percent_styles and c.get("r")}
    except (zipfile.BadZipFile, KeyError, ET.ParseError):
        return {}
    return out


@dataclass(frozen=True)
class SheetLayout:
    """Where an .xlsx sheet's grid starts, and its merged ranges in that grid's terms."""

    origin: tuple[int, int]                        # 0-based row and column of the first cell holding a value
    merges: tuple[tuple[int, int, int, int], ...]  # (first row, first col, last row, last col), from origin


def xlsx_layouts(path: Path) -> dict[str, SheetLayout]:
    """Per worksheet of an .xlsx, its :class:`SheetLayout`. The cell reader returns the grid from
    the first cell holding a value, not from A1, so row numbers and merged ranges are shifted by
    the origin."""
    import zipfile
    from xml.etree import ElementTree as ET

    out: dict[str, SheetLayout] = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name, xml in _xlsx_sheet_xml(z, set(z.namelist())):
                filled = [_cell_index(c.get("r")) for c in xml.iterfind("m:sheetData/m:row/m:c", _NS)
                          if c.get("r") and (c.find("m:v", _NS) is not None or c.find("m:is", _NS) is not None)]
                row0 = min((r for r, _ in filled), default=1) - 1
                col0 = min((c for _, c in filled), default=0)
                merges = []
                for m in xml.iterfind("m:mergeCells/m:mergeCell", _NS):
                    first, _, last = (m.get("ref") or "").partition(":")
                    if first and last:
                        (r0, c0), (r1, c1) = _cell_index(first), _cell_index(last)
                        merges.append((r0 - 1 - row0, c0 - col0, r1 - 1 - row0, c1 - col0))
                out[name] = SheetLayout((row0, col0), tuple(merges))
    except (zipfile.BadZipFile, KeyError, ET.ParseError):
        return {}
    return out


def _show_percent_cells(frame: pl.DataFrame, cells: set[tuple[int, int]]) -> pl.DataFrame:
    """Write percent-formatted cells as the statistician sees them ("0.9" → "90%")."""
    if not cells:
        return frame
    by_col: dict[int, list[int]] = {}
    for row, col in cells:
        by_col.setdefault(col, []).append(row - 1)
    updates = []
    for col, rows in by_col.items():
        if col >= frame.width:
            continue
        name = frame.columns[col]
        hit = pl.int_range(pl.len()).is_in(rows)
        value = pl.col(name).cast(pl.Float64, strict=False)
        updates.append(pl.when(hit & value.is_not_null())
                       .then((value * 100).round(10).cast(pl.String).str.replace(r"\.0$", "") + "%")
                       .otherwise(pl.col(name)).alias(name))
    return frame.with_columns(updates)


def _read_excel_sheets(path: Path, include_hidden: bool = False) -> tuple[dict[str, pl.DataFrame], list[Skipped]]:
    """Every worksheet as a grid of text cells (.xlsx and .xls alike), except hidden and
    backup sheets, which are listed as skipped."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
    except Exception as exc:
        raise _excel_open_error(path, exc) from exc
    sheets: dict[str, pl.DataFrame] = {}
    skips: list[Skipped] = []
    percents = percent_cells(path) if path.suffix.lower() != ".xls" else {}
    for name in names:
        try:
            sheet = reader.load_sheet(name, header_row=None, dtypes="string")
        except Exception as exc:
            raise _excel_open_error(path, exc) from exc
        if str(sheet.visible) != "visible" and not include_hidden:
            skips.append(skipped(path, "hidden_sheet", name))
            continue
        if _is_backup(name):
            skips.append(skipped(path, "backup_sheet", name))
            continue
        frame = pl.DataFrame(sheet.to_arrow())
        frame.columns = [f"column_{i}" for i in range(frame.width)]
        frame = _show_percent_cells(frame, percents.get(name, set()))
        if frame.height == 0:
            skips.append(skipped(path, "empty_sheet", name))
            continue
        sheets[name] = frame
    return sheets, skips


def _find_header(cells: pl.DataFrame, lookup: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Index of the header row among the first rows, and its column → contract-name map."""
    best_index, best_map = -1, {}
    for i, row in enumerate(cells.head(HEADER_SEARCH_ROWS).iter_rows()):
        mapping = {}
        for col_name, cell in zip(cells.columns, row):
            key = normalise_header(cell)
            if key in lookup:
                mapping[col_name] = lookup[key]
        if len(mapping) > len(best_map):
            best_index, best_map = i, mapping
    if len(best_map) < MIN_HEADER_MATCHES:
        return -1, {}
    return best_index, best_map


def _frame_from_cells(
    cells: pl.DataFrame,
    path: Path,
    sheet: str | None,
    encoding: str | None,
    columns: Sequence[Column],
    first_row_number: int,
) -> tuple[pl.DataFrame, FileReport] | None:
    """Turn a grid of text cells into raw rows with contract names; None if no header is found."""
    lookup = header_lookup(columns)
    header_index, mapping = _find_header(cells, lookup)
    if header_index < 0:
        return None
    header_cells = cells.row(header_index)
    seen: dict[str, str] = {}
    for cell_col, name in mapping.items():
        if name in seen:
            raise InputFileError(
                path,
                f"表头中“{name}”出现了两次（第 {header_index + first_row_number} 行）。请删除重复的列后重试。",
                f"column '{name}' appears twice in the header (row {header_index + first_row_number}). "
                "Remove the duplicate column and retry.",
            )
        seen[name] = cell_col
    extras = {
        c: str(h).strip()
        for c, h in zip(cells.columns, header_cells)
        if c not in mapping and h is not None and str(h).strip()
    }
    body = cells.slice(header_index + 1).with_row_index("_i")
    body = body.with_columns((pl.col("_i") + header_index + 1 + first_row_number).cast(pl.Int64).alias("source_row"))
    data_cols = [c for c in cells.columns]
    # Strip cells; an all-blank row is spacing, not data.
    body = body.with_columns([pl.col(c).str.strip_chars().replace("", None) for c in data_cols])
    blank = pl.all_horizontal([pl.col(c).is_null() for c in data_cols])
    blank_rows = int(body.select(blank.sum()).item()) if body.height else 0
    body = body.filter(~blank)

    missing = [c.name for c in columns if c.name not in seen]
    select = [pl.col(cell_col).alias(name) for name, cell_col in seen.items()]
    select += [pl.lit(None, dtype=pl.String).alias(name) for name in missing]
    if extras:
        extra_expr = pl.struct([pl.col(c).alias(h) for c, h in extras.items()]).struct.json_encode()
    else:
        extra_expr = pl.lit(None, dtype=pl.String)
    frame = body.select(
        pl.lit(str(path)).alias("source_file"),
        pl.lit(sheet, dtype=pl.String).alias("source_sheet"),
        pl.col("source_row"),
        pl.lit(",".join(missing), dtype=pl.String).alias("source_missing_columns"),
        extra_expr.alias("extra_columns"),
        *select,
    ).select(list(RAW_META_COLUMNS) + [c.name for c in columns])
    report = FileReport(
        file=str(path), sheet=sheet, encoding=encoding, header_row=header_index + first_row_number,
        rows=frame.height, blank_rows=blank_rows, matched_columns=sorted(seen), missing_columns=missing,
        extra_columns=sorted(extras.values()),
    )
    return frame, report


def read_file(path: Path, columns: Sequence[Column], table_zh: str, include_hidden_sheets: bool = False) -> RawRead:
    """Read one input file into raw rows. Raises :class:`InputFileError` for a file that
    cannot be used at all (unreadable, password-protected, no recognisable header anywhere).
    Worksheets that are not read (hidden, backup, empty, without the header) are listed in
    ``RawRead.skipped``."""
    suffix = path.suffix.lower()
    parts: list[tuple[pl.DataFrame, FileReport]] = []
    skips: list[Skipped] = []
    if suffix in (".csv", ".txt"):
        cells, encoding = _read_csv_cells(path)
        if cells.height == 0:
            return RawRead(empty_raw(columns), [FileReport(str(path), None, encoding, 0, 0, 0, [], [], [])])
        found = _frame_from_cells(cells, path, None, encoding, columns, first_row_number=1)
        if found:
            parts.append(found)
    elif suffix in EXCEL_SUFFIXES:
        sheets, skips = _read_excel_sheets(path, include_hidden_sheets)
        layouts = xlsx_layouts(path) if suffix != ".xls" else {}
        for sheet_name, cells in sheets.items():
            layout = layouts.get(sheet_name)
            first_row = (layout.origin[0] if layout else 0) + 1   # the grid starts at the first filled row
            found = _frame_from_cells(cells, path, sheet_name, None, columns, first_row_number=first_row)
            if found:
                parts.append(found)
            else:
                skips.append(skipped(path, "no_header", sheet_name))
        if not parts and sheets:
            names = "、".join(sheets) or "(无)"
            raise InputFileError(
                path,
                f"没有任何工作表包含{table_zh}的表头（已查看：{names}）。请确认工作表与表头。",
                f"no worksheet has the {table_zh} headers (sheets looked at: {', '.join(sheets)}). "
                "Check the sheet and its header row.",
            )
        if not parts:
            return RawRead(empty_raw(columns), [FileReport(str(path), None, None, 0, 0, 0, [], [], [])], skips)
    elif suffix == ".parquet":
        table = pl.read_parquet(path)
        cells = pl.concat(
            [
                pl.DataFrame([pl.Series(c, [c], dtype=pl.String) for c in table.columns]),
                table.select([pl.col(c).cast(pl.String) for c in table.columns]),
            ]
        )
        # Parquet has no header row: row 1 is the first record.
        found = _frame_from_cells(cells, path, None, None, columns, first_row_number=0)
        if found:
            parts.append(found)
    else:
        raise InputFileError(path, "不支持的文件类型。", "unsupported file type.")
    if not parts:
        raise InputFileError(
            path,
            f"找不到{table_zh}的表头（前 {HEADER_SEARCH_ROWS} 行中至少应有 {MIN_HEADER_MATCHES} 个规定的列名）。",
            f"cannot find the {table_zh} header (at least {MIN_HEADER_MATCHES} contract column names "
            f"in the first {HEADER_SEARCH_ROWS} rows).",
        )
    return RawRead(pl.concat([p[0] for p in parts]), [p[1] for p in parts], skips)


def read_files(paths: Sequence[Path], columns: Sequence[Column], table_zh: str,
               include_hidden_sheets: bool = False) -> RawRead:
    """Read many files; collects every file's error before raising, so one run names them all."""
    from concurrent.futures import ThreadPoolExecutor

    def one(path: Path) -> RawRead | InputFileError:
        try:
            booklet = export_booklet(path) if path.suffix.lower() in EXCEL_SUFFIXES and not \
                path.name.lower().startswith(("schools", "counties")) else None
            if booklet is not None:
                from junheng.exports import read_export

                return read_export(path, booklet, include_hidden_sheets, columns)
            return read_file(path, columns, table_zh, include_hidden_sheets)
        except InputFileError as exc:
            return exc

    frames, reports, skips, errors = [], [], [], []
    if any(p.suffix.lower() in EXCEL_SUFFIXES for p in paths):
        _import_workbook_readers()
    # files are independent, and parsing a CSV leaves the interpreter free: a province's file is
    # read while the next one is decoded (the results are kept in the files' order)
    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1, 4) or 1) as pool:
        results = list(pool.map(one, paths))
    for read in results:
        if isinstance(read, InputFileError):
            errors.append(read)
            continue
        frames.append(read.frame)
        reports.extend(read.reports)
        skips.extend(read.skipped)
    if errors:
        raise InputFilesError(errors)
    frame = pl.concat(frames) if frames else empty_raw(columns)
    return RawRead(frame, reports, skips)


def _import_workbook_readers() -> None:
    """The libraries read_file and read_export import when they first meet a workbook, imported
    here before files are read in threads: two threads importing one library at once can each
    wait for a module the other holds."""
    import zipfile  # noqa: F401
    from xml.etree import ElementTree  # noqa: F401

    import fastexcel  # noqa: F401
    import xlrd  # noqa: F401

    import junheng.exports  # noqa: F401


class InputFilesError(Exception):
    def __init__(self, errors: list[InputFileError]):
        self.errors = errors
        lines = [f"- {e.path}\n  {e.zh}\n  {e.en}" for e in errors]
        super().__init__("以下文件无法读取 / these files cannot be read:\n" + "\n".join(lines))


def empty_raw(columns: Sequence[Column]) -> pl.DataFrame:
    schema = {"source_file": pl.String, "source_sheet": pl.String, "source_row": pl.Int64,
              "source_missing_columns": pl.String, "extra_columns": pl.String}
    schema.update({c.name: pl.String for c in columns})
    return pl.DataFrame(schema=schema)
