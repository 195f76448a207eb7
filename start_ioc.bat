@echo off
REM Start the script server IOC on the demo instrument's commands (Windows).
REM Creates .venv and installs the package on first use; extra options are passed on.
setlocal
cd /d "%~dp0"
if not defined PYTHON set PYTHON=python
if not exist .venv\Scripts\python.exe (
    echo Creating .venv ...
    %PYTHON% -m venv .venv || exit /b 1
)
.venv\Scripts\python.exe -c "import scriptserver_ioc, pcaspy, psutil, epics" 2>nul
if errorlevel 1 (
    echo Installing scriptserver_ioc into .venv ...
    .venv\Scripts\python.exe -m pip install --quiet --upgrade pip
    .venv\Scripts\python.exe -m pip install --quiet -e . || exit /b 1
)
if not defined EPICS_CAS_INTF_ADDR_LIST set EPICS_CAS_INTF_ADDR_LIST=127.0.0.1
set PYTHONUNBUFFERED=1
.venv\Scripts\python.exe -m scriptserver_ioc --commands commands %*
