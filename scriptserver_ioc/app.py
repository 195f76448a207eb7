"""The application object: every part of one script server, built in order, closed once.

`Application.open(settings)` locks the data directory, opens the store and builds the
catalogue, the companion checker, the validator, the core's worker (slow parts of control
writes), the core, the job runner, the catalogue watcher and the pre-flight worker; no
Channel Access yet (the IOC layer, `ioc/server.py`, adds it). `close()` stops them in
reverse order: the pre-flight worker, the watcher, the runner (a running job keeps running,
for the next start to adopt; the warm spare is killed), the core (it refuses further
changes), its worker, the checker, the store, and last the data-directory lock. A failure
while opening closes what was already opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import ConfigError, Settings, prepare_data_dir
from .datadir_lock import DataDirInUse, DataDirLock

if TYPE_CHECKING:
    from .catalogue import Catalogue, CatalogueWatcher
    from .core.server import ScriptServer
    from .host import SerialWorker
    from .runner import JobRunner
    from .store.sqlite import Store
    from .validate.companions import CompanionRunner
    from .validate.preflight import PreflightWorker
    from .validate.validator import Validator

log = logging.getLogger(__name__)


@dataclass
class Application:
    """A script server's parts (see docs/design.md for who calls whom).

    Threading: `open` and `close` are called by the thread that runs the server; each part
    documents its own locking.
    """

    settings: Settings
    lock: DataDirLock
    store: Store
    catalogue: Catalogue
    companions: CompanionRunner
    validator: Validator
    worker: SerialWorker
    core: ScriptServer
    runner: JobRunner
    watcher: CatalogueWatcher
    preflight: PreflightWorker
    _closers: list[tuple[str, Callable[[], None]]] = field(default_factory=list, repr=False)
    nicos: Any = None
    """The NICOS protocol bridge (`nicos.bridge.NicosBridge`) with `--nicos-port`, else None."""

    @classmethod
    def open(cls, settings: Settings, port: int | None = None) -> Application:
        """Lock the data directory and build every part (the runner starts its spare).

        Args:
            settings: the parsed options.
            port: the Channel Access port, recorded in the lock for a refused second server.

        Raises:
            ConfigError: the data directory is unusable or in use by another server, or the
                store cannot be opened (one-line message).
        """
        from .catalogue import Catalogue, CatalogueWatcher
        from .catalogue.live import LiveChecker
        from .core.server import ScriptServer
        from .host import JobFolders, SerialWorker, ThreadTimers
        from .runner import JobRunner, RunnerSettings
        from .store.sqlite import Store, StoreError
        from .validate.companions import CompanionRunner
        from .validate.preflight import PreflightWorker
        from .validate.validator import Validator
        from .validate.warmup import Warmer

        open_nicos = None
        if settings.nicos_port is not None:  # checks pyzmq and the credentials first
            from .nicos import prepare_bridge

            open_nicos = prepare_bridge(settings)
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {settings.data_dir}: {exc.strerror}") from None
        try:
            lock = DataDirLock.acquire(settings.data_dir, prefix=settings.prefix, port=port)
        except DataDirInUse as exc:
            raise ConfigError(str(exc)) from None
        except OSError as exc:
            where = settings.data_dir
            raise ConfigError(f"cannot lock the data directory {where}: {exc}") from None
        closers: list[tuple[str, Callable[[], None]]] = [("data-directory lock", lock.release)]
        try:
            prepare_data_dir(settings)
            try:
                store = Store(settings.database)
            except StoreError as exc:
                raise ConfigError(str(exc)) from None
            closers.append(("store", store.close))
            live = LiveChecker(settings.job_python, settings.command_dirs)
            closers.append(("catalogue checker", live.close))
            catalogue = Catalogue(settings.command_dirs, live=live)
            companions = CompanionRunner(
                settings.job_python, [str(d) for d in settings.command_dirs]
            )
            closers.append(("companion checker", companions.close))
            prelude = settings.prelude.read_text(encoding="utf-8") if settings.prelude else None
            validator = Validator(
                catalogue,
                companions,
                history=store,
                prelude_source=prelude,
                allow_scripts=settings.allow_scripts,
                scripts_dir=settings.scripts_dir,
                beam=settings.beam or None,
            )
            worker = SerialWorker()
            closers.append(("core worker", worker.close))
            core = ScriptServer(
                store,
                catalogue=catalogue,
                validator=validator,
                files=JobFolders(settings.scripts_dir),
                timers=ThreadTimers(),
                logs_dir=settings.logs_dir,
                allow_scripts=settings.allow_scripts,
                worker=worker,
            )
            closers.append(("core", core.close))
            runner = JobRunner(
                RunnerSettings(
                    job_python=settings.job_python,
                    prelude=settings.prelude,
                    command_dirs=settings.command_dirs,
                    data_dir=settings.data_dir,
                    warm_spare=settings.warm_spare,
                    cwd=settings.work_dir,
                    fork_server=None if settings.fork_server else False,
                ),
                core,
            )
            closers.append(("job runner", runner.close))

            warmer = Warmer(companions, catalogue)
            closers.append(("companion warm-up", warmer.stop))

            def commands_changed() -> None:
                core.changed("commands", "settings")  # publish first: never wait for imports
                warmer.request()

            watcher = CatalogueWatcher(catalogue, commands_changed)
            closers.append(("catalogue watcher", watcher.stop))
            preflight = PreflightWorker(
                core, validator, workers=settings.preflight_workers, wait=settings.preflight_wait
            )
            closers.append(("pre-flight worker", lambda: preflight.stop(timeout=1.0)))
            nicos = open_nicos(core) if open_nicos else None
            if nicos is not None:
                closers.append(("NICOS bridge", nicos.stop))
        except BaseException:
            _close_all(closers)
            raise
        return cls(
            settings,
            lock,
            store,
            catalogue,
            companions,
            validator,
            worker,
            core,
            runner,
            watcher,
            preflight,
            closers,
            nicos,
        )

    def start(self) -> None:
        """Adopt a job left running by a previous server, start the queue and the watcher."""
        self.core.attach_runner(self.runner)
        self.watcher.start()
        if self.settings.preflight_workers > 0:
            self.preflight.start()
        if self.nicos is not None:
            self.nicos.start()

    def close(self) -> None:
        """Stop every part in reverse order of opening; safe to call twice."""
        closers, self._closers = self._closers, []
        _close_all(closers)


def _close_all(closers: list[tuple[str, Callable[[], None]]]) -> None:
    """Run closers newest first; one that fails is logged and the others still run."""
    for what, close in reversed(closers):
        try:
            close()
        except Exception:
            log.exception("closing the %s failed", what)
