"""Warming the companion worker after a catalogue change: slow imports are named, not waited for.

Real processes: the catalogue's checker (genie_python simulated) and the companion worker
(the job's environment, real genie_python) import the test instrument. Its `sans2d`
package reads five PVs at import: instant in simulation, a connection time-out each in the
job's environment where nobody serves them (Channel Access pointed at a closed port).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_catalogue_instrument import INSTRUMENT
from waiting import wait_until

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.catalogue.imports import JobImport
from scriptserver_ioc.catalogue.live import LiveChecker
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.warmup import Warmer


@pytest.fixture
def no_pv_server(monkeypatch, unused_udp_port):
    """Channel Access of the worker pointed at a port nobody serves: every PV times out."""
    monkeypatch.setenv("EPICS_CA_AUTO_ADDR_LIST", "NO")
    monkeypatch.setenv("EPICS_CA_ADDR_LIST", f"127.0.0.1:{unused_udp_port}")


@pytest.fixture
def unused_udp_port():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slow_entries(catalogue, environment):
    return [
        e
        for e in catalogue.errors
        if e.get("environment") == environment and "importing module" in e["message"]
    ]


def sans2d_entry(entries):
    """The entry of the test instrument's `sans2d` package among `entries`, else None."""
    files = {Path(e["file"]).relative_to(INSTRUMENT).as_posix(): e for e in entries}
    return files.get("sans2d/__init__.py")


def test_GIVEN_module_reading_pvs_at_import_WHEN_warmed_THEN_named_slow_while_importing(
    no_pv_server,
):
    pytest.importorskip("genie_python")
    catalogue = Catalogue([INSTRUMENT], live=LiveChecker(sys.executable, [INSTRUMENT]))
    catalogue.reload()
    # simulated, the reads return at once; on a loaded machine the import (genie_python's)
    # may still pass the checker's slow bound: its description then comes when it ends
    wait_until(lambda: "set_sample_position" in catalogue.names(), timeout=60)
    assert not [e for e in slow_entries(catalogue, "simulated") if "not finished" in e["message"]]
    changes = []
    catalogue.on_late_change = lambda: changes.append(catalogue.revision)
    companions = CompanionRunner(sys.executable, [INSTRUMENT])
    warmer = Warmer(companions, catalogue, slow_after=1.0)
    try:
        warmer.request()

        # on a loaded machine another module (genie_python's import) may pass 1 s as well
        entry = wait_until(lambda: sans2d_entry(slow_entries(catalogue, "job")), timeout=60)
    finally:
        warmer.stop()  # ends the import still blocking
        companions.close()

    assert (
        "importing module 'sans2d' has not finished after 1 s in the job interpreter"
        in (entry["message"])
    )
    assert changes and changes[-1] == catalogue.revision  # published as a change
    assert catalogue.bind("set_sample_position", [], {}) == {"position": "1CB"}  # not refused


def test_GIVEN_finished_slow_import_WHEN_noted_THEN_its_time_replaces_still_importing(tmp_path):
    (tmp_path / "chopper.py").write_text('def set_ei(energy: float):\n    """Set Ei."""\n')
    catalogue = Catalogue([tmp_path])
    path = tmp_path / "chopper.py"
    key = catalogue.source_keys()[path]

    catalogue.note_job_import(path, JobImport(True, 15.1, True), key)
    catalogue.note_job_import(path, JobImport(False, 2.0, True), key)  # arrives late
    catalogue.note_job_import(path, JobImport(True, 0.2, False), (1, 2, 3))  # older content

    (entry,) = catalogue.errors
    assert entry["environment"] == "job" and entry["line"] is None
    assert entry["message"].startswith(
        "importing module 'chopper' took 15.1 s in the job interpreter (as a job imports it): "
        "a job that uses its commands waits as long before its first line"
    )
