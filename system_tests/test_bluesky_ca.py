"""bluesky plans as jobs, over Channel Access: the RunEngine obeys PAUSE, RESUME and ABORT;
figures come back to the user.

A script job runs a 50-point scan of a simulated ophyd-async motor with a plain
``bluesky.RunEngine``, as a scientist writes it: ``RE(plan)``, nothing of the script server
in it. The job records every document and every RunEngine state change (with the number of
events seen) in files the test reads, so what the RunEngine did is checked, not assumed.
One IOC (pre-flight off: dry runs of plans are checked elsewhere) serves the module.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import conftest
import pytest
from conftest import IOC, settle_preflights, wait_until

from scriptserver_ioc.validate.preflight import preflight_record

HERE = Path(__file__).resolve().parent


@pytest.fixture
def bluesky():
    """Skip a test that needs the `[bluesky]` extra when it is not installed."""
    pytest.importorskip("bluesky")
    pytest.importorskip("ophyd_async")


STATE_RUNNING, STATE_PAUSED = 1, 3
POINTS = 50
PNG = b"\x89PNG\r\n\x1a\n"

SCAN = """\
import json
from bluesky import RunEngine
import bluesky.plan_stubs as bps
import bluesky.plans as bp
import bluesky.preprocessors as bpp
from ophyd_async.core import init_devices
from ophyd_async.sim import SimMotor

RECORD = {record!r}
RE = RunEngine(call_returns_result=True)
with init_devices():
    motor = SimMotor("motor")
log = open(RECORD, "a")
events = [0]

def note(**fields):
    log.write(json.dumps(fields) + "\\n")
    log.flush()

def on_document(name, doc):
    if name == "event":
        events[0] += 1
        note(doc="event", point=doc["seq_num"], state=RE.state)
    elif name == "stop":
        note(doc="stop", exit_status=doc["exit_status"], reason=doc["reason"])

RE.subscribe(on_document)
RE.state_hook = lambda new, old: note(state=new, events=events[0])

def step(detectors, step, pos_cache):
    yield from bps.one_nd_step(detectors, step, pos_cache)
    if {fail_at} and events[0] == {fail_at}:
        raise ValueError("the sample fell off")
    yield from bps.sleep({point_time})

def cleanup():
    yield from bps.mv(motor, 0)
    note(cleanup="ran")

result = RE(bpp.finalize_wrapper(
    bp.scan([motor], motor, 0, 49, {points}, per_step=step), cleanup()))
note(returned=result.exit_status)
"""


RE_LINE = SCAN.splitlines().index("result = RE(bpp.finalize_wrapper(") + 1


def scan_script(record: Path, point_time: float = 0.05, fail_at: int = 0) -> str:
    return SCAN.format(record=str(record), point_time=point_time, fail_at=fail_at, points=POINTS)


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events_of(path: Path) -> list[dict]:
    return [r for r in records(path) if r.get("doc") == "event"]


PLANS = '''"""Plans of the test instrument."""


def motor_scan(start: float, stop: float, points: int = 5, record: str = ""):
    """Scan the simulated motor from start to stop.

    Args:
        start: first position.
        stop: last position.
        points: number of points.
        record: file the positions read at each point are written to.
    """
    import json

    import bluesky.plans as bp
    import bluesky.preprocessors as bpp
    from ophyd_async.plan_stubs import ensure_connected
    from ophyd_async.sim import SimMotor

    motor = SimMotor("motor")
    yield from ensure_connected(motor)
    log = open(record, "a")

    def note(name, doc):
        if name == "event":
            log.write(json.dumps(doc["data"]["motor"]) + "\\n")
            log.flush()

    return (yield from bpp.subs_wrapper(bp.scan([motor], motor, start, stop, points), note))
'''


INSTRUMENT_PLANS = '''

from ibex_bluesky_core.devices.block import BlockRw


def set_temperature(block: BlockRw[float], kelvin: float, record: str = ""):
    """Set a temperature block, then count it once.

    Args:
        block: the block, by name.
        kelvin: the set point.
        record: file the block's name, the event's data and the run's RB number go to.
    """
    import json

    import bluesky.plan_stubs as bps
    import bluesky.plans as bp
    import bluesky.preprocessors as bpp

    yield from bps.mv(block, kelvin)
    found = {"block": block.name}

    def note(name, doc):
        if name == "start":
            found["rb_number"] = doc.get("rb_number")
        elif name == "event":
            found["data"] = doc["data"]

    yield from bpp.subs_wrapper(bp.count([block]), note)
    open(record, "w").write(json.dumps(found))
'''


def instrument_prelude(port: int, prefix: str, workdir: Path) -> str:
    """Jobs reach the blocks IOC as their instrument (``MYPVPREFIX``); the working directory
    is the test's (``ibex_bluesky_core``'s document logger writes under ``C:\\instrument``,
    a relative path off Windows)."""
    return (
        "import os\n"
        f"os.environ['EPICS_CA_ADDR_LIST'] = '127.0.0.1:{port}'\n"
        "os.environ['EPICS_CA_AUTO_ADDR_LIST'] = 'NO'\n"
        f"os.environ['MYPVPREFIX'] = {prefix!r}\n"
        f"os.chdir({str(workdir)!r})\n"
    )


@pytest.fixture(scope="module")
def blocks_ioc(tmp_path_factory):
    """The caproto IOC of the instrument's blocks, on a port of the pool: (prefix, port)."""
    pytest.importorskip("caproto")
    port = next(conftest._port_cycle)
    prefix = f"TE{port}:"
    env = dict(os.environ, EPICS_CA_SERVER_PORT=str(port))
    log = open(tmp_path_factory.mktemp("blocks") / "blocks-ioc.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "instrument_blocks_ioc.py"), "--prefix", prefix],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield prefix, port
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


NICOS_LOGIN, NICOS_PASSWORD = "ibex", "a-test-password"


def module_ioc(
    base: Path,
    plans: str = "",
    prelude: str | None = None,
    preflight: int = 0,
    nicos: bool = False,
):
    """An IOC with `plans` as its commands and `preflight` workers, stopped at the end;
    with `nicos`, its NICOS bridge too (`.nicos` is its address, None without pyzmq)."""
    (base / "commands").mkdir()
    (base / "commands" / "plans.py").write_text(plans)
    (base / "data").mkdir()
    args = ["--preflight-workers", str(preflight)]
    if prelude is not None:
        (base / "prelude.py").write_text(prelude)
        args += ["--prelude", str(base / "prelude.py")]
    address = None
    if nicos and importlib.util.find_spec("zmq") is not None:
        from scriptserver_ioc.nicos.credentials import hash_line

        credentials = hash_line(NICOS_LOGIN, NICOS_PASSWORD) + "\n"
        (base / "data" / "nicos-credentials.txt").write_text(credentials)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        args += ["--nicos-port", str(port)]
        address = f"tcp://127.0.0.1:{port}"
    ioc = IOC(base / "data", args, commands=base / "commands").start()
    ioc.nicos = address
    yield ioc
    ioc.stop()
    from conftest import _end_jobs_of

    _end_jobs_of(base / "data")


@pytest.fixture(scope="module")
def bluesky_ioc(tmp_path_factory):
    yield from module_ioc(tmp_path_factory.mktemp("bluesky"), nicos=True)


@pytest.fixture(scope="module")
def plans_ioc(tmp_path_factory, blocks_ioc):
    """Plan commands run on `ibex_bluesky_core`'s `get_run_engine()`, on the blocks IOC;
    queued jobs are pre-flighted (a held queue's jobs are checked, not run)."""
    base = tmp_path_factory.mktemp("plans")
    prefix, port = blocks_ioc
    (base / "work").mkdir()
    prelude = instrument_prelude(port, prefix, base / "work")
    yield from module_ioc(base, PLANS + INSTRUMENT_PLANS, prelude, preflight=1)


PLAIN_PLANS = '''"""Plans of a machine without ibex_bluesky_core: they run on a plain RunEngine."""


def slow_scan(points: int = 50, record: str = ""):
    """Scan a simulated motor, a point every 0.05 s, then move it back to 0.

    Args:
        points: number of points.
        record: file the run's documents and its cleanup are noted in (JSON lines).
    """
    import importlib
    import json

    import bluesky.plan_stubs as bps
    import bluesky.plans as bp
    import bluesky.preprocessors as bpp
    from ophyd_async.plan_stubs import ensure_connected
    from ophyd_async.sim import SimMotor

    log = open(record, "a")

    def note(**fields):
        log.write(json.dumps(fields) + "\\n")
        log.flush()

    try:  # (not an import statement: the fork server would import it ahead of the job)
        importlib.import_module("ibex_bluesky_core.run_engine")
    except ImportError as exc:
        note(ibex_bluesky_core=type(exc).__name__)
    motor = SimMotor("motor")
    yield from ensure_connected(motor)

    def on_document(name, doc):
        if name == "start":
            note(doc="start", keys=sorted(doc))
        elif name == "event":
            note(doc="event", point=doc["seq_num"])
        elif name == "stop":
            note(doc="stop", exit_status=doc["exit_status"], reason=doc["reason"])

    def step(detectors, step, pos_cache):
        yield from bps.one_nd_step(detectors, step, pos_cache)
        yield from bps.sleep(0.05)

    def cleanup():
        yield from bps.mv(motor, 0)
        note(cleanup="ran")

    scan = bp.scan([motor], motor, 0, points - 1, points, per_step=step)
    return (yield from bpp.finalize_wrapper(bpp.subs_wrapper(scan, on_document), cleanup()))
'''

NO_IBEX_BLUESKY_CORE = '''"""No ibex_bluesky_core here: importing it fails as if not installed."""
import sys


class NotInstalled:
    """An import finder that finds no ibex_bluesky_core."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ibex_bluesky_core":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


for name in [n for n in sys.modules if n.split(".")[0] == "ibex_bluesky_core"]:
    del sys.modules[name]
sys.meta_path.insert(0, NotInstalled())
'''


@pytest.fixture(scope="module")
def plain_plans_ioc(tmp_path_factory):
    """Plan commands on a machine where `ibex_bluesky_core` cannot be imported (the prelude
    makes its import fail in every job): they run on a plain `bluesky.RunEngine`."""
    yield from module_ioc(tmp_path_factory.mktemp("plain"), PLAIN_PLANS, NO_IBEX_BLUESKY_CORE)


def client_of(ioc):
    from scriptserver_ioc.client.client import ScriptServerClient

    c = ScriptServerClient(ioc.prefix)
    c.put("QUEUE:HOLD", 0)
    yield c
    if c.get("CURRENT:ID"):
        c.put("ABORT", 2)
    wait_until(lambda: not c.get("CURRENT:ID"), timeout=20)


@pytest.fixture
def server(bluesky_ioc):
    yield from client_of(bluesky_ioc)


@pytest.fixture
def plans(bluesky, plans_ioc):
    pytest.importorskip("ibex_bluesky_core")
    yield from client_of(plans_ioc)


@pytest.fixture
def plain_plans(bluesky, plain_plans_ioc):
    yield from client_of(plain_plans_ioc)


def finished(client, job_id: int, timeout: float = 30.0) -> dict:
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=timeout)
    return client.get_json("HISTORY")[0]


def point_reached(client, n: int) -> bool:
    """CURRENT:MESSAGE says "scan k of 50" with k >= n."""
    words = client.get_text("CURRENT:MESSAGE").split()
    return len(words) == 4 and words[0] == "scan" and words[1].isdigit() and int(words[1]) >= n


def test_GIVEN_scan_WHEN_paused_resumed_paused_now_and_aborted_THEN_the_RunEngine_did_each(
    server, tmp_path, bluesky
):
    record = tmp_path / "record.jsonl"
    (job_id,) = server.add({"script": scan_script(record)})
    wait_until(lambda: point_reached(server, 3), timeout=30)

    # deferred PAUSE: the RunEngine pauses at its next checkpoint, STATE PAUSED after it
    assert server.put("PAUSE", 1)["ok"]
    wait_until(lambda: server.get("STATE") == STATE_PAUSED)
    states = [r for r in records(record) if "state" in r and "doc" not in r]
    assert states[-1]["state"] == "paused"
    at_pause = len(events_of(record))
    assert states[-1]["events"] == at_pause
    time.sleep(0.5)  # an observation window (10 points' time): no event comes while paused
    assert len(events_of(record)) == at_pause
    assert point_reached(server, at_pause)
    assert server.get("CURRENT:LINE") == RE_LINE
    current = server.get_json("CURRENT")
    assert current["state"] == "PAUSED"

    # RESUME: the same RE(...) call goes on
    assert server.put("RESUME", 1)["ok"]
    wait_until(lambda: len(events_of(record)) >= at_pause + 3)
    assert server.get("STATE") == STATE_RUNNING

    # immediate PAUSE: the RunEngine pauses now (not a frozen process)
    assert server.put("PAUSE", 2)["ok"]
    wait_until(lambda: server.get("STATE") == STATE_PAUSED)
    assert [r for r in records(record) if "state" in r and "doc" not in r][-1]["state"] == "paused"

    # soft ABORT while paused: cleanup runs, the stop document says abort with the reason
    assert server.put("ABORT", 1)["ok"]
    job = finished(server, job_id)
    assert job["state"] == "ABORTED"
    done = records(record)
    stop = next(r for r in done if r.get("doc") == "stop")
    assert stop["exit_status"] == "abort"
    assert stop["reason"].startswith(f"aborted by {getpass.getuser()}")
    assert {"cleanup": "ran"} in done
    assert not any(r.get("doc") == "event" for r in done[done.index(stop) :])
    assert not any("returned" in r for r in done)
    output = server.output(job_id)
    assert "RunEngineInterrupted" not in output
    assert job["error"]["type"] == "JobAborted"


MOVE = """\
import json
from bluesky import RunEngine
import bluesky.plan_stubs as bps
from ophyd_async.core import init_devices
from ophyd_async.sim import SimMotor

RECORD = {record!r}
RE = RunEngine(call_returns_result=True)
with init_devices():
    motor = SimMotor("motor", instant=False)
log = open(RECORD, "a")


def note(**fields):
    log.write(json.dumps(fields) + "\\n")
    log.flush()


RE.state_hook = lambda new, old: note(state=new)


def move():
    motor.user_readback.subscribe_reading(  # (in the plan: in the RunEngine's loop)
        lambda reading: note(position=float(reading["motor"]["value"]))
    )
    yield from bps.checkpoint()  # where a resume rewinds to (a pause needs one)
    yield from bps.mv(motor, 3)


RE(move())
"""


def test_GIVEN_motor_moving_WHEN_paused_now_THEN_the_RunEngine_stopped_it_and_resume_ends_it(
    server, tmp_path, bluesky
):
    """PAUSE 2 during a 3 s move: the RunEngine pauses and stops the motor (its process
    goes on: a frozen one would finish the move on resume); RESUME moves it to 3."""
    record = tmp_path / "record.jsonl"
    (job_id,) = server.add({"script": MOVE.format(record=str(record))})
    wait_until(lambda: any(0.5 < r.get("position", 0) for r in records(record)), timeout=30)
    assert server.put("PAUSE", 2)["ok"]
    wait_until(lambda: server.get("STATE") == STATE_PAUSED)
    assert [r for r in records(record) if "state" in r][-1] == {"state": "paused"}
    stopped = [r["position"] for r in records(record) if "position" in r]
    time.sleep(0.5)  # an observation window (half a millimetre of motion): the motor stays
    assert [r["position"] for r in records(record) if "position" in r] == stopped
    assert 0.5 < stopped[-1] < 3
    assert server.put("RESUME", 1)["ok"]
    job = finished(server, job_id)
    assert job["state"] == "DONE", job["error"]
    assert [r["position"] for r in records(record) if "position" in r][-1] == 3


@pytest.mark.parametrize("how", ["ABORT", "STOP"])
def test_GIVEN_running_scan_WHEN_soft_aborted_THEN_stop_doc_abort_and_cleanup_ran(
    server, tmp_path, how, bluesky
):
    record = tmp_path / "record.jsonl"
    (job_id,) = server.add({"script": scan_script(record)})
    progress = []
    while len(progress) < 3 or progress[-1] < 10:
        wait_until(lambda: server.get("CURRENT:PROGRESS") > (progress[-1] if progress else 0))
        progress.append(server.get("CURRENT:PROGRESS"))
        assert server.get("CURRENT:LINE") == RE_LINE  # the job's line that called RE(...)
    assert progress == sorted(progress)
    assert server.put(how, 1)["ok"]
    job = finished(server, job_id)
    assert job["state"] == "ABORTED"
    done = records(record)
    stop = next(r for r in done if r.get("doc") == "stop")
    assert stop["exit_status"] == "abort"
    assert "aborted" in stop["reason"] or "stop" in stop["reason"]
    assert {"cleanup": "ran"} in done
    assert not any(r.get("doc") == "event" for r in done[done.index(stop) :])
    assert len(events_of(record)) < POINTS
    if how == "ABORT":
        server.put("QUEUE:HOLD", 0)  # an abort holds the queue


def test_GIVEN_scan_with_live_plot_WHEN_it_runs_to_the_end_THEN_done_and_its_figure_saved(
    server, tmp_path, bluesky
):
    pytest.importorskip("matplotlib")
    record = tmp_path / "record.jsonl"
    script = scan_script(record, point_time=0.0).replace(
        "RE.subscribe(on_document)\n",
        "RE.subscribe(on_document)\n"
        "from bluesky.callbacks.mpl_plotting import LivePlot\n"
        "RE.subscribe(LivePlot('motor', x='motor'))\n",
    )
    (job_id,) = server.add({"script": script})
    job = finished(server, job_id)
    assert job["state"] == "DONE"
    assert len(events_of(record)) == POINTS
    assert {"returned": "success"} in records(record)
    assert job["progress"] == 100
    assert job["message"] == f"scan {POINTS} of {POINTS}"
    (figure,) = server.plots(job_id)
    assert Path(figure).read_bytes().startswith(PNG)


def test_GIVEN_job_calling_plt_show_WHEN_run_THEN_it_ends_and_its_figures_are_listed(
    server, bluesky_ioc, tmp_path
):
    pytest.importorskip("matplotlib")
    script = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.show()\n"
        "print('after show', flush=True)\n"
        "plt.figure()\n"
        "plt.plot([3, 2, 1])\n"
    )
    gui = None
    if bluesky_ioc.nicos:  # the IBEX GUI's messages (the NICOS bridge) name the files too
        from scriptserver_ioc.nicos.client import GuiClient

        gui = GuiClient(bluesky_ioc.nicos)
        gui.connect(NICOS_LOGIN, NICOS_PASSWORD)
        gui.new_messages()
    (job_id,) = server.add({"script": script})
    assert finished(server, job_id)["state"] == "DONE"
    folder = bluesky_ioc.data_dir / "logs" / f"job-{job_id}.plots"
    expected = [str(folder / "figure-1.png"), str(folder / "figure-2.png")]
    assert server.plots(job_id) == expected
    assert all(Path(p).read_bytes().startswith(PNG) for p in expected)
    assert server.get_text("CURRENT:PLOT") == expected[1]
    output = server.output(job_id)
    assert f"scriptserver: figure saved: {expected[0]}\nafter show\n" in output
    assert f"scriptserver: figure saved: {expected[1]}" in output
    listed = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", bluesky_ioc.prefix]
        + ["plots", str(job_id), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"id": job_id, "plots": expected}
    if sys.platform != "win32":  # --open: the desktop's viewer (a stand-in records its calls)
        viewer, opened = tmp_path / "bin", tmp_path / "opened.txt"
        viewer.mkdir()
        (viewer / "xdg-open").write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
        (viewer / "xdg-open").chmod(0o755)
        plots = [sys.executable, "-m", "scriptserver_ioc.client.cli"]
        plots += ["--prefix", bluesky_ioc.prefix, "plots", str(job_id), "--open"]

        def open_plots() -> subprocess.CompletedProcess:
            env = dict(os.environ, PATH=str(viewer))
            return subprocess.run(plots, capture_output=True, text=True, timeout=30, env=env)

        shown = open_plots()
        assert shown.returncode == 0, shown.stderr
        wait_until(lambda: opened.exists() and sorted(opened.read_text().split()) == expected)
        (viewer / "xdg-open").unlink()
        none = open_plots()
        assert none.returncode == 1
        assert f"cannot open {expected[0]}: needs `xdg-open`" in none.stdout
    if gui is not None:
        texts = []
        wait_until(
            lambda: (
                texts.extend(e[3] for e in gui.new_messages())
                or all(f"figure saved: {path}" in "".join(texts) for path in expected)
            )
        )
        gui.close()


def test_GIVEN_plan_that_raises_WHEN_run_THEN_failed_with_its_exception_and_line(
    server, tmp_path, bluesky
):
    record = tmp_path / "record.jsonl"
    (job_id,) = server.add({"script": scan_script(record, point_time=0.0, fail_at=5)})
    job = finished(server, job_id)
    assert job["state"] == "FAILED"
    error = job["error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "the sample fell off"
    assert error["line"] == 33
    assert 'raise ValueError("the sample fell off")' in error["traceback"]
    done = records(record)
    assert next(r for r in done if r.get("doc") == "stop")["exit_status"] == "fail"
    assert {"cleanup": "ran"} in done


def test_GIVEN_job_without_bluesky_WHEN_run_THEN_bluesky_is_never_imported(server, tmp_path):
    seen = tmp_path / "modules.txt"
    script = (
        "import sys\n"
        f"open({str(seen)!r}, 'w').write(repr(sorted(m for m in sys.modules if 'bluesky' in m)))\n"
    )
    (job_id,) = server.add({"script": script})
    assert finished(server, job_id)["state"] == "DONE"
    assert seen.read_text() == "[]"


def test_GIVEN_plan_in_command_file_WHEN_queued_with_arguments_THEN_run_on_the_RunEngine(
    plans, tmp_path
):
    command = plans.command("motor_scan")
    assert command["kind"] == "plan"
    assert [p["name"] for p in command["params"]] == ["start", "stop", "points", "record"]
    record = tmp_path / "positions.txt"
    (job_id,) = plans.add(f"motor_scan(1.0, 3.0, points=3, record={str(record)!r})")
    job = finished(plans, job_id)
    assert job["state"] == "DONE", job["error"]
    assert [float(x) for x in record.read_text().split()] == [1.0, 2.0, 3.0]
    assert job["message"] == "scan 3 of 3"


def test_GIVEN_no_ibex_bluesky_core_WHEN_plan_command_paused_resumed_aborted_THEN_plain_RE_obeys(
    plain_plans, tmp_path
):
    """The fallback of plan commands (#19): a plain `bluesky.RunEngine`, under the controls."""
    record = tmp_path / "record.jsonl"
    (job_id,) = plain_plans.add(f"slow_scan(points={POINTS}, record={str(record)!r})")
    wait_until(lambda: point_reached(plain_plans, 3), timeout=30)
    found = records(record)
    assert {"ibex_bluesky_core": "ModuleNotFoundError"} in found  # as if not installed
    start = next(r for r in found if r.get("doc") == "start")
    assert "rb_number" not in start["keys"]  # ibex_bluesky_core's RunEngine adds it

    # deferred PAUSE: the RunEngine pauses at its next checkpoint, STATE PAUSED after it
    assert plain_plans.put("PAUSE", 1)["ok"]
    wait_until(lambda: plain_plans.get("STATE") == STATE_PAUSED)
    at_pause = len(events_of(record))
    time.sleep(0.5)  # an observation window (10 points' time): no event comes while paused
    assert len(events_of(record)) == at_pause
    assert plain_plans.get_json("CURRENT")["state"] == "PAUSED"
    assert point_reached(plain_plans, at_pause)

    # RESUME: the same RE(...) call goes on from its checkpoint
    assert plain_plans.put("RESUME", 1)["ok"]
    wait_until(lambda: len(events_of(record)) >= at_pause + 3)
    assert plain_plans.get("STATE") == STATE_RUNNING

    # immediate PAUSE, then soft ABORT while paused: cleanup runs, the stop says abort
    assert plain_plans.put("PAUSE", 2)["ok"]
    wait_until(lambda: plain_plans.get("STATE") == STATE_PAUSED)
    assert plain_plans.put("ABORT", 1)["ok"]
    job = finished(plain_plans, job_id)
    assert job["state"] == "ABORTED" and job["error"]["type"] == "JobAborted", job["error"]
    done = records(record)
    stop = next(r for r in done if r.get("doc") == "stop")
    assert stop["exit_status"] == "abort"
    assert stop["reason"].startswith(f"aborted by {getpass.getuser()}")
    assert {"cleanup": "ran"} in done
    assert not any(r.get("doc") == "event" for r in done[done.index(stop) :])
    assert len(events_of(record)) < POINTS
    assert "RunEngineInterrupted" not in plain_plans.output(job_id)


def test_GIVEN_plan_command_WHEN_queued_with_a_bad_argument_THEN_refused_at_QUEUE_ADD(plans):
    before = plans.queue()
    reply = plans.add("motor_scan('high', 3.0)", check=False).reply
    assert not reply.ok
    assert "start" in reply.message and "float" in reply.message
    assert plans.queue() == before


def test_GIVEN_plan_with_a_block_parameter_WHEN_queued_with_its_name_THEN_the_block_is_set(
    plans, tmp_path, blocks_ioc
):
    prefix, _ = blocks_ioc
    record = tmp_path / "found.json"
    (job_id,) = plans.add(f"set_temperature('TEMP', 12.5, record={str(record)!r})")
    job = finished(plans, job_id)
    assert job["state"] == "DONE", job["error"]
    found = json.loads(record.read_text())
    assert found["block"] == "TEMP"
    assert found["rb_number"] == "1920001"  # get_run_engine() read the instrument's RB number
    assert found["data"] and set(found["data"].values()) == {12.5}
    import epics

    assert epics.caget(f"{prefix}CS:SB:TEMP:SP", timeout=5) == 12.5


DRY_SCAN = """\
from pathlib import Path

import bluesky.plan_stubs as bps
import bluesky.plans as bp
from bluesky import RunEngine
from ibex_bluesky_core.callbacks import HumanReadableFileCallback
from ophyd_async.core import init_devices
from ophyd_async.sim import SimMotor

RE = RunEngine(call_returns_result=True)
with init_devices():
    motor = SimMotor("motor")
RE.subscribe(HumanReadableFileCallback(["motor"], output_dir=Path({files!r})))


def step(detectors, step, pos_cache):
    yield from bps.one_nd_step(detectors, step, pos_cache)
    yield from bps.sleep(1.0)


RE(bp.scan([motor], motor, 0, 19, 20, per_step=step))
"""


def test_GIVEN_20_s_scan_WHEN_dry_run_THEN_its_waits_on_virtual_time_and_no_file_written(
    server, tmp_path, bluesky
):
    pytest.importorskip("ibex_bluesky_core")
    files = tmp_path / "files"
    files.mkdir()
    result = server.validate({"script": DRY_SCAN.format(files=str(files))}, dry_run=True)
    dry = result["dry_run"]
    # 20 waits of 1 s: checked on the dry run's clock (its real-time limit is 10 s; few
    # steps, as each costs real time and a loaded machine has little)
    assert dry["ok"] is True, dry
    assert 20.0 <= dry["estimate"] < 30.0
    assert sum("plan sleeps 1" in step.get("what", "") for step in dry["steps"]) >= 16
    assert list(files.iterdir()) == []  # the file writer was not run
    assert any("HumanReadableFileCallback" in note for note in dry["notes"])


HARDWARE_SCAN = """\
import os

import bluesky.plan_stubs as bps
import bluesky.plans as bp
from bluesky import RunEngine
from ophyd_async.core import init_devices
from ophyd_async.epics.core import epics_signal_rw
from ophyd_async.sim import SimMotor

RE = RunEngine(call_returns_result=True)
with init_devices():
    setpoint = epics_signal_rw(float, os.environ["MYPVPREFIX"] + "CS:SB:TEMP:SP")
    motor = SimMotor("motor", instant=False)


def step(detectors, step, pos_cache):
    yield from bps.one_nd_step(detectors, step, pos_cache)
    if {fail} and step[motor] >= 30:
        raise ValueError("the sample fell off")
    yield from bps.sleep(0.4)


RE(bps.mv(setpoint, 42.0))
RE(bp.scan([motor], motor, 0, 49, 50, per_step=step))
"""
RAISE_LINE = HARDWARE_SCAN.splitlines().index('        raise ValueError("the sample fell off")') + 1


def test_GIVEN_held_plans_writing_a_pv_WHEN_preflighted_and_validated_THEN_same_verdicts_no_write(
    plans, blocks_ioc
):
    """The issue's case: ophyd-async (aioca) writes from a held queue's pre-flight; a scan
    with a moving motor and 0.4 s waits (over 20 s) checked on virtual time, not cut off at
    the real-time limit; VALIDATE and the pre-flight agree."""
    import epics

    prefix, _ = blocks_ioc
    pv = f"{prefix}CS:SB:TEMP:SP"
    before = epics.caget(pv, timeout=5)
    assert before is not None and before != 42.0
    plans.put("QUEUE:HOLD", 1)
    passing, failing = HARDWARE_SCAN.format(fail=False), HARDWARE_SCAN.format(fail=True)
    ids = plans.add([{"script": passing}, {"script": failing}])
    settle_preflights(plans)
    checked = {job["id"]: job for job in plans.queue()}
    for job_id, source in zip(ids, (passing, failing)):
        record = checked[job_id]["preflight"]
        validated = plans.validate({"script": source}, dry_run=True)
        again = preflight_record(validated["dry_run"], checked[job_id].get("warnings"), 0)
        assert (record["verdict"], record["line"]) == (again["verdict"], again["line"]), (
            record,
            validated,
        )
        assert any(w.startswith(f"would write `{pv}`") for w in record["withheld"]), record
    ok, fails = (checked[i]["preflight"] for i in ids)
    assert ok["verdict"] in ("ok", "warnings"), ok
    assert ok["estimate"] > 50 * 0.4 + 49  # the waits, and the motor's motion (>= 1 s a mm)
    assert (fails["verdict"], fails["line"]) == ("fails", RAISE_LINE), fails
    assert "the sample fell off" in fails["message"]
    assert epics.caget(pv, timeout=5) == before

    # run for real, the same write does reach the PV (so the check above can fail)
    plans.clear()
    plans.put("QUEUE:HOLD", 0)
    (job_id,) = plans.add(
        {"script": passing.split("\n\n\ndef step")[0] + "\nRE(bps.mv(setpoint, 42.0))\n"}
    )
    assert finished(plans, job_id)["state"] == "DONE"
    assert epics.caget(pv, timeout=5) == 42.0
