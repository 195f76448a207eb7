"""The IBEX GUI's own Java classes, unmodified, against the bridge (optional).

Our drivers in `ibex_gui/` run ibex_gui's `NicosModel` with its `ZMQSession`, `ZMQWrapper`
and message classes (the model polls every second through its Eclipse job, as in the GUI)
and, with Java 22 or later, the view models behind the GUI's panes and buttons
(`ScriptStatusViewModel`, `QueueScriptViewModel`, `OutputLogViewModel`) and dynamic
scripting's `DynamicScriptingNicosAdapter`; the tests check what they show over Channel
Access.

This project holds no ibex_gui code: the test compiles the GUI's classes at run time from
an ibex_gui checkout named by `IBEX_GUI_SRC`, against the libraries in
`IBEX_GUI_CLASSPATH` (JeroMQ 0.6.0, Gson, ...; docs/nicos.md lists them), with the `javac`
and `java` of `JAVA_HOME` (else of `PATH`). Without any of them it is skipped, saying
which is missing: CI has none of them.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import warnings
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("zmq")

from scriptserver_ioc.client.client import ScriptServerClient  # noqa: E402
from scriptserver_ioc.nicos.client import PAUSE_TEXT, RESUME_TEXT  # noqa: E402

HERE = ROOT / "system_tests" / "ibex_gui"
LIBRARIES = os.environ.get("IBEX_GUI_CLASSPATH", "")
CHECKOUT = Path(os.environ.get("IBEX_GUI_SRC", "") or "/nonexistent")

# The GUI's plug-ins (directories under `base/`) whose sources javac reads: it compiles
# only the classes our drivers use and those they need. The GUI's logger (an Eclipse UI
# plug-in) is replaced by ibex_gui/IsisLog.java, named on the command line, so it wins.
PLUGINS = ["nicos", "epics", "model", "instrument", "logger", "ui.nicos", "scriptgenerator", "ui"]
MODEL = "uk.ac.stfc.isis.ibex.nicos/src/uk/ac/stfc/isis/ibex/nicos/NicosModel.java"
VIEWS = "uk.ac.stfc.isis.ibex.ui.nicos/src/uk/ac/stfc/isis/ibex/ui/nicos/models/"
STATUS_VIEW = VIEWS + "ScriptStatusViewModel.java"
VIEW = VIEWS + "OutputLogViewModel.java"


def _tool(name: str) -> str | None:
    home = os.environ.get("JAVA_HOME")
    return shutil.which(name, path=str(Path(home) / "bin") if home else None)


def _java_version() -> int:
    """The major version of javac (0 if it cannot say)."""
    said = subprocess.run([_tool("javac"), "-version"], capture_output=True, text=True, timeout=60)
    found = re.search(r"javac (\d+)", said.stdout + said.stderr)
    return int(found.group(1)) if found else 0


def _missing() -> str | None:
    """Why the test cannot run here, or None."""
    if not _tool("javac") or not _tool("java"):
        return "no javac/java (JAVA_HOME or PATH)"
    if not os.environ.get("IBEX_GUI_SRC"):
        return "IBEX_GUI_SRC (an ibex_gui checkout) not set"
    if not (CHECKOUT / "base" / MODEL).exists():
        return f"IBEX_GUI_SRC={CHECKOUT} has no base/{MODEL}"
    if not LIBRARIES:
        return "IBEX_GUI_CLASSPATH (JeroMQ 0.6.0, Gson, ...; docs/nicos.md) not set"
    return None


pytestmark = pytest.mark.skipif(
    _missing() is not None, reason=f"the IBEX GUI's Java classes: {_missing()}"
)


def compile_gui(classes: Path, *drivers: str) -> None:
    """Our drivers and the GUI's classes they use, unmodified, into `classes`.

    Skips if the GUI's status view model cannot compile for want of JFace or the Eclipse
    core runtime (only it needs them).
    """
    base = CHECKOUT / "base"
    sources = os.pathsep.join(str(base / f"uk.ac.stfc.isis.ibex.{p}" / "src") for p in PLUGINS)
    ours = [str(HERE / name) for name in ("IsisLog.java", *drivers)]
    built = subprocess.run(
        [_tool("javac"), "-nowarn", "-encoding", "UTF-8", "-d", str(classes)]
        + ["-sourcepath", sources, "-cp", LIBRARIES, *ours],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if re.search(r"package org\.eclipse\.(jface\.resource|core\.runtime) does not", built.stderr):
        pytest.skip("IBEX_GUI_CLASSPATH lacks JFace or Eclipse core runtime (docs/nicos.md)")
    assert built.returncode == 0, built.stderr[-5000:]


def java(
    classes: Path, main: str, *args: str, timeout: float, env: dict | None = None
) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(classes), LIBRARIES])
    return subprocess.run(
        [_tool("java"), "-cp", path, main, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def start_bridge(start_ioc, classes: Path, data: Path):
    """An IOC whose bridge accepts the GUI's login; returns it and the bridge's port."""
    # the GUI's fixed login, read from its own Login class (this project does not hold it)
    said = java(classes, "GuiSession", "login", timeout=60)
    login = json.loads(said.stdout)[0]
    data.mkdir()
    (data / "nicos-credentials.txt").write_text(f"{login['login']}:plain:{login['passwd']}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return start_ioc(["--nicos-port", str(port)], data_dir=data), port


def observations(run: subprocess.CompletedProcess) -> dict:
    """What the driver printed, by name; the run must have succeeded."""
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    said = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    seen = {entry["what"]: entry["value"] for entry in said}
    if seen["connection lost"]:  # a reply later than 500 ms: the GUI connects again in 10 s
        lost = seen["connection lost"]
        warnings.warn(f"the GUI's model lost the bridge {lost} time(s)", stacklevel=2)
    return seen


def test_GIVEN_ibex_gui_model_WHEN_script_fails_and_resumed_THEN_as_the_gui_shows_it(
    start_ioc, tmp_path
):
    classes = tmp_path / "classes"
    compile_gui(classes, "GuiSession.java")
    ioc, port = start_bridge(start_ioc, classes, tmp_path / "data")

    seen = observations(java(classes, "GuiSession", "run", str(port), timeout=600))
    assert seen["connected"]["error"] == "NO_ERROR" and seen["connected"]["status"] == "IDLE"
    # after the failure: paused (Resume enabled in the GUI), the next script waiting
    assert seen["held"]["status"] == "INBREAK" and seen["held"]["name"] == "fails"
    assert seen["held"]["queued"] == ["after"]
    assert seen["resumed"]["status"] == "IDLE" and seen["resumed"]["name"] == "after"
    assert seen["refused"]["error"] == "SCRIPT_SEND_FAIL"  # "Failed to send script"

    stamps = [int(line.split("\t", 1)[0]) for line in seen["shown"]]
    assert stamps == sorted(set(stamps))  # each newer than the last shown, none dropped
    # the output pane's lines without their "HH:mm:ss " (a message may hold several lines)
    text = "".join(line.split("\t", 1)[1][9:] for line in seen["shown"])
    lines = text.splitlines()

    def at(pattern: str) -> int:
        return next(i for i, line in enumerate(lines) if re.fullmatch(pattern, line))

    history = ScriptServerClient(ioc.prefix).history()
    ids = {job["name"]: job["id"] for job in history}
    assert [job["state"] for job in history] == ["DONE", "DONE", "FAILED"]
    assert at("about to fail") < at(f"job {ids['fails']} FAILED: ValueError: 3")
    assert at(f"job {ids['fails']} FAILED.*") < at(r"Queue held after job \d+ ended FAILED: .*")
    assert at("the next script ran") < at(f"job {ids['after']} DONE")
    assert at(r"Script 'broken' was not queued: .*line 1.*") > at(f"job {ids['after']} DONE")
    assert at("quick first") < at("quick last") < at(f"job {ids['quick']} DONE")
    assert at("Error sending break command: no script is running") > at(f"job {ids['quick']} DONE")


def test_GIVEN_ibex_gui_view_models_WHEN_buttons_pressed_THEN_queue_and_jobs_follow_over_ca(
    start_ioc, tmp_path
):
    if _java_version() < 22:
        pytest.skip("the GUI's view models need Java 22 or later (set JAVA_HOME to one)")
    if not (CHECKOUT / "base" / VIEW).exists():
        pytest.skip(f"IBEX_GUI_SRC={CHECKOUT} has no base/{VIEW}")
    classes = tmp_path / "classes"
    compile_gui(classes, "GuiSession.java", "GuiViews.java")
    ioc, port = start_bridge(start_ioc, classes, tmp_path / "data")

    seen = observations(java(classes, "GuiViews", str(port), timeout=600))
    # the queue pane's buttons for the last and the first script, as the GUI enables them
    assert seen["last selected"] == {"up": True, "down": False, "dequeue": True, "update": True}
    assert seen["first selected"] == {"up": False, "down": True, "dequeue": True, "update": True}
    assert seen["queue"] == ["three", "two"]
    assert seen["edited"] == "print('two, edited')\n"  # as the bridge reports it back
    assert seen["stopped"]["queued"] == [] and seen["stopped"]["name"] == "long"
    assert seen["finished"][-1] == "quick action"

    ca = ScriptServerClient(ioc.prefix)
    assert ca.queue() == []
    history = {job["name"]: job for job in ca.history()}
    assert history["long"]["state"] == "ABORTED"
    assert history["quick action"]["state"] == "DONE"
    # Stop emptied the queue as NICOS does: the reordered and edited scripts never ran
    assert not {"one", "two", "three"} & set(history)


@pytest.fixture
def display():
    """An X display for SWT: $DISPLAY if set, else a private Xvfb; skips without either."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.skip("the GUI's status view model needs a display: no DISPLAY and no Xvfb")
    read, write = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
        pass_fds=[write],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as said:  # Xvfb writes its display number once it is ready
            ready, _, _ = select.select([said], [], [], 60)
            number = said.readline().strip() if ready else ""
        assert number, "Xvfb did not start within 60 s"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_GIVEN_ibex_gui_status_view_WHEN_its_buttons_pressed_THEN_shown_as_in_nicos(
    start_ioc, tmp_path, display
):
    if _java_version() < 22:
        pytest.skip("the GUI's view models need Java 22 or later (set JAVA_HOME to one)")
    if not (CHECKOUT / "base" / STATUS_VIEW).exists():
        pytest.skip(f"IBEX_GUI_SRC={CHECKOUT} has no base/{STATUS_VIEW}")
    classes = tmp_path / "classes"
    compile_gui(classes, "GuiSession.java", "GuiButtons.java")
    ioc, port = start_bridge(start_ioc, classes, tmp_path / "data")

    on_display = {**os.environ, "DISPLAY": display}
    run = java(classes, "GuiButtons", str(port), timeout=600, env=on_display)
    if "Could not load SWT library" in run.stderr:
        pytest.skip("SWT's native library not found: set JAVA_TOOL_OPTIONS (docs/nicos.md)")
    seen = observations(run)
    # what the status pane shows and enables, pressed through the GUI's own view model
    assert seen["idle"] == {
        "readback": "Queue status: Idle",
        "info": "Execution finished (Idle) : ",
        "enabled": False,
        "toggle": PAUSE_TEXT,
    }
    assert seen["held after a failure"] == {
        "readback": "Queue status: Paused",
        "info": "Execution finished (Paused) : fails",
        "enabled": True,  # Resume and Stop: the GUI user can go on
        "toggle": RESUME_TEXT,
    }
    assert seen["resumed"]["info"] == "Execution finished (Idle) : after"
    assert seen["running"]["enabled"] and seen["running"]["toggle"] == PAUSE_TEXT
    assert re.fullmatch(r"Executing line \d+ \(Running\) : long", seen["running"]["info"])
    assert seen["paused"]["enabled"] and seen["paused"]["toggle"] == RESUME_TEXT
    assert re.fullmatch(r"Executing line \d+ \(Paused\) : long", seen["paused"]["info"])
    assert seen["running again"]["readback"] == "Queue status: Running"
    assert seen["stopped"]["readback"] == "Queue status: Idle" and not seen["stopped"]["enabled"]

    ca = ScriptServerClient(ioc.prefix)
    assert [(job["name"], job["state"]) for job in ca.history()] == [
        ("long", "ABORTED"),
        ("after", "DONE"),
        ("fails", "FAILED"),
    ]
    assert ca.queue() == [] and ca.get("QUEUE:HOLD") == 0
