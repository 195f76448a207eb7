"""A dry run's PV writes are recorded, not sent, whatever the client library.

A real CA server (`sample_environment_ioc.py`, caproto) runs in a subprocess. Each script
writes 42 to its `TEMP:SP` with one client library (aioca as ophyd-async uses it, caproto's
threading and asyncio clients, pyepics) and reads it back; dry-run, the PV keeps its value
and the write is in the result; run for real, the same script does write it. The same
for PV Access with p4p (its thread and asyncio clients) and pvapy against a p4p server.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import conftest
import pytest
from caproto.sync.client import read, write
from conftest import wait_until

from scriptserver_ioc.validate.dryrun import run_dry

HERE = Path(__file__).resolve().parent

SCRIPTS = {
    "aioca": (
        "import asyncio\nimport aioca\n"
        "async def main():\n"
        "    await aioca.caput(PV, 42, wait=True, timeout=5)\n"
        "    await aioca.caget(PV, timeout=5)\n"
        "asyncio.run(main())\n",
        "aioca caput",
    ),
    "caproto_threading": (
        "from caproto.threading.client import Context\n"
        "pv, = Context().get_pvs(PV)\npv.wait_for_connection(timeout=5)\n"
        "pv.write([42.0], wait=True, timeout=5)\npv.read(timeout=5)\n",
        "caproto PV.write",
    ),
    "caproto_asyncio": (
        "import asyncio\nfrom caproto.asyncio.client import Context\n"
        "async def main():\n"
        "    pv, = await Context().get_pvs(PV)\n"
        "    await pv.wait_for_connection()\n"
        "    await pv.write([42.0], wait=True)\n"
        "asyncio.run(main())\n",
        "caproto asyncio PV.write",
    ),
    "pyepics": (
        "import epics\nassert epics.caput(PV, 42, wait=True, timeout=5)\n",
        "pyepics caput",
    ),
}


@pytest.fixture(scope="module")
def ca_server(tmp_path_factory):
    """The caproto sample-environment IOC on a port of its own; yields (prefix, env)."""
    port = next(conftest._port_cycle)
    prefix = f"DRY{port}:"
    env = dict(
        os.environ,
        EPICS_CA_SERVER_PORT=str(port),
        EPICS_CA_AUTO_ADDR_LIST="NO",
        EPICS_CA_ADDR_LIST=f"127.0.0.1:{port}",
    )
    log = open(tmp_path_factory.mktemp("ca") / "ioc.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sample_environment_ioc.py"), "--prefix", prefix],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    old = {k: os.environ.get(k) for k in ("EPICS_CA_AUTO_ADDR_LIST", "EPICS_CA_ADDR_LIST")}
    os.environ.update(EPICS_CA_AUTO_ADDR_LIST="NO", EPICS_CA_ADDR_LIST=f"127.0.0.1:{port}")
    try:
        wait_until(lambda: _reads(prefix + "TEMP:SP") is not None, timeout=30)
        yield prefix, env
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _reads(name):
    try:
        return read(name, timeout=1, repeater=False).data[0]
    except Exception:  # noqa: BLE001 - not up yet
        return None


@pytest.mark.parametrize("library", sorted(SCRIPTS))
def test_GIVEN_script_writing_a_pv_WHEN_dry_run_THEN_pv_unchanged_and_write_recorded(
    ca_server, library
):
    if library == "aioca":
        pytest.importorskip("aioca")
    prefix, env = ca_server
    name = prefix + "TEMP:SP"
    write(name, [0.0], notify=True, timeout=5, repeater=False)
    body, via = SCRIPTS[library]
    source = f"PV = {name!r}\n" + body
    result = run_dry(source, env=env, time_limit=60)
    assert result["error"] is None, result
    assert [(w["pv"], w["value"], w["via"]) for w in result["writes"]][:1] == [
        (name, [42.0] if library.startswith("caproto") else 42, via)
    ]
    assert any(text.startswith(f"would write `{name}`") for text in result["withheld"])
    assert _reads(name) == 0.0

    # the same script, run for real, writes the PV (so the check above can fail)
    done = subprocess.run([sys.executable, "-c", source], env=env, timeout=60)
    assert done.returncode == 0
    assert _reads(name) == 42.0


PVA_SERVER = """\
import sys
from p4p.nt import NTScalar
from p4p.server import Server
from p4p.server.thread import SharedPV
pv = SharedPV(nt=NTScalar("d"), initial=0.0)
@pv.put
def handle(pv, op):
    pv.post(op.value())
    op.done()
Server.forever(providers=[{sys.argv[1]: pv}])
"""

PVA_SCRIPTS = {
    "p4p_thread": (
        "from p4p.client.thread import Context\n"
        "ctxt = Context('pva')\nctxt.put(PV, 42.0, timeout=5)\nctxt.get(PV, timeout=5)\n"
    ),
    "p4p_asyncio": (
        "import asyncio\nfrom p4p.client.asyncio import Context\n"
        "async def main():\n"
        "    with Context('pva') as ctxt:\n"
        "        await ctxt.put(PV, 42.0)\n"
        "asyncio.run(main())\n"
    ),
}


@pytest.fixture(scope="module")
def pva_server(tmp_path_factory):
    """A p4p PV Access server with one double PV on loopback ports of the pool."""
    pytest.importorskip("p4p")
    tcp, udp = next(conftest._port_cycle), next(conftest._port_cycle)
    env = dict(
        os.environ,
        EPICS_PVAS_INTF_ADDR_LIST="127.0.0.1",
        EPICS_PVAS_SERVER_PORT=str(tcp),
        EPICS_PVAS_BROADCAST_PORT=str(udp),
        EPICS_PVA_ADDR_LIST=f"127.0.0.1:{udp}",
        EPICS_PVA_AUTO_ADDR_LIST="NO",
        EPICS_PVA_BROADCAST_PORT=str(udp),
        EPICS_PVA_SERVER_PORT=str(tcp),
    )
    name = f"DRY{tcp}:PVA"
    log = open(tmp_path_factory.mktemp("pva") / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", PVA_SERVER, name], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    from p4p.client.thread import Context

    conf = {k: v for k, v in env.items() if k.startswith("EPICS_PVA_")}
    context = Context("pva", conf=conf, useenv=False)
    try:
        wait_until(lambda: _pva_reads(context, name) is not None, timeout=30)
        yield name, env, context
    finally:
        context.close()
        proc.terminate()
        proc.wait(10)
        log.close()


def _pva_reads(context, name):
    try:
        return float(context.get(name, timeout=1))
    except Exception:  # noqa: BLE001 - not up yet
        return None


@pytest.mark.parametrize("library", sorted(PVA_SCRIPTS))
def test_GIVEN_script_putting_a_pva_pv_WHEN_dry_run_THEN_unchanged_and_recorded(
    pva_server, library
):
    name, env, context = pva_server
    context.put(name, 0.0, timeout=5)
    source = f"PV = {name!r}\n" + PVA_SCRIPTS[library]
    result = run_dry(source, env=env, time_limit=60)
    assert result["error"] is None, result
    assert [(w["pv"], w["value"], w["via"]) for w in result["writes"]] == [
        (name, 42.0, "p4p Context.put")
    ]
    assert _pva_reads(context, name) == 0.0
    done = subprocess.run([sys.executable, "-c", source], env=env, timeout=60)
    assert done.returncode == 0
    assert _pva_reads(context, name) == 42.0


PVAPY_SCRIPT = """\
import pvaccess
channel = pvaccess.Channel(PV)
channel.put(42.0)
channel.putDouble(42.5)
print(channel.get()["value"])
"""


def test_GIVEN_script_putting_with_pvapy_WHEN_dry_run_THEN_pv_unchanged_and_puts_recorded(
    pva_server,
):
    """pvapy (`pvaccess`, a C++ extension: no audit event sees its traffic) puts nothing."""
    # found, not imported: pvaccess and p4p (the server fixture's client) in one process
    # crash it at exit (their EPICS libraries clash), so only the scripts' processes use it
    if importlib.util.find_spec("pvaccess") is None:
        pytest.skip("pvapy (pvaccess) is not installed")
    name, env, context = pva_server
    context.put(name, 0.0, timeout=5)
    source = f"PV = {name!r}\n" + PVAPY_SCRIPT
    result = run_dry(source, env=env, time_limit=60)
    assert result["error"] is None, result
    assert [(w["pv"], w["value"], w["via"], w["line"]) for w in result["writes"]] == [
        (name, 42.0, "pvapy Channel.put", 4),
        (name, 42.5, "pvapy Channel.putDouble", 5),
    ]
    assert any(text.startswith(f"would write `{name}`") for text in result["withheld"])
    assert _pva_reads(context, name) == 0.0
    # the same script, run for real, puts both (so the checks above can fail)
    done = subprocess.run([sys.executable, "-c", source], env=env, timeout=60)
    assert done.returncode == 0
    assert _pva_reads(context, name) == 42.5
