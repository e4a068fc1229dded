"""Great Expectations suites (``expectations/*.json``) run on frames taken from DuckDB.

Each suite file names its table, the key columns that identify a row to a statistician, and
its expectations, each with a severity (``error`` blocks publication, ``warning`` is reported)
and a Chinese and English description. Great Expectations is imported lazily: it costs seconds.

Each validation keeps Great Expectations' own result (``<output>/validation/gx/``); the Data
Docs (``<output>/data_docs``) are built from those once a run is over, by the ``data_docs``
asset or, for a run that failed, with its reports. Built once, not after every validation:
each build renders the site's index again, so building after each of a decade's 34 suites
costs more than all the validations.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from junheng import warehouse
from junheng.models import MODEL_BY_NAME
from junheng.paths import EXPECTATIONS_DIR

SEVERITY = {"error": "critical", "warning": "warning"}
FAILED_ROWS_LISTED = 20   # the first offending rows a report names, per failed expectation
# Great Expectations keeps its project context in a global: one validation at a time
_context_lock = threading.Lock()


@dataclass
class Failure:
    suite: str
    expectation: str
    column: str
    severity: str            # error | warning
    zh: str
    en: str
    unexpected_count: int
    rows: list[dict] = field(default_factory=list)   # key columns of the first offending rows

    def line(self) -> str:
        where = "；".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in self.rows[:5])
        return (f"[{self.severity}] {self.suite} · {self.expectation}({self.column}): {self.zh} / {self.en} — "
                f"{self.unexpected_count} 行 rows" + (f": {where}" if where else ""))


@dataclass
class Report:
    suite: str
    evaluated: int
    failures: list[Failure]

    @property
    def errors(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "error"]

    @property
    def warnings(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "warning"]

    def summary(self) -> str:
        if not self.failures:
            return f"{self.suite}: {self.evaluated} 项检查全部通过 / all {self.evaluated} expectations met"
        return "\n".join(f.line() for f in self.failures)


def load_suite(name: str, directory: Path = EXPECTATIONS_DIR) -> dict:
    return json.loads((Path(directory) / f"{name}.json").read_text(encoding="utf-8"))


def derive(frame: pl.DataFrame, suite: dict) -> pl.DataFrame:
    """Columns some expectations need: a value's ratio to its group's median (plausibility)."""
    spec = suite.get("derived", {}).get("ratio_to_group_median")
    if not spec or frame.height == 0:
        return frame
    return frame.with_columns([
        (pl.col(c) / pl.col(c).median().over(spec["group_by"])).alias(f"{c}__x_county_median")
        for c in spec["columns"]
    ])


RESULTS_DIR = Path("validation") / "gx"   # under the output folder
DOCS_DIR = "data_docs"


# Great Expectations imports these when it loads, for expectations and renderers the suites
# here never use (distribution tests, charts): 1.7 s of its 3 s import. Each is put off until
# something reads one of its attributes, which then imports it whole.
DEFERRED_MODULES = ("scipy.stats", "altair")


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute read imports
    the real module (which replaces it there) and reads the attribute from it."""

    def __init__(self, name: str, spec):
        super().__init__(name)
        self.__spec__ = spec   # read by the import system: present, so it does not load the module

    def __getattr__(self, attr: str):
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attr)


def import_gx():
    """``great_expectations``, with DEFERRED_MODULES put off (see there), and without the
    fingerprint its pandas engine takes of every batch (see FINGERPRINT)."""
    if "great_expectations" not in sys.modules:
        for name in DEFERRED_MODULES:
            if name not in sys.modules and (spec := importlib.util.find_spec(name)) is not None:
                sys.modules[name] = _Deferred(name, spec)
    import great_expectations
    from great_expectations.execution_engine import pandas_execution_engine

    # its batches under this size get a pandas hash of every cell (a quarter of the time a
    # national school table's validation takes); the batch gets the FINGERPRINT marker instead
    pandas_execution_engine.HASH_THRESHOLD = 0
    return great_expectations


# A batch's marker in Great Expectations' result (shown in the Data Docs): a digest of the
# polars row hashes of the rows validated, in the place of Great Expectations' own pandas one.
FINGERPRINT = "polars_data_fingerprint"


def fingerprint(frame: pl.DataFrame) -> str:
    return hashlib.md5(frame.hash_rows(seed=0).to_numpy().tobytes(), usedforsecurity=False).hexdigest()


def _new_context():
    gx = import_gx()

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def validate_frame(frame: pl.DataFrame, suite: dict, results_dir: Path | None = None, run_name: str = "") -> Report:
    """Run one suite on a frame. Missing columns are reported as failures, never skipped.
    With ``results_dir``, Great Expectations' result is kept there for the Data Docs."""
    gx = import_gx()
    name = suite["table"]
    frame = derive(frame, suite)
    keys = [k for k in suite.get("keys", []) if k in frame.columns]
    with _context_lock:
        # a context of its own for each validation: a context keeps every frame it was given
        # (a national table's pandas copy each time), and making one costs milliseconds
        context = _new_context()
        asset_name = f"{name}{'-' + run_name if run_name else ''}"
        asset = context.data_sources.add_pandas("warehouse").add_dataframe_asset(asset_name)
        batch = asset.add_batch_definition_whole_dataframe("all")
        gx_suite = gx.ExpectationSuite(name=f"{asset.name}")
        missing: list[Failure] = []
        for e in suite["expectations"]:
            column = _column_label(e["kwargs"])
            needed = [c for c in [e["kwargs"].get("column"), e["kwargs"].get("column_A"), e["kwargs"].get("column_B"),
                                  *e["kwargs"].get("column_list", [])] if c]
            absent = [c for c in needed if c not in frame.columns]
            if absent:
                missing.append(Failure(name, e["type"], column, e["severity"], e["zh"] + f"（缺少列 {','.join(absent)}）",
                                       e["en"] + f" (missing column {','.join(absent)})", frame.height))
                continue
            cls = getattr(gx.expectations, "".join(p.capitalize() for p in e["type"].split("_")))
            gx_suite.add_expectation(cls(**e["kwargs"], severity=SEVERITY[e["severity"]],
                                         meta={"zh": e["zh"], "en": e["en"], "severity": e["severity"]},
                                         description=f"{e['zh']} / {e['en']}"))
        gx_suite = context.suites.add(gx_suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=asset.name, data=batch, suite=gx_suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=asset.name, validation_definitions=[definition], actions=[],
            result_format={"result_format": "BOOLEAN_ONLY"}))
        pandas_frame = frame.to_pandas()
        result = checkpoint.run(batch_parameters={"dataframe": pandas_frame})
        (key, run), = result.run_results.items()  # one validation definition, one result
        _detail_failed(gx, batch, pandas_frame, run)
    if results_dir is not None:
        from junheng.publish import write_json

        run.meta.setdefault("batch_markers", {})[FINGERPRINT] = fingerprint(frame)
        write_json(Path(results_dir) / f"{asset_name}.json", {
            "key": list(key.to_tuple()), "result": run.to_json_dict(), "suite": gx_suite.to_json_dict()})
    failures = list(missing)
    for r in run.results:
        if r.success:
            continue
        meta = r.expectation_config.meta
        index = r.result.get("unexpected_index_list") or []
        rows = []
        for i in index[:FAILED_ROWS_LISTED]:
            position = i if isinstance(i, int) else None
            if position is not None and keys:
                rows.append({k: frame[k][position] for k in keys})
        failures.append(Failure(name, r.expectation_config.type, _column_label(r.expectation_config.kwargs),
                                meta.get("severity", "error"), meta.get("zh", ""), meta.get("en", ""),
                                int(r.result.get("unexpected_count") or len(index) or 0), rows))
    return Report(name, len(suite["expectations"]), sorted(failures, key=_suite_order(suite)))


def _column_label(kwargs: dict) -> str:
    """The column an expectation is about, as reports name it (a pair by its first column, a
    compound key by its columns joined)."""
    return kwargs.get("column") or kwargs.get("column_A") or ",".join(kwargs.get("column_list", []))


def _config_key(config) -> tuple:
    return config.type, json.dumps([config.kwargs, config.meta], sort_keys=True, default=str)


def _unbound(config):
    """The expectation of a result, as one no suite holds yet."""
    expectation = config.to_domain_obj()
    expectation.id = None
    return expectation


def _detail_failed(gx, batch_definition, pandas_frame, run) -> None:
    """Whether an expectation holds is all a passing one needs; a failing one is asked again, in
    full (its count of offending rows, which rows, some of their values), and its result takes
    the place of the first. Asking every expectation for its offending rows took a third of a
    national school table's validation, though almost all of them pass."""
    failed = [r.expectation_config for r in run.results if not r.success]
    if not failed:
        return
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pandas_frame})
    detail = batch.validate(gx.ExpectationSuite(name=f"{run.suite_name}-failed",
                                                expectations=[_unbound(c) for c in failed]),
                            result_format={"result_format": "COMPLETE"})
    full = {_config_key(r.expectation_config): r for r in detail.results}
    run.results = [r if r.success else full[_config_key(r.expectation_config)] for r in run.results]


def _suite_order(suite: dict):
    """A report lists its failures in the suite's order (Great Expectations returns its results
    in an order of its own), a missing column's first."""
    place = {(e["type"], e["zh"], e["en"]): i for i, e in reversed(list(enumerate(suite["expectations"])))}
    return lambda f: place.get((f.expectation, f.zh, f.en), -1)


def suite_columns(suite: dict) -> list[str]:
    """The columns a suite reads: its expectations' columns, its keys, and what its derived
    columns need. Only these are handed to Great Expectations (a pandas copy of every column of a
    national table costs seconds and gigabytes)."""
    needed: list[str] = list(suite.get("keys", []))
    for e in suite["expectations"]:
        kw = e["kwargs"]
        needed += [c for c in (kw.get("column"), kw.get("column_A"), kw.get("column_B")) if c]
        needed += kw.get("column_list", [])
        needed += re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*(?:==|!=|>=|<=|>|<|\.isin)', kw.get("row_condition", "") or "")
    derived = suite.get("derived", {}).get("ratio_to_group_median")
    if derived:
        needed += derived["columns"] + list(derived["group_by"])
    return list(dict.fromkeys(c for c in needed if not c.endswith("__x_county_median")))


@dataclass(frozen=True)
class TableRows:
    """What a table's validation reads: the suite, the year, the columns the suite reads that the
    table has (a missing one is reported by the suite), the key order for a model's rows, and the
    table's stored Parquet file when it has one (see warehouse.stored_file)."""

    table: str
    suite: dict
    year: int | None
    columns: list[str]
    order: list[str]
    stored: str | None
    part: str = ""     # the years of one part of a table validated in parts (see merged)

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, table: str, year: int | None = None,
           suite: dict | None = None) -> TableRows:
        suite = suite or load_suite(table)
        present = {r[0] for r in con.sql(f"describe {table}").fetchall()}
        columns = [c for c in suite_columns(suite) if c in present]
        # a model's rows are stored in the order DuckDB's threads produced them: in key order,
        # the rows a report lists (the first offending ones) are the same on every run
        order = [k for k in suite.get("keys", []) if k in columns] if table in MODEL_BY_NAME else []
        stored = warehouse.stored_file(con, table, year)
        return cls(table, suite, year, columns, order, None if stored is None else str(stored))


def validate_rows(rows: TableRows, results_dir: Path | None = None,
                  con: duckdb.DuckDBPyConnection | None = None) -> Report:
    """Run the suite on the table's rows, read from its stored file (another process can), or
    through ``con`` for a table that has none."""
    if rows.stored is not None:
        frame = warehouse.read_stored(rows.stored, rows.columns or None, rows.year)
    else:
        frame = warehouse.table_frame(con, rows.table, rows.columns or None, rows.year)
    if rows.order:
        frame = frame.sort(rows.order, maintain_order=True)
    return validate_frame(frame, rows.suite, results_dir, run_name=rows.part or str(rows.year or ""))


def merged(reports: list[Report], suite: dict) -> Report:
    """The reports of a table's parts (rows sharing no year, validated apart, in the table's
    order) as the report of the whole table: each failed expectation once, its offending rows
    counted over the parts and its first rows listed as the whole table's would be. Every
    expectation of the suites here compares a row with itself or with rows of its own year, so
    a part fails exactly on the rows the whole table fails on."""
    found: dict[tuple, Failure] = {}
    for report in reports:
        for f in report.failures:
            key = (f.expectation, f.column, f.severity, f.zh, f.en)
            if key not in found:
                found[key] = Failure(f.suite, f.expectation, f.column, f.severity, f.zh, f.en, 0, [])
            found[key].unexpected_count += f.unexpected_count
            found[key].rows = (found[key].rows + f.rows)[:FAILED_ROWS_LISTED]
    return Report(suite["table"], len(suite["expectations"]), sorted(found.values(), key=_suite_order(suite)))


def clear_results(results_dir: Path, table: str) -> None:
    """Remove the kept Great Expectations results of a table validated as a whole or in parts
    (``<table>.json``, ``<table>-<years>.json``), before it is validated again: the Data Docs
    show only what the latest validation looked at."""
    for path in [Path(results_dir) / f"{table}.json", *Path(results_dir).glob(f"{table}-*.json")]:
        path.unlink(missing_ok=True)


def validate_table(con: duckdb.DuckDBPyConnection, table: str, year: int | None = None,
                   results_dir: Path | None = None, suite: dict | None = None) -> Report:
    return validate_rows(TableRows.of(con, table, year, suite), results_dir, con)


def build_data_docs(output_dir: Path) -> int:
    """Great Expectations' Data Docs of every result kept under ``output_dir`` (the latest of each
    table and year), made to work offline and swapped in whole; returns how many results."""
    gx = import_gx()
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

    from junheng.data_docs import make_offline
    from junheng.publish import replaced_folder

    output_dir = Path(output_dir)
    saved = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((output_dir / RESULTS_DIR).glob("*.json"))]
    with replaced_folder(output_dir / DOCS_DIR) as new:
        context = _new_context()
        context.add_data_docs_site(site_name="junheng", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(new)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        for s in saved:
            context.suites.add(gx.ExpectationSuite(**s["suite"]))
            context.validation_results_store.set(ValidationResultIdentifier.from_tuple(tuple(s["key"])),
                                                 expectationSuiteValidationResultSchema.load(s["result"]))
        context.build_data_docs()
        make_offline(new)
    return len(saved)


def save_report(report: Report, out_dir: Path, year: int | None = None) -> Path:
    """Keep each validation's failures beside the outputs (validation/<table>[-year].json)."""
    from junheng.publish import write_json

    path = Path(out_dir) / "validation" / f"{report.suite}{'-' + str(year) if year is not None else ''}.json"
    write_json(path, {"suite": report.suite, "year": year, "evaluated": report.evaluated,
                      "failures": [f.__dict__ for f in report.failures]})
    return path


def saved_failures(out_dir: Path) -> list[dict]:
    rows = []
    for path in sorted((Path(out_dir) / "validation").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for f in data["failures"]:
            rows.append({**f, "year": data["year"]})
    return rows
