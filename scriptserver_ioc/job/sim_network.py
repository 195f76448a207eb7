"""Network clients whose traffic no audit event shows: kept from talking in a dry run.

Runs inside dry-run processes only (``sim_isolation`` installs it): standard library only,
Python 3.8+, nothing imported from the rest of the package.

The audit hook sees every socket Python code opens. A client written in C opens its own:
confluent-kafka (librdkafka, which ibex_bluesky_core depends on) connects to its brokers
from C threads the moment a client is made, and would publish a dry run's messages. Right
after ``confluent_kafka.cimpl`` is imported (before the package takes its names from it, so
``confluent_kafka.Producer``, ``SerializingProducer``, ``AdminClient`` and the clients built
on them are covered) its client types are replaced:

- a ``Producer`` made in a dry run is a stand-in that connects to nothing, so code that
  only makes one (``ibex_bluesky_core``'s ``get_run_engine()`` makes its Kafka callback,
  which the dry run does not run) goes on; the first ``produce`` ends the dry run:
  ``line 9 publishes to Kafka (topic `runs`); not checked past it``;
- making a ``Consumer`` or an admin client ends the dry run:
  ``line 4 connects to Kafka (`broker:9092`); not checked past it``.
"""

from __future__ import annotations

import sys

import import_hooks

KAFKA_CLIENTS = ("Consumer", "_AdminClientImpl", "ShareConsumer")
"""confluent_kafka.cimpl's client types that talk to the brokers as soon as they are made."""


def _servers(args, kwargs):
    """The brokers a Kafka client was given (its configuration dict, or keyword arguments)."""
    config = args[0] if args and isinstance(args[0], dict) else kwargs
    return str(config.get("bootstrap.servers") or "its brokers")


def _refusing(isolation, client):
    """A subclass of a C client type whose making ends the dry run (none is made)."""

    def __new__(cls, *args, **kwargs):  # noqa: N807 - the type's constructor
        isolation.halt(f"connects to Kafka (`{_servers(args, kwargs)}`)")
        return client.__new__(cls, *args, **kwargs)  # a command marked safe: the real one

    return type(client.__name__, (client,), {"__new__": __new__, "__module__": client.__module__})


def _stand_in_producer(isolation, producer):
    """A subclass of ``Producer`` that makes a stand-in, which connects to nothing."""

    class DryRunProducer:
        """What a dry run gets for a Kafka producer: nothing queued, nothing sent."""

        def __init__(self, servers):
            self.servers = servers

        def produce(self, topic=None, *args, **kwargs):
            isolation.halt(f"publishes to Kafka (topic `{topic}` on `{self.servers}`)")

        def poll(self, *args, **kwargs):
            return 0

        def flush(self, *args, **kwargs):
            return 0

        def __len__(self):
            return 0

        def __getattr__(self, name):  # transactions, metadata: they talk to the brokers
            def talks(*args, **kwargs):
                isolation.halt(f"uses Kafka (`Producer.{name}` on `{self.servers}`)")

            return talks

    def __new__(cls, *args, **kwargs):  # noqa: N807 - the type's constructor
        if isolation.passthrough():  # a command marked safe: the real producer
            return producer.__new__(cls, *args, **kwargs)
        return DryRunProducer(_servers(args, kwargs))

    return type("Producer", (producer,), {"__new__": __new__, "__module__": producer.__module__})


def _patch_kafka(isolation, cimpl):
    replacements = {name: _refusing for name in KAFKA_CLIENTS}
    replacements["Producer"] = _stand_in_producer
    for name, replace in replacements.items():
        try:
            setattr(cimpl, name, replace(isolation, getattr(cimpl, name)))
        except (AttributeError, TypeError):  # absent, or a type that cannot be subclassed
            pass


def install(isolation):
    """Keep the C network clients of this process from talking, now and when imported."""

    def patch(module):
        _patch_kafka(isolation, module)

    import_hooks.hook_imports({"confluent_kafka.cimpl": patch})
    if "confluent_kafka.cimpl" in sys.modules:  # imported before the isolation: late, but
        patch(sys.modules["confluent_kafka.cimpl"])  # names taken from it later are covered
