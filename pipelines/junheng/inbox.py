"""Noticing new or changed input files (for the Dagster sensor)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from junheng.ingest import find_input_files


def inbox_state(input_dir: str | Path, stems: tuple[str, ...] = ("schools", "counties")) -> dict[str, list]:
    """Every input file's size and modification time."""
    state = {}
    for stem in stems:
        for path in find_input_files(Path(input_dir), stem):
            st = path.stat()
            state[str(path)] = [st.st_size, st.st_mtime_ns]
    return state


def inbox_changes(input_dir: str | Path, cursor: str | None) -> tuple[list[str], str]:
    """Files added or changed since ``cursor``; the new cursor is a digest of the state."""
    if not Path(input_dir).exists():
        return [], cursor or ""
    state = inbox_state(input_dir)
    previous = json.loads(cursor.split("|", 1)[1]) if cursor and "|" in cursor else {}
    changed = sorted(p for p, v in state.items() if previous.get(p) != v)
    body = json.dumps(state, sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return changed, f"{digest}|{body}"
