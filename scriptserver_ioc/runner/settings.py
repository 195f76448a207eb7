"""Settings of the job runner, and the per-server secret of the job-control channel."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..contract import limits

log = logging.getLogger(__name__)

SECRET_FILE = "secret"


@dataclass(kw_only=True)
class RunnerSettings:
    """How job processes are started and controlled.

    Attributes:
        job_python: the interpreter of job processes (any CPython 3.8+, e.g. genie_python's).
        data_dir: the server's data directory; the runner keeps ``runtime/`` in it (channel
            address, secret, warm spares' start-up output).
        prelude: a Python file executed in each job's namespace before the job, or None.
        command_dirs: directories of command sources, put on the job's ``sys.path``.
        warm_spare: keep one process started (interpreter, prelude, imports) for the next
            job; each process still runs one job only.
        fork_server: fork job processes (spares and cold starts) from a warm fork server
            that has imported ahead what they need (POSIX); None: wherever available,
            False: start each from a new interpreter.
        abort_grace: seconds a soft abort waits for the job to unwind before terminating
            the process tree (SIGTERM).
        terminate_grace: seconds from SIGTERM to SIGKILL when the tree does not end.
        done_grace: seconds a process may linger after reporting its result (atexit
            handlers, stray threads) before its tree is killed.
        output_tail_bytes: size of the log tail sent in ``output`` events.
        output_interval: seconds between two looks at the log file (``output`` rate).
        line_interval: minimum seconds between two line/progress reports of a job.
        secret: the channel secret; None to load or create ``data_dir/runtime/secret``.
        channel_port: TCP port of the channel on 127.0.0.1 (0: any free port).
        trace_mode: ``"sampled"`` (lines sampled, traced only while a pause, abort
            or edit waits), ``"monitoring"`` or ``"settrace"`` (every line traced), or None
            (the cheapest the job's Python offers).
        env: extra environment variables for job processes.
        cwd: working directory of job processes (None: the server's).
    """

    job_python: str
    data_dir: Path
    prelude: Path | None = None
    command_dirs: list[Path] = field(default_factory=list)
    warm_spare: bool = True
    fork_server: bool | None = None
    abort_grace: float = 10.0
    terminate_grace: float = 2.0
    done_grace: float = 5.0
    output_tail_bytes: int = limits.OUTPUT_TAIL_BYTES
    output_interval: float = 0.2
    line_interval: float = 0.02
    secret: str | None = None
    channel_port: int = 0
    trace_mode: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.job_python, str) or not self.job_python.strip():
            raise ValueError("job_python must name a Python interpreter, e.g. 'python3'")
        self.data_dir = Path(self.data_dir)
        self.prelude = Path(self.prelude) if self.prelude is not None else None
        self.command_dirs = [Path(d) for d in self.command_dirs]
        self.cwd = Path(self.cwd) if self.cwd is not None else None
        for name in ("abort_grace", "terminate_grace", "done_grace", "line_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if not isinstance(self.output_interval, (int, float)) or self.output_interval <= 0:
            raise ValueError(f"output_interval must be > 0 seconds, got {self.output_interval!r}")
        if not isinstance(self.output_tail_bytes, int) or self.output_tail_bytes < 1:
            raise ValueError(
                f"output_tail_bytes must be a positive integer, got {self.output_tail_bytes!r}"
            )
        if self.trace_mode not in (None, "sampled", "monitoring", "settrace"):
            raise ValueError(
                "trace_mode must be 'sampled', 'monitoring', 'settrace' or None, got "
                f"{self.trace_mode!r}"
            )
        if not isinstance(self.channel_port, int) or not 0 <= self.channel_port <= 65535:
            raise ValueError(f"channel_port must be 0..65535, got {self.channel_port!r}")

    @property
    def runtime_dir(self) -> Path:
        """``data_dir/runtime``: channel address, secret, spare start-up logs."""
        return self.data_dir / "runtime"


def load_secret(runtime_dir: Path, configured: str | None) -> str:
    """The channel secret: configured, else persisted in ``runtime/secret``, else new.

    The secret is (re)written to ``runtime/secret`` with mode 0600: job processes read it
    there, and a restarted server reuses it so that running jobs can reconnect.
    """
    runtime_dir.mkdir(parents=True, exist_ok=True)
    path = runtime_dir / SECRET_FILE
    secret = configured
    if secret is None:
        try:
            secret = path.read_text(encoding="ascii").strip() or None
        except (OSError, UnicodeDecodeError):
            secret = None
    if secret is None:
        secret = secrets.token_hex(32)
        log.info("created a new job-channel secret in %s", path)
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise ValueError("the channel secret must be printable text without whitespace")
    _write_private(path, secret)
    return secret


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (atomically)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
