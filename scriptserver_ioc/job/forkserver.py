"""A warm process that forks a job process per request (POSIX): ``python forkserver.py ...``.

Runs as a process of its own: standard library only, Python 3.8+, nothing imported from
the rest of the package (its directory is put on ``sys.path`` by running it as a script).

The runner starts one fork server per command set. It imports, once, what every job
process needs before its job: the launcher and its helpers, what the launcher imports
ahead of a job (``launcher.warm_up``), and the third-party modules the command files and
the prelude import (found by reading their ``import`` statements, never by importing the
command files themselves, whose import may talk to the instrument). Then, for each request
on stdin, it forks: the child starts its own session, points its output at the given log
and becomes a launcher process exactly as one started by the interpreter (a warm spare,
or a job given ``--job-id``), so a job process costs a fork instead of an interpreter
start and its imports.

Forking is safe only in a process with one thread: the server creates none, and after
each import it checks that the process still has one (``/proc/self/task`` on Linux). An
import that started a thread (a Channel Access context, a BLAS pool) makes the server
start over without it (``os.execv`` with ``--exclude``); such a module is imported by each
job process as usual.

Protocol: JSON lines. Requests on stdin: ``{"type": "fork", "id": N, "args": [launcher
options], "log": path, "umask": int or null}``. Replies on stdout: ``{"type": "ready",
"pid", "imported", "excluded"}`` once, then ``{"type": "forked", "id", "pid"}`` or
``{"type": "fork_failed", "id", "error"}`` per request, and ``{"type": "exited", "pid",
"status"}`` when a child ends (status: exit code, or minus the signal number). The server
exits when stdin closes (its runner is gone); its children, each in its own session, live
on.
"""

from __future__ import annotations

import ast
import gc
import json
import os
import select
import signal
import sys

try:  # the server imports the package; the fork server has this directory on sys.path
    from . import _protocol as protocol
except ImportError:
    import _protocol as protocol

JOB_DIR = os.path.dirname(os.path.abspath(__file__))
MAX_REQUEST = 1 << 20


def module_imports(path):
    """Top-level names of the modules a Python file imports (absolute imports only)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def dependencies(command_dirs, prelude):
    """Modules the command files and the prelude import, except the command modules.

    Sorted, so that every start imports them in the same order.
    """
    local = set()
    files = []
    for directory in command_dirs:
        for root, dirs, names in os.walk(directory):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            if root == directory:
                local.update(d for d in dirs)
            for name in names:
                if name.endswith(".py"):
                    files.append(os.path.join(root, name))
                    if root == directory:
                        local.add(name[:-3])
    if prelude:
        files.append(prelude)
    found = set()
    for path in files:
        for name in module_imports(path):
            if name.split(".")[0] not in local and name != "__future__":
                found.add(name)
    return sorted(found)


def thread_count():
    """Threads of this process: the kernel's count where it tells, else Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def warm(modules, excluded):
    """Import ``modules`` except ``excluded``; restart without one that starts a thread.

    Returns the names imported.
    """
    imported = []
    for name in modules:
        if name in excluded:
            continue
        try:
            __import__(name)
        except BaseException:  # a module the job processes will import (and fail) themselves
            continue
        if thread_count() > 1:  # forking now would copy a process with threads: start over
            os.execv(sys.executable, [sys.executable, *sys.argv, "--exclude", name])
        imported.append(name)
    return imported


def parse_args(argv):
    """``--command-dir DIR`` (repeatable), ``--prelude PATH``, ``--exclude MODULE``."""
    options = {"command_dirs": [], "prelude": None, "exclude": []}
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag not in ("--command-dir", "--prelude", "--exclude") or not args:
            raise SystemExit(f"forkserver: unknown option or missing value: {flag}")
        value = args.pop(0)
        if flag == "--prelude":
            options["prelude"] = value
        else:
            key = "command_dirs" if flag == "--command-dir" else "exclude"
            options[key].append(value)
    return options


class ForkServer:
    """The request loop (one thread: the process's only one)."""

    def __init__(self, launcher):
        self.launcher = launcher
        self.children = set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the select
        self._buffer = b""

    def reply(self, message):
        """Write one reply line to stdout (the runner reads it)."""
        data = (json.dumps(message) + "\n").encode("ascii")
        while data:
            written = os.write(1, data)
            data = data[written:]

    def serve(self):
        """Fork per request until stdin closes; report each child's end."""
        while True:
            try:
                readable, _, _ = select.select([0, self._wake_r], [], [], 1.0)
            except InterruptedError:
                readable = []
            self._reap()
            if self._wake_r in readable:
                try:
                    os.read(self._wake_r, 4096)
                except OSError:
                    pass
            if 0 in readable:
                chunk = os.read(0, 65536)
                if not chunk:
                    return  # the runner is gone; the children live on
                self._buffer += chunk
                while b"\n" in self._buffer:
                    line, self._buffer = self._buffer.split(b"\n", 1)
                    self._request(line)
                if len(self._buffer) > MAX_REQUEST:
                    self._buffer = b""

    def _request(self, line):
        try:
            request = json.loads(line.decode("utf-8"))
            number, args, log = request["id"], list(request["args"]), request["log"]
        except (ValueError, KeyError, TypeError):
            return
        if request.get("type") != protocol.FORK:
            return
        try:
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            self.reply({"type": protocol.FORK_FAILED, "id": number, "error": str(exc)})
            return
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(out)
            self.reply({"type": protocol.FORK_FAILED, "id": number, "error": str(exc)})
            return
        if pid == 0:
            self._child(out, args, request.get("umask"))  # never returns
        os.close(out)
        self.children.add(pid)
        self.reply({"type": protocol.FORKED, "id": number, "pid": pid})

    def _child(self, out, args, umask):
        """In the new process: its own session, its output, then the launcher's life."""
        code = 70
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
            if umask is not None:
                os.umask(umask)
            sys.argv = [os.path.join(JOB_DIR, "launcher.py"), *args]
            self.launcher.main(args)  # exits the process with the job's code
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:
            import traceback

            traceback.print_exc()
        os._exit(code)

    def _reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            self.reply({"type": protocol.EXITED, "pid": pid, "status": code})


def main():
    """Import ahead, say ``ready``, then serve fork requests."""
    options = parse_args(sys.argv[1:])
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != JOB_DIR]
    sys.path.insert(0, JOB_DIR)
    import launcher  # the launcher's helpers too; it forgets their names itself

    for name in ("launcher", "forkserver"):
        sys.modules.pop(name, None)  # never shadow a user's module of the same name
    sys.path.remove(JOB_DIR)
    launcher.warm_up(None)
    sys.path[:0] = [d for d in options["command_dirs"] if d not in sys.path]
    imported = warm(dependencies(options["command_dirs"], options["prelude"]), options["exclude"])
    for directory in options["command_dirs"]:  # the launcher puts them in place itself
        if directory in sys.path:
            sys.path.remove(directory)
    # What is imported now is shared with every child until written to: frozen, the
    # children's collections never visit it (each visit would copy its memory page).
    gc.collect()
    gc.freeze()
    server = ForkServer(launcher)
    server.reply(
        {
            "type": protocol.READY,
            "pid": os.getpid(),
            "imported": imported,
            "excluded": options["exclude"],
        }
    )
    server.serve()


if __name__ == "__main__":
    main()
