"""bluesky's RunEngine under the script server's controls, inside job processes.

Runs inside job processes: standard library only, Python 3.8+. Nothing here imports
bluesky: an import hook (``import_hooks``) patches ``RunEngine.__call__`` the moment the
job (or its prelude, or a command) imports ``bluesky.run_engine``, so a job that never
uses bluesky pays nothing.

A plan runs in the RunEngine's event-loop thread while the job's main thread blocks in
``RE(plan)``, where no line of the job runs, so the launcher's checkpoints never come.
While a job's main thread is inside ``RE(...)`` (an `EngineSession`), the server's
controls are the RunEngine's own:

- deferred pause: ``RE.request_pause(defer=True)`` (the plan stops at its next checkpoint);
  immediate pause: ``RE.request_pause(defer=False)`` (the RunEngine stops what it moved).
  The job reports ``paused`` once ``RE.state`` is ``paused``, and waits there;
- resume: ``RE.resume()``, inside the same ``RE(...)`` call: the script never sees
  ``RunEngineInterrupted`` for a pause, the call returns the plan's result as usual;
- soft abort: ``RE.abort(reason)``: the plan's cleanup runs, the run's stop document has
  ``exit_status`` ``abort`` and the reason, then ``JobAborted`` is raised from ``RE(...)``.

A request that arrives while the RunEngine is not yet running waits for the plan's first
message; one that arrives after the plan ended takes effect at the job's next line, as
for any job. Progress comes from the run's start document (``num_points``) and the
events of its ``primary`` stream. The user's own use of the RunEngine is untouched: a
call outside the job (the prelude), in another thread, or an interruption the user asked
for (``RE.stop()`` in a callback) behaves as in a console.
"""

from __future__ import annotations

import sys
import threading

import _protocol as protocol
import import_hooks

RUN_ENGINE_MODULE = "bluesky.run_engine"
_PATCHED = "_scriptserver_patched"
_STATE_WAIT = 0.5
"""Longest wait for a RunEngine state change (a user's own state hook may hide one)."""
_control = None
_HOOKS = {}


def install(control) -> None:
    """Put RunEngines of this job under ``control`` (a ``_control.JobControl``).

    Patches ``RunEngine`` now if bluesky is already imported, else when it is.
    """
    global _control
    _control = control
    module = sys.modules.get(RUN_ENGINE_MODULE)
    if module is not None:
        patch(module)
    else:
        _HOOKS[RUN_ENGINE_MODULE] = patch
        import_hooks.hook_imports(_HOOKS)


def patch(module) -> None:
    """Wrap ``module.RunEngine.__call__`` (idempotent)."""
    engine_class = getattr(module, "RunEngine", None)
    original = vars(engine_class).get("__call__") if isinstance(engine_class, type) else None
    if original is None or getattr(original, _PATCHED, False):
        return
    import functools

    @functools.wraps(original)
    def __call__(self, *args, **kwargs):
        control = _control
        if (
            control is None
            or not control.in_job
            or control.engine is not None
            or threading.current_thread() is not threading.main_thread()
            or not args
        ):
            return original(self, *args, **kwargs)
        session = EngineSession(self, control)
        return session.call(original, args, kwargs)

    setattr(__call__, _PATCHED, True)
    engine_class.__call__ = __call__


class EngineSession:
    """One ``RE(plan)`` call of the job's main thread, under the server's controls.

    Threading: ``call`` runs in the job's main thread; ``forward_pause``/``forward_abort``
    are called from the channel's receiver thread and act from a short-lived thread (the
    RunEngine's methods block until its loop has taken them); the plan wrapper and the
    document callback run in the RunEngine's loop thread.
    """

    def __init__(self, engine, control) -> None:
        self.engine = engine
        self.control = control
        self.thread = threading.current_thread()
        self._lock = threading.Lock()  # one of: the main thread's decision, a forwarding
        self._cond = threading.Condition()
        self._phase = "starting"  # -> running -> paused -> running ... -> ended
        self._abort_reason = None
        self._unwanted_pause = False  # a pause asked of the RunEngine, then cancelled
        self._progress = RunProgress(control.link)

    # -- the job's main thread ----------------------------------------------------------

    def call(self, original, args, kwargs):
        """Run ``original(engine, plan, ...)``; pause, resume and abort inside it."""
        engine, control = self.engine, self.control
        interrupted = _run_engine_interrupted()
        token = engine.subscribe(self._progress)
        hook = engine.state_hook
        engine.state_hook = ours = self._state_hook(hook)
        args = (_observed(_as_generator(args[0]), self), *args[1:])
        control.engine_entered(self)
        try:
            try:
                return original(engine, *args, **kwargs)
            except interrupted as exc:
                caught = exc
            while True:
                with self._lock:
                    paused = not control.aborting and engine.state == "paused"
                    if paused:
                        self._set_phase("paused")
                if paused and self._unwanted_pause:
                    self._unwanted_pause, abort = False, False
                else:
                    abort = control.wait_while_paused() if paused else control.aborting
                if not abort:
                    if not paused:  # the user's own stop() or halt(): theirs to handle
                        raise caught
                    self._set_phase("running")
                    try:
                        return engine.resume()
                    except interrupted as exc:
                        caught = exc
                    continue
                with self._lock:
                    if engine.state == "paused":
                        self._abort_reason = control.abort_reason
                        engine.abort(control.abort_reason)
                control.raise_if_aborted()
                raise caught
        finally:
            self._set_phase("ended")
            control.engine_left(self)
            if engine.state_hook is ours:
                engine.state_hook = hook
            try:
                engine.unsubscribe(token)
            except Exception:  # the user cleared the subscriptions meanwhile
                pass

    # -- from the server (receiver thread) -----------------------------------------------

    def forward_pause(self, defer: bool) -> None:
        """``RE.request_pause(defer)`` as soon as the plan runs (not after it ended)."""
        self._unwanted_pause = False
        self._forward(lambda: self.engine.request_pause(defer))

    def cancel_pause(self) -> None:
        """RESUME before the RunEngine paused: if it pauses, it resumes at once."""
        self._unwanted_pause = True

    def forward_abort(self, reason: str) -> None:
        """``RE.abort(reason)`` while the plan runs (when paused the main thread does it)."""
        self._abort_reason = reason
        self._forward(lambda: self.engine.abort(reason))

    def _forward(self, action) -> None:
        def run():
            with self._cond:  # not before the plan runs, nor while a resume starts
                while self._phase == "starting" or (
                    self._phase == "running" and self.engine.state == "paused"
                ):
                    self._cond.wait(_STATE_WAIT)
            with self._lock:
                if self._phase != "running":
                    return  # paused: the main thread acts; ended: the job's next line
                try:
                    action()
                except Exception as exc:  # e.g. it has just ended (TransitionError)
                    sys.stderr.write(f"scriptserver: the RunEngine refused: {exc}\n")

        threading.Thread(target=run, name="scriptserver-engine-control", daemon=True).start()

    # -- the RunEngine's loop thread -----------------------------------------------------

    def _set_phase(self, phase: str) -> None:
        with self._cond:
            if self._phase != "ended":
                self._phase = phase
            self._cond.notify_all()

    def _state_hook(self, users_hook):
        """``RE.state_hook`` for the call: wakes the forwarders, then calls the user's."""

        def state_changed(new, old):
            with self._cond:
                self._cond.notify_all()
            if users_hook is not None:
                users_hook(new, old)

        return state_changed


def _as_generator(plan):
    utils = sys.modules.get("bluesky.utils")
    return utils.ensure_generator(plan) if utils is not None else iter(plan)


def _observed(plan, session: EngineSession):
    """The plan as the RunEngine sees it (a generator, so ``throw`` reaches the plan).

    Its first step tells the session the plan runs; an aborting ``close_run`` without a
    reason gets the abort's reason.
    """
    session._set_phase("running")
    reply, error = None, None
    while True:
        try:
            msg = plan.send(reply) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value
        reason = session._abort_reason
        if reason and getattr(msg, "command", None) == "close_run":
            kwargs = msg.kwargs
            if kwargs.get("exit_status") == "abort" and not kwargs.get("reason"):
                msg = msg._replace(kwargs=dict(kwargs, reason=reason))
        reply, error = None, None
        try:
            reply = yield msg
        except GeneratorExit:
            plan.close()
            raise
        except BaseException as exc:  # the RunEngine throws into the plan: pass it on
            error = exc


class RunProgress:
    """Document callback: the job's progress from the runs' points (``scan 12 of 50``)."""

    def __init__(self, link) -> None:
        self.link = link
        self.name = "plan"
        self.points = None
        self.seen = 0
        self.primary = set()

    def __call__(self, name, doc) -> None:
        if name == "start":
            self.name = str(doc.get("plan_name") or "plan")
            points = doc.get("num_points")
            self.points = points if isinstance(points, int) and points > 0 else None
            self.seen = 0
            self.primary.clear()
            self._report()
        elif name == "descriptor" and doc.get("name") == "primary":
            self.primary.add(doc.get("uid"))
        elif name == "event" and doc.get("descriptor") in self.primary:
            self.seen += 1
            self._report()
        elif name == "event_page" and doc.get("descriptor") in self.primary:
            self.seen += len(doc.get("seq_num") or ())
            self._report()

    def _report(self) -> None:
        if self.points:
            text = f"{self.name} {self.seen} of {self.points}"
            self.link.set_progress(min(100.0, 100.0 * self.seen / self.points), text, "job")
        else:
            self.link.set_message(f"{self.name} point {self.seen}")


def _run_engine_interrupted():
    utils = sys.modules.get("bluesky.utils")
    return getattr(utils, "RunEngineInterrupted", ()) or ()


def engine_message(active: bool) -> dict:
    """The channel message telling the runner a RunEngine call began or ended."""
    return {"type": protocol.ENGINE, "active": active}
