#!/usr/bin/env bash
# Start the script server IOC. Creates .venv and installs the package on first use.
# Extra options are passed on (see: ./start_ioc.sh --help), e.g.
#   ./start_ioc.sh --port 5064 --prefix TE:NDW1234:CS:SCRIPTSERVER: --commands /path/to/commands
# Without --commands (or SCRIPTSERVER_COMMANDS) the server serves the demo commands in commands/.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($PYTHON --version) ..."
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import scriptserver_ioc, pcaspy, psutil, docstring_parser, epics" 2>/dev/null; then
    # one line per package, the full pip output in .venv/install.log
    echo "Installing scriptserver_ioc and its dependencies into .venv (log: .venv/install.log) ..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip \
        > .venv/install.log 2>&1
    .venv/bin/python -m pip install --disable-pip-version-check -e . 2>&1 \
        | tee -a .venv/install.log \
        | { grep --line-buffered -E '^(Collecting|Processing|Successfully installed)' \
            | sed -u -E -e 's#^Collecting ([^ <>=!~;]+).*#  \1#' \
                -e 's#^Processing (.*/)?([A-Za-z0-9_.]+(-[A-Za-z][A-Za-z0-9_.]*)*)-[0-9].*#  \2#' \
                -e 's/^Successfully installed/  installed:/'; true; } \
        || { echo "Installing failed; see .venv/install.log" >&2; exit 1; }
fi
# Serve on this machine only unless told otherwise; expose it through a CA gateway.
export EPICS_CAS_INTF_ADDR_LIST=${EPICS_CAS_INTF_ADDR_LIST:-127.0.0.1}
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m scriptserver_ioc "$@"
