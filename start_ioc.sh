#!/usr/bin/env bash
# Start the script server IOC on the demo instrument's commands.
# Creates .venv and installs the package on first use. Extra options are passed on
# (see: ./start_ioc.sh --help), e.g. ./start_ioc.sh --port 5064 --prefix TE:NDW1234:CS:SCRIPTSERVER:
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($PYTHON --version) ..."
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import scriptserver_ioc, pcaspy, psutil, epics" 2>/dev/null; then
    echo "Installing scriptserver_ioc into .venv ..."
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e .
fi
# Serve on this machine only unless told otherwise; expose it through a CA gateway.
export EPICS_CAS_INTF_ADDR_LIST=${EPICS_CAS_INTF_ADDR_LIST:-127.0.0.1}
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m scriptserver_ioc --commands commands "$@"
