#!/usr/bin/env bash
# Lint and run every test (unit and system). Creates .venv and installs the package with
# its test extras (genie-python for the genie compatibility tests, pyzmq for the NICOS
# bridge, matplotlib for `scriptserver queue --png`, bluesky for plans as jobs, orjson for
# the client's decoding of large JSON values) on first use.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# pip's output (setuptools' notes on editable installs) goes to a log, shown if it fails
.venv/bin/python -m pip install --quiet --upgrade pip > .venv/install.log 2>&1 \
    && .venv/bin/python -m pip install --quiet -e ".[test,genie,nicos,plot,bluesky,fast]" >> .venv/install.log 2>&1 \
    || { cat .venv/install.log; echo "installing failed (log: .venv/install.log)" >&2; exit 1; }
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== PV reference up to date"
.venv/bin/python -m scriptserver_ioc.ioc.docs --check || {
    echo "docs/pv-reference.md is stale: run python -m scriptserver_ioc.ioc.docs"; exit 1; }
echo "== tests"
# --long: the full fault campaign (system_tests/faults); the default run does a short one
args=()
for arg in "$@"; do
    if [ "$arg" = "--long" ]; then export SCRIPTSERVER_FAULTS=long; else args+=("$arg"); fi
done
exec .venv/bin/python -m pytest -q ${args[@]+"${args[@]}"}
