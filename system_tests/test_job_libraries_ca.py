"""Jobs use the libraries instrument code uses: pyepics on real PVs, genie_python simulated.

A small caproto IOC (`sample_environment_ioc.py`) plays the instrument's sample environment;
the script server IOC runs jobs that read and write its PVs with pyepics, from a catalogue
command and from a free script, and a job that drives genie_python in simulation mode.
The test checks what the jobs wrote through its own caproto client.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import conftest
import pytest
from conftest import wait_until

from scriptserver_ioc.client.client import ScriptServerClient

HERE = Path(__file__).resolve().parent

# A command file as instrument scientists write them around pyepics (InstrumentScripts'
# general/utilities/hardware_communication.py talks to PVs the same way, through genie's
# g.set_pv / g.get_pv wrappers of Channel Access).
SAMPLE_ENV_COMMANDS = '''\
"""Sample environment commands talking Channel Access with pyepics."""

import os

import epics

PREFIX = os.environ["SAMPLE_ENV_PREFIX"]


def set_temperature(kelvin: float):
    """Set the sample temperature and wait until the readback has it."""
    if not epics.caput(PREFIX + "TEMP:SP", kelvin, wait=True, timeout=5):
        raise RuntimeError("cannot write " + PREFIX + "TEMP:SP")
    for _ in range(500):
        if epics.caget(PREFIX + "TEMP", timeout=5) == kelvin:
            return
        epics.poll(0.01)
    raise RuntimeError("temperature readback never reached the set point")
'''


@pytest.fixture
def sample_environment(tmp_path):
    """The caproto sample-environment IOC, on a port of the pool; yields its prefix."""
    port = next(conftest._port_cycle)
    prefix = f"SE{port}:"
    env = dict(conftest.os.environ, EPICS_CA_SERVER_PORT=str(port))
    log = open(tmp_path / "sample-env-ioc.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sample_environment_ioc.py"), "--prefix", prefix],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield prefix, port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def jobs(start_ioc, tmp_path, sample_environment):
    """A script server whose jobs reach the sample environment IOC; its queue runs."""
    prefix, port = sample_environment
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "sample_env.py").write_text(SAMPLE_ENV_COMMANDS, encoding="utf-8")
    prelude = tmp_path / "prelude.py"
    prelude.write_text(
        "import os\n"
        f"os.environ['EPICS_CA_ADDR_LIST'] = '127.0.0.1:{port}'\n"
        "os.environ['EPICS_CA_AUTO_ADDR_LIST'] = 'NO'\n"
        f"os.environ['SAMPLE_ENV_PREFIX'] = {prefix!r}\n",
        encoding="utf-8",
    )
    ioc = start_ioc(["--prelude", str(prelude)], commands=commands)
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 0)
    return client, prefix


def finished(client, job_id: int, timeout: float = 60.0) -> dict:
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=timeout)
    return client.get_json("HISTORY")[0]


def read_pv(context, name: str):
    (pv,) = context.get_pvs(name, timeout=5)
    pv.wait_for_connection(timeout=10)
    return pv.read(timeout=5).data[0]


def connected(context, name: str) -> bool:
    try:
        read_pv(context, name)
    except TimeoutError:
        return False
    return True


def test_GIVEN_pyepics_command_and_script_WHEN_run_as_jobs_THEN_real_pvs_read_and_written(
    jobs, caproto_context
):
    client, prefix = jobs
    wait_until(lambda: connected(caproto_context, prefix + "TEMP"), timeout=20)

    (command_job,) = client.add("set_temperature(5.5)")
    job = finished(client, command_job)
    assert job["state"] == "DONE", job
    assert read_pv(caproto_context, prefix + "TEMP") == 5.5

    script = (
        "import epics\n"
        "from sample_env import PREFIX\n"
        "kelvin = epics.caget(PREFIX + 'TEMP', timeout=5)\n"
        "assert epics.caput(PREFIX + 'TITLE', f'water at {kelvin} K', wait=True, timeout=5)\n"
    )
    (script_job,) = client.add({"script": script})
    job = finished(client, script_job)
    assert job["state"] == "DONE", job
    assert read_pv(caproto_context, prefix + "TITLE") == b"water at 5.5 K"


def test_GIVEN_genie_python_simulation_WHEN_job_drives_a_run_THEN_done(jobs, caproto_context):
    pytest.importorskip("genie_python")
    client, prefix = jobs
    wait_until(lambda: connected(caproto_context, prefix + "TITLE"), timeout=20)
    script = (
        "import os\n"
        "os.environ['GENIE_SIMULATE'] = '1'\n"
        "from genie_python import genie as g\n"
        "import epics\n"
        "g.change_title('water')\n"
        "g.begin()\n"
        "g.waitfor(seconds=0.2)\n"
        "g.end()\n"
        "text = g.get_title() + ' ' + g.get_runstate()\n"
        "assert epics.caput(os.environ['SAMPLE_ENV_PREFIX'] + 'TITLE', text, wait=True)\n"
    )
    started = time.monotonic()
    (job_id,) = client.add({"script": script})
    job = finished(client, job_id, timeout=120)
    assert job["state"] == "DONE", (job.get("error"), time.monotonic() - started)
    assert read_pv(caproto_context, prefix + "TITLE") == b"water SETUP"
