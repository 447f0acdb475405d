#!/usr/bin/env bash
# The Dask check (tests/engines/dask_check.py) in a virtual environment of
# its own, with dask[distributed] from the Python package registry (about
# 10 s and 70 MB). Run by .ci/run after `cargo test`, which builds BIN.
#
#     bash tests/engines/dask.sh [BIN]   (default target/debug/fanfold)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/debug/fanfold}"
venv="${FANFOLD_DASK_VENV:-target/dask-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check 'dask[distributed]'
"$venv/bin/python" tests/engines/dask_check.py "$bin"
