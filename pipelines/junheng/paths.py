"""Where the project's data files live (policy, SQL models, sample data, outputs)."""

from __future__ import annotations

import os
from pathlib import Path

# The package lives at <root>/pipelines/junheng; the data files sit beside pipelines/.
PROJECT_ROOT = Path(os.environ.get("JUNHENG_ROOT", Path(__file__).resolve().parents[2]))

SQL_DIR = PROJECT_ROOT / "sql"
POLICY_DIR = PROJECT_ROOT / "policy"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
DEFAULT_INPUT_DIR = SAMPLE_DIR / "xlsx"
DEFAULT_OUTPUT_DIR = PROJECT_ROOT / "data" / "out"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse" / "junheng.duckdb"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / "data" / "dagster_home"
