"""A dry run never writes to a real IOC: a tiny caproto server proves the writes stay local."""

import os
import socket
import subprocess
import sys

import pytest
from waiting import wait_until

from scriptserver_ioc.validate.dryrun import run_dry

pytest.importorskip("caproto")
pytest.importorskip("epics")

SERVER = """
import sys
from caproto.server import PVGroup, pvproperty, run


class Demo(PVGroup):
    temp = pvproperty(value=1.0, name="TEMP")
    field = pvproperty(value=2.0, name="FIELD")
    shutter = pvproperty(value=0, name="SHUTTER")


ioc = Demo(prefix=sys.argv[1])
run(ioc.pvdb, interfaces=["127.0.0.1"])
"""

JOB = """
import epics
from caproto.sync.client import write
from caproto.threading.client import Context

epics.caput("{p}TEMP", 5.0, wait=True)
write("{p}FIELD", 7.0, notify=True, repeater=False)
shutter, = Context().get_pvs("{p}SHUTTER", timeout=5)
shutter.write(1, wait=True, timeout=5)
print("all written")
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


@pytest.fixture
def ioc(tmp_path, monkeypatch):
    port = free_port()
    env = {
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": f"127.0.0.1:{port}",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_SERVER_PORT": str(port),
        "EPICS_CAS_SERVER_PORT": str(port),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    prefix = f"VALTEST{os.getpid()}:"
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([sys.executable, str(script), prefix], stdout=log, stderr=log)
    try:
        wait_until(lambda: read(prefix + "TEMP") is not None or server.poll() is not None)
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        yield prefix, dict(os.environ)
    finally:
        server.kill()
        server.wait(timeout=10)
        log.close()


def read(name):
    from caproto.sync.client import read as ca_read

    try:
        return ca_read(name, timeout=0.5, repeater=False).data[0]
    except Exception:  # not up yet: caproto raises its own timeout and network errors
        return None


def test_GIVEN_running_ioc_WHEN_script_writing_pvs_is_dry_run_THEN_writes_recorded_not_sent(
    ioc, tmp_path
):
    prefix, env = ioc
    job = JOB.format(p=prefix)
    result = run_dry(job, job_python=sys.executable, time_limit=60, env=env)
    assert result["ok"], result["error"]
    assert "all written" in result["output"]
    assert [(w["pv"], w["value"], w["via"]) for w in result["writes"]] == [
        (prefix + "TEMP", 5.0, "pyepics caput"),
        (prefix + "FIELD", 7.0, "caproto sync write"),
        (prefix + "SHUTTER", 1, "caproto PV.write"),
    ]
    assert (read(prefix + "TEMP"), read(prefix + "FIELD"), read(prefix + "SHUTTER")) == (
        1.0,
        2.0,
        0,
    )

    # the same script run for real does reach this IOC, so the dry run had every chance to
    real = tmp_path / "job.py"
    real.write_text(job)
    done = subprocess.run(
        [sys.executable, str(real)], env=env, capture_output=True, timeout=60, text=True
    )
    assert "all written" in done.stdout, done.stderr
    assert (read(prefix + "TEMP"), read(prefix + "FIELD"), read(prefix + "SHUTTER")) == (
        5.0,
        7.0,
        1,
    )
