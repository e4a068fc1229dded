"""Provincial and national milestones as data (policy/milestones.toml).

绝大多数 ("the vast majority") has no number in the documents; it is read as the configurable
``vast_majority_share`` and every row that uses it says so (``target_is_assumption``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl

from junheng.contract import REFERENCE
from junheng.paths import POLICY_DIR

NATIONAL = "national"
# the published reference table's columns (year null for ongoing targets, target_share 0-1 and
# null for qualitative ones)
MILESTONE_SCHEMA = {c.name: c.dtype for c in REFERENCE["milestones"]}


def load_milestones(policy_dir: Path | str | None = None) -> tuple[pl.DataFrame, dict]:
    data = tomllib.loads((Path(policy_dir or POLICY_DIR) / "milestones.toml").read_text(encoding="utf-8"))
    assumptions = data["assumptions"]
    rows = []
    for m in data["milestone"]:
        words = m.get("target_words")
        share = m.get("target_share")
        assumed = share is None and words == "绝大多数"
        if assumed:
            share = assumptions["vast_majority_share"]
        rows.append({
            "jurisdiction": str(m["jurisdiction"]), "year": m.get("year"), "kind": m["kind"],
            "target_share": share, "target_words": words, "target_is_assumption": assumed,
            "text": m["text"], "source": m["source"],
        })
    return pl.DataFrame(rows, schema=MILESTONE_SCHEMA), assumptions
