"""Command-line options of the IOC, each also readable from the environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from .store import privacy

REPO_COMMANDS = Path(__file__).resolve().parent.parent / "commands"
"""The demo instrument's commands, used when no --commands is given."""


class ConfigError(Exception):
    """An option that cannot be used; the message is one line for the user."""


@dataclass
class Settings:
    """Everything the IOC is started with (see pv-interface.md, Prefix and start-up)."""

    prefix: str
    command_dirs: list[Path]
    data_dir: Path
    port: int | None = None
    acf: Path | None = None
    job_python: str = sys.executable
    prelude: Path | None = None
    allow_scripts: bool = True
    scripts_dir: Path = field(default_factory=Path)
    log_level: str = "INFO"
    warm_spare: bool = True
    fork_server: bool = True
    preflight_workers: int = 1
    preflight_wait: float = 0.5
    """Seconds a job whose turn came waits at most for its pre-flight verdict."""
    beam: dict = field(default_factory=dict)
    """Beam model of dry runs: current (µA), frame_rate (Hz), event_rate (Mevents/h), and
    current_pv/frame_rate_pv read at dry-run time; absent keys take ISIS defaults."""
    nicos_port: int | None = None
    nicos_bind: str = "127.0.0.1"
    nicos_credentials: Path | None = None
    data_group: str | None = None
    job_dir: Path | None = None
    """Working directory of job processes (default `<data-dir>/work`), never the checkout."""

    @property
    def work_dir(self) -> Path:
        """Where jobs run: `job_dir`, else `<data-dir>/work`."""
        return self.job_dir if self.job_dir is not None else self.data_dir / "work"

    @property
    def logs_dir(self) -> Path:
        """Per-job output logs."""
        return self.data_dir / "logs"

    @property
    def database(self) -> Path:
        """The SQLite database."""
        return self.data_dir / "scriptserver.sqlite"


def default_prefix() -> str:
    """`$(MYPVPREFIX)CS:SCRIPTSERVER:` (IBEX convention)."""
    return os.environ.get("MYPVPREFIX", "") + "CS:SCRIPTSERVER:"


def default_data_dir() -> Path:
    """`$ICPVARDIR/scriptserver` if ICPVARDIR is set, else `./var`."""
    var = os.environ.get("ICPVARDIR")
    return Path(var) / "scriptserver" if var else Path("var")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        """Print `scriptserver-ioc: error: ...` and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; `--help` documents every option."""
    parser = _Parser(
        prog="scriptserver-ioc",
        description="Script server IOC for ISIS instruments: queues and runs jobs over "
        "Channel Access.",
    )
    add = parser.add_argument
    add(
        "--prefix",
        default=os.environ.get("SCRIPTSERVER_PREFIX") or default_prefix(),
        help="full PV prefix [SCRIPTSERVER_PREFIX] (default $(MYPVPREFIX)CS:SCRIPTSERVER:)",
    )
    env_commands = os.environ.get("SCRIPTSERVER_COMMANDS")
    add(
        "--commands",
        action="append",
        metavar="DIR",
        help="instrument command sources, repeatable [SCRIPTSERVER_COMMANDS, "
        f"{os.pathsep!r}-separated] (default: the repository's commands/)",
    )
    add(
        "--data-dir",
        metavar="DIR",
        default=os.environ.get("SCRIPTSERVER_DATA") or None,
        help="database, job logs, runtime files [SCRIPTSERVER_DATA] "
        "(default $ICPVARDIR/scriptserver, else ./var)",
    )
    add(
        "--data-group",
        metavar="GROUP",
        default=os.environ.get("SCRIPTSERVER_DATA_GROUP") or None,
        help="group that may also read the data directory [SCRIPTSERVER_DATA_GROUP] "
        "(default: only the server's user; POSIX)",
    )
    add(
        "--port",
        type=_port,
        metavar="N",
        help="Channel Access server port (sets EPICS_CAS_SERVER_PORT; default 5064)",
    )
    add("--acf", metavar="FILE", help="EPICS access security file (default: db/scriptserver.acf)")
    add(
        "--job-python",
        metavar="EXE",
        default=sys.executable,
        help="interpreter that runs jobs, e.g. genie_python's (default: this one)",
    )
    add("--prelude", metavar="FILE", help="Python run in every job process before the job")
    add(
        "--no-scripts",
        action="store_true",
        help="refuse free Python scripts: only catalogue commands and server-side files",
    )
    add(
        "--scripts-dir",
        metavar="DIR",
        help="where 'file' jobs may come from (default <data-dir>/scripts)",
    )
    add(
        "--job-dir",
        metavar="DIR",
        default=os.environ.get("SCRIPTSERVER_JOB_DIR") or None,
        help="working directory of jobs: where relative paths in scripts go "
        "[SCRIPTSERVER_JOB_DIR] (default <data-dir>/work)",
    )
    add(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="logging level",
    )
    add(
        "--preflight-workers",
        type=_count,
        metavar="N",
        default=1,
        help="dry runs at a time checking queued jobs before their turn; 0 turns "
        "pre-flight off (default 1)",
    )
    add(
        "--preflight-wait",
        type=_seconds,
        metavar="SECONDS",
        default=0.5,
        help="when a job's turn comes before its pre-flight ended, wait at most this long "
        "for the verdict, then start it (default 0.5)",
    )
    add(
        "--beam-current",
        type=_positive,
        metavar="UA",
        help="beam current dry runs assume "
        "for waitfor_uamps, in µA (default 40, ISIS TS2; TS1 about 160)",
    )
    add(
        "--frame-rate",
        type=_positive,
        metavar="HZ",
        help="frame rate dry runs assume for waitfor_frames (default 10, TS2; TS1 40)",
    )
    add(
        "--event-rate",
        type=_positive,
        metavar="MEV_PER_H",
        help="event rate dry runs assume "
        "for waitfor_mevents, in millions of events per hour (default 100)",
    )
    add(
        "--beam-current-pv",
        metavar="PV",
        help="read the beam current from this PV at each "
        "dry run (e.g. AC:TS2:BEAM:CURR); the option or default when it cannot be read",
    )
    add("--frame-rate-pv", metavar="PV", help="read the frame rate from this PV at each dry run")
    add("--no-warm-spare", action="store_true", help=argparse.SUPPRESS)
    add(
        "--no-fork-server",
        action="store_true",
        help="start each job process from a new interpreter, not by forking a warm one "
        "(the fork server is used on POSIX only; docs/runner.md)",
    )
    add(
        "--nicos-port",
        type=_port,
        metavar="N",
        help="also serve the NICOS daemon protocol (IBEX GUI) on this TCP port, e.g. 1301 "
        "(needs the nicos extra; default off)",
    )
    add("--nicos-bind", default="127.0.0.1", metavar="ADDR", help="address of --nicos-port")
    add(
        "--nicos-credentials",
        metavar="FILE",
        help="logins of the NICOS bridge (default <data-dir>/nicos-credentials.txt)",
    )
    parser.set_defaults(env_commands=env_commands)
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} s is outside 0..3600 seconds")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 16:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..16")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 1..65535")
    return port


def parse_settings(argv: list[str] | None = None) -> Settings:
    """Parse and check the options.

    Raises:
        ConfigError: an option names something unusable (one-line message).
        SystemExit: argparse's own errors (usage + message, exit code 2).
    """
    args = build_parser().parse_args(argv)
    if args.commands:
        dirs = [Path(d) for d in args.commands]
    elif args.env_commands:
        dirs = [Path(d) for d in args.env_commands.split(os.pathsep) if d]
    else:
        dirs = [REPO_COMMANDS]
    for directory in dirs:
        if not directory.is_dir():
            raise ConfigError(f"the commands directory {directory} does not exist")
        if not os.access(directory, os.R_OK | os.X_OK):
            raise ConfigError(f"the commands directory {directory} cannot be read")
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    if not args.prefix or any(c.isspace() for c in args.prefix):
        raise ConfigError(f"the prefix {args.prefix!r} must be non-empty without spaces")
    acf = Path(args.acf) if args.acf else None
    if acf is not None and not acf.is_file():
        raise ConfigError(f"the access security file {acf} does not exist")
    prelude = Path(args.prelude) if args.prelude else None
    if prelude is not None and not prelude.is_file():
        raise ConfigError(f"the prelude file {prelude} does not exist")
    if not _runnable(args.job_python):
        raise ConfigError(f"the job interpreter {args.job_python!r} cannot be run")
    logging.getLogger().setLevel(args.log_level)
    return Settings(
        prefix=args.prefix,
        command_dirs=[d.resolve() for d in dirs],
        data_dir=data_dir.resolve(),
        port=args.port,
        acf=acf.resolve() if acf else None,
        job_python=args.job_python,
        prelude=prelude.resolve() if prelude else None,
        allow_scripts=not args.no_scripts,
        scripts_dir=(
            Path(args.scripts_dir) if args.scripts_dir else data_dir / "scripts"
        ).resolve(),
        log_level=args.log_level,
        warm_spare=not args.no_warm_spare,
        fork_server=not args.no_fork_server,
        preflight_workers=args.preflight_workers,
        preflight_wait=args.preflight_wait,
        beam={
            key: value
            for key, value in (
                ("current", args.beam_current),
                ("frame_rate", args.frame_rate),
                ("event_rate", args.event_rate),
                ("current_pv", args.beam_current_pv),
                ("frame_rate_pv", args.frame_rate_pv),
            )
            if value is not None
        },
        nicos_port=args.nicos_port,
        nicos_bind=args.nicos_bind,
        nicos_credentials=Path(args.nicos_credentials).resolve()
        if args.nicos_credentials
        else None,
        data_group=args.data_group,
        job_dir=Path(args.job_dir).resolve() if args.job_dir else None,
    )


def _runnable(exe: str) -> bool:
    import shutil

    path = Path(exe)
    if path.is_file():
        return os.access(path, os.X_OK)
    return shutil.which(exe) is not None


def prepare_data_dir(settings: Settings) -> None:
    """Create the data directory's folders and check they can be written.

    Raises:
        ConfigError: the directory cannot be created or written.
    """
    for directory in (
        settings.data_dir,
        settings.logs_dir,
        settings.scripts_dir,
        settings.work_dir,
        settings.data_dir / "runtime",
    ):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {directory}: {exc.strerror}") from None
    try:
        privacy.restrict(settings.data_dir, settings.data_group)
    except privacy.AccessError as exc:
        raise ConfigError(str(exc)) from None
    probe = settings.data_dir / ".write-test"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"the data directory {settings.data_dir} is not writable: {exc.strerror}"
        ) from None
