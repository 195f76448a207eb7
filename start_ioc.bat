@echo off
REM Start the script server IOC (Windows). Creates .venv and installs the package on first
REM use; extra options are passed on (start_ioc.bat --help). Without --commands (or
REM SCRIPTSERVER_COMMANDS) the server serves the demo commands in commands\.
setlocal
cd /d "%~dp0"
if not defined PYTHON set PYTHON=python
if not exist .venv\Scripts\python.exe (
    echo Creating .venv ...
    %PYTHON% -m venv .venv || exit /b 1
)
.venv\Scripts\python.exe -c "import scriptserver_ioc, pcaspy, psutil, docstring_parser, epics" 2>nul
if errorlevel 1 (
    echo Installing scriptserver_ioc and its dependencies into .venv, a minute or two
    echo ^(full log: .venv\install.log^) ...
    .venv\Scripts\python.exe -m pip install --quiet --disable-pip-version-check --upgrade pip > .venv\install.log 2>&1
    .venv\Scripts\python.exe -m pip install --disable-pip-version-check -e . >> .venv\install.log 2>&1
    if errorlevel 1 (
        echo Installing failed; see .venv\install.log
        exit /b 1
    )
    findstr /B /C:"Successfully installed" .venv\install.log
)
if not defined EPICS_CAS_INTF_ADDR_LIST set EPICS_CAS_INTF_ADDR_LIST=127.0.0.1
set PYTHONUNBUFFERED=1
.venv\Scripts\python.exe -m scriptserver_ioc %*
