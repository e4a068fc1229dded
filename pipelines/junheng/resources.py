"""Dagster resources: the warehouse (one writer at a time) and the run's folders."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from junheng.paths import DEFAULT_INPUT_DIR, DEFAULT_OUTPUT_DIR, DEFAULT_WAREHOUSE, POLICY_DIR
from junheng.policy import InputChecks, Policy
from junheng.warehouse import locked_connection


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse. Connections take an exclusive file lock first, so two runs
    never write at once: the second waits up to ``lock_timeout_seconds``, then stops with
    a clear message (DuckDB's own lock error would otherwise surface mid-run)."""

    database: str = Field(default=str(DEFAULT_WAREHOUSE), description="Path of the DuckDB file (数据仓库文件)")
    lock_timeout_seconds: float = Field(default=600.0, description="How long a run waits for another to finish")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with locked_connection(self.database, self.lock_timeout_seconds) as con:
            yield con


class JunhengSettings(ConfigurableResource):
    """Where a run reads and writes (运行设置)."""

    input_dir: str = Field(default=str(DEFAULT_INPUT_DIR), description="Folder with schools*.csv|xlsx|parquet")
    output_dir: str = Field(default=str(DEFAULT_OUTPUT_DIR), description="Folder for published Parquet and reports")
    policy_dir: str = Field(default=str(POLICY_DIR), description="Folder with national.toml and provinces/")
    include_subfolders: bool = Field(default=False, description="Also read files in sub-folders of the input folder")
    include_hidden_sheets: bool = Field(default=False, description="Also read hidden worksheets")

    def policy(self) -> Policy:
        return Policy.load(Path(self.policy_dir))

    def input_checks(self) -> InputChecks:
        return InputChecks.load(Path(self.policy_dir))

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir)
