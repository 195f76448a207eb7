"""runner layer of scriptserver_ioc: job processes, the job-control channel, adoption."""

from .events import RunnerEvents
from .runner import JobRunner
from .settings import RunnerSettings

__all__ = ["JobRunner", "RunnerEvents", "RunnerSettings"]
