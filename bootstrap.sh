#!/usr/bin/env bash
# Set up junheng from a fresh clone and run the main job on the bundled sample.
#   bash bootstrap.sh            # set up, then `junheng run` on data/sample
#   bash bootstrap.sh --no-run   # set up only
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
# uv installs the locked set in seconds; bytecode is compiled because this
# machine may set PYTHONDONTWRITEBYTECODE, which would make every import slow.
.venv/bin/uv pip sync --quiet --python .venv/bin/python --compile-bytecode requirements.lock
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps --compile-bytecode -e .

if [ "${1:-}" != "--no-run" ]; then
  .venv/bin/junheng run
fi
