"""The plan's memory between runs: a county whose plan inputs are what they were last run is
not planned again. A statistician who corrects one province's file and reruns waits for that
province's counties only; the plan is the same either way (it is a function of its inputs).

Each county's plan is kept under a key, a digest of everything it is computed from: the
county's units as the plan reads them (school, level, students, facility share, resources),
its province's settings (thresholds, ceilings, 85% floor, misses allowed, tolerance, prices,
rounding steps, unit costs) and the source of the plan's code (and of the contract, which
orders the resources). One Parquet file per school
year beside the warehouse (``<warehouse>.tables/unit_plan_cache/year=YYYY.parquet``), replaced
whole by each run, so it holds the latest run's counties only. A warehouse in memory keeps
none, and a file that cannot be read is planned around, never trusted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

FIELDS = ("k", "received", "school_add", "paid", "reason", "proven", "gap", "passes")
_CODE = hashlib.blake2b(b"".join(Path(__file__).with_name(f).read_bytes()
                                 for f in ("plan.py", "plan_cache.py", "contract.py"))).hexdigest()


def cache_path(con: duckdb.DuckDBPyConnection, year: int) -> Path | None:
    from junheng.warehouse import tables_folder

    folder = tables_folder(con)
    return None if folder is None else folder / "unit_plan_cache" / f"year={int(year)}.parquet"


def _feed(h, value) -> None:
    """A value of the settings into the digest, the same way every run."""
    if isinstance(value, dict):
        for k in sorted(value):
            h.update(repr(k).encode())
            _feed(h, value[k])
    elif isinstance(value, np.ndarray):
        h.update(str(value.dtype).encode() + repr(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes() if value.dtype != object else repr(value.tolist()).encode())
    else:
        h.update(repr(value).encode())


def runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Where each run of equal neighbours starts and ends (rows a..b) in ``values``: the
    counties of the year's units, the keys of the kept plans (both stored grouped)."""
    if len(values) == 0:
        return []
    bounds = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1, [len(values)]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def county_keys(job: dict, counties: list[tuple[int, int]]) -> list[str]:
    """The key of each county (rows a..b of the year's units in ``job``, as unit_plan lays them out)."""
    provinces = {}
    for code, settings in job["settings"].items():
        h = hashlib.blake2b(_CODE.encode())
        _feed(h, settings)
        _feed(h, job["facility"])
        provinces[code] = h.digest()
    keys = []
    for a, b in counties:
        h = hashlib.blake2b(provinces[job["province"][a]])
        h.update("\x1f".join(job["school_id"][a:b].tolist()).encode())
        h.update("\x1f".join(job["level"][a:b].tolist()).encode())
        for name in ("students", "share", "amounts"):
            h.update(np.ascontiguousarray(job[name][a:b]).tobytes())
        keys.append(h.hexdigest())
    return keys


class Known:
    """The plans kept by the last run, by key."""

    def __init__(self, frame: pl.DataFrame | None = None):
        self._where: dict[str, tuple[int, int]] = {}
        self._arrays: dict[str, np.ndarray] = {}
        if frame is None or frame.height == 0:
            return
        keys = frame["key"].to_numpy()
        self._arrays = {c: frame[c].to_numpy() for c in ("rel", *FIELDS)}
        self._where = {keys[a]: (a, b) for a, b in runs(keys)}

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def holds_only(self, keys: list[str]) -> bool:
        """Whether these are exactly the counties kept (the file would be written unchanged)."""
        return len(self._where) == len(keys) and all(k in self._where for k in keys)

    def piece(self, key: str, start: int) -> dict[str, np.ndarray]:
        """The county's plan rows as ``plan._plan_chunk`` gives them, its units starting at row ``start``."""
        a, b = self._where[key]
        a += 1  # the first row of each key marks the county as planned, with or without rows
        return {"row": self._arrays["rel"][a:b] + start, **{f: self._arrays[f][a:b] for f in FIELDS}}


def load(path: Path | None) -> Known:
    if path is None or not path.exists():
        return Known()
    try:
        return Known(pl.read_parquet(path))
    except Exception:  # a damaged or foreign file: every county is planned again
        return Known()


def save(path: Path | None, keys: list[str], pieces: list[dict[str, np.ndarray]],
         counties: list[tuple[int, int]]) -> None:
    """Keep this run's plans (replacing the year's file)."""
    if path is None:
        return
    from junheng.publish import atomic_path

    kept, seen, rows, columns = [], set(), [], {c: [] for c in ("rel", *FIELDS)}
    for key, piece, (a, _) in zip(keys, pieces, counties):
        if key in seen:  # two counties of identical inputs have one plan
            continue
        seen.add(key)
        kept.append(key)
        rows.append(len(piece["row"]) + 1)
        columns["rel"].append(np.concatenate(([-1], piece["row"] - a)))
        for f in FIELDS:
            columns[f].append(np.concatenate(([_MARKER[f]], piece[f])))
    frame = pl.DataFrame({"key": pl.Series(kept, dtype=pl.String).gather(np.repeat(np.arange(len(kept)), rows)),
                          **{c: np.concatenate(v) if v else [] for c, v in columns.items()}}, schema=_SCHEMA)
    with atomic_path(path) as tmp:  # a cache: written fast, read once
        frame.write_parquet(tmp, compression="lz4", statistics=False)


_MARKER = {"k": 0, "received": 0.0, "school_add": 0.0, "paid": 0.0, "reason": "", "proven": False, "gap": 0.0,
           "passes": False}
_SCHEMA = {"key": pl.String, "rel": pl.Int64, "k": pl.Int64, "received": pl.Float64, "school_add": pl.Float64,
           "paid": pl.Float64, "reason": pl.String, "proven": pl.Boolean, "gap": pl.Float64, "passes": pl.Boolean}
