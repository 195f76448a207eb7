"""Simulated beamline shared by the demo instrument's commands (not a command file).

Files whose name starts with `_` are not read by the catalogue, so this module can hold
helpers. The beamline state (chopper, sample environment, DAE) is kept in a small JSON file
so it survives from one job process to the next, as a real beamline's state would:
`$SCRIPTSERVER_DEMO_STATE` if set, else `<tempdir>/scriptserver-demo-beamline.json`.
During a dry run (`scriptserver.simulating()`) the file is read once and never written: the
dry run works on its own copy, starting with no run in progress (a pre-flight checks a job
for its turn, when the job before it has ended).

The job API (`progress`, `message`, `pause_point`, `sleep`, `simulating`, `beam_wait`) is
used when the `scriptserver` module is importable (inside a script-server job) and falls back
to plain Python otherwise, so the commands also work from a genie_python console.
"""

import json
import os
import tempfile
import time

try:
    import scriptserver as _api
except ImportError:  # not running inside a script-server job
    _api = None

_DEFAULT_STATE = {
    "ei": None,
    "chopper_frequency": 0.0,
    "temperature": 300.0,
    "temperature_setpoint": 300.0,
    "field": 0.0,
    "field_direction": "VERTICAL",
    "sample_position": 1,
    "sample_name": "",
    "sample_thickness": 1.0,
    "run_state": "SETUP",
    "run_number": 1000,
    "run_title": "",
    "run_started": None,
    "uamps": 0.0,
    "motors": {},
}


def state_path():
    """Where the simulated beamline state is kept."""
    default = os.path.join(tempfile.gettempdir(), "scriptserver-demo-beamline.json")
    return os.environ.get("SCRIPTSERVER_DEMO_STATE", default)


_dry_run_state = None


def load_state():
    """The simulated beamline state (defaults for anything not yet set)."""
    global _dry_run_state
    if simulating():
        if _dry_run_state is None:
            _dry_run_state = _read_state()
            _dry_run_state.update(run_state="SETUP", run_started=None, uamps=0.0)
        return json.loads(json.dumps(_dry_run_state))
    return _read_state()


def _read_state():
    state = dict(_DEFAULT_STATE)
    state["motors"] = {}
    try:
        with open(state_path(), encoding="utf-8") as f:
            state.update(json.load(f))
    except (OSError, ValueError):
        pass
    return state


def save_state(state):
    """Store the state atomically; in a dry run, only in the dry run's own copy."""
    global _dry_run_state
    if simulating():
        _dry_run_state = json.loads(json.dumps(state))
        return
    path = state_path()
    tmp = f"{path}.{os.getpid()}.tmp"  # jobs of several servers may write at once
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def update_state(**changes):
    """Load the state, apply `changes`, save it and return it."""
    state = load_state()
    state.update(changes)
    save_state(state)
    return state


def progress(percent, message=""):
    """Report progress to the script server (no-op outside a job)."""
    if _api is not None:
        _api.progress(percent, message)


def message(text):
    """Report a progress message to the script server, else print it."""
    if _api is not None:
        _api.message(text)
    else:
        print(text)


def pause_point():
    """Let a deferred pause or a soft abort take effect here (no-op outside a job)."""
    if _api is not None:
        _api.pause_point()


def sleep(seconds):
    """Sleep that the script server can pause, abort, and skip in a dry run."""
    if _api is not None:
        _api.sleep(seconds)
    else:
        time.sleep(seconds)


def beam_wait(uamps=None):
    """In a dry run, count a wait for `uamps` by the server's beam model; else nothing.

    The demo DAE is this module's own, so its waits tell the dry run what they wait for
    (`scriptserver.beam_wait`); genie_python's waits are modelled without this.
    """
    if _api is not None and hasattr(_api, "beam_wait"):
        return _api.beam_wait(uamps=uamps)
    return 0.0


def simulating():
    """True during a dry run."""
    return _api is not None and bool(_api.simulating())


def wait_with_pause_points(seconds, step=0.1):
    """Wait `seconds` in short steps with a pause point between them (instant in a dry run)."""
    if simulating():
        sleep(seconds)
        return
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        pause_point()
        sleep(min(step, left))


def usercommand(func):
    """Mark a function as a user command (same effect as genie_python's decorator)."""
    func.is_usercommand = True
    func.is_hidden = False
    return func


def helparglist(args):
    """Give a function the argument list shown in help (as genie_python's decorator)."""

    def decorate(func):
        func.help_arglist = args
        return func

    return decorate
