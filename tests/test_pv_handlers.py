"""The PV table names each control PV's handler and each published PV's builder and topics."""

from __future__ import annotations

import dataclasses

import pytest

from scriptserver_ioc.contract.pvmodel import (
    check_control_handlers,
    check_publishing,
    topic_builders,
)
from scriptserver_ioc.contract.pvtable import ALL_PVS, BY_NAME, CONTROL_ROUTES
from scriptserver_ioc.contract.topics import TOPICS
from scriptserver_ioc.ioc.builders import BUILDERS
from scriptserver_ioc.ioc.writes import CONTROL_HANDLERS


def _replaced(name: str, **changes) -> tuple:
    return tuple(dataclasses.replace(pv, **changes) if pv.name == name else pv for pv in ALL_PVS)


def test_GIVEN_real_table_WHEN_checked_THEN_every_control_pv_has_one_existing_handler():
    check_control_handlers(ALL_PVS, CONTROL_HANDLERS)
    assert set(CONTROL_ROUTES.values()) == set(CONTROL_HANDLERS)
    assert CONTROL_ROUTES["QUEUE:ADD"] == "add"
    assert CONTROL_ROUTES["QUEUE:3:ACTION"] == "slot_action"


def test_GIVEN_pv_without_handler_or_handler_without_pv_WHEN_checked_THEN_both_named():
    handlers = {key: h for key, h in CONTROL_HANDLERS.items() if key != "pause"}
    handlers["shuffle"] = handlers["move"]
    with pytest.raises(ImportError) as raised:
        check_control_handlers(ALL_PVS, handlers)
    assert "no handler for ['PAUSE']" in str(raised.value)
    assert "no control PV for handlers ['shuffle']" in str(raised.value)


def test_GIVEN_status_pv_naming_a_handler_WHEN_checked_THEN_refused():
    with pytest.raises(ImportError, match=r"handler on a status PV \['STATE'\]"):
        check_control_handlers(_replaced("STATE", handler="add"), CONTROL_HANDLERS)


def test_GIVEN_real_table_WHEN_publishing_checked_THEN_topics_and_builders_agree():
    check_publishing(ALL_PVS, BUILDERS, TOPICS)
    routes = topic_builders(ALL_PVS)
    assert set(routes) == TOPICS
    # the store's error is in STATUS only: its own topic refreshes it
    assert routes["status"] == ("status", "status_zhex")
    assert "counts" in routes["queue"] and "queue_json" in routes["queue"]
    assert BY_NAME["QUEUE:ZHEX"].builder == "queue_json_zhex"


@pytest.mark.parametrize(
    ("table", "builders", "topics", "message"),
    [
        (_replaced("STATE", builder=""), BUILDERS, TOPICS, "status PVs without a builder"),
        (_replaced("STATE", builder="nowhere"), BUILDERS, TOPICS, "not defined: ['nowhere']"),
        (ALL_PVS, {**BUILDERS, "spare": None}, TOPICS, "set no PV: ['spare']"),
        (_replaced("STATE:CODE", topics=("state",)), BUILDERS, TOPICS, "builder state must"),
        (ALL_PVS, BUILDERS, TOPICS | {"weather"}, "refresh no PV: ['weather']"),
        (ALL_PVS, BUILDERS, TOPICS - {"tick"}, "never reports: ['tick']"),
    ],
)
def test_GIVEN_table_and_publisher_disagree_WHEN_checked_THEN_named(
    table, builders, topics, message
):
    with pytest.raises(ImportError, match="PV table and publisher disagree") as raised:
        check_publishing(table, builders, topics)
    assert message in str(raised.value)


def test_GIVEN_core_WHEN_touched_with_unknown_topic_THEN_refused_and_known_ones_kept(tmp_path):
    from test_core_queue import make_server

    server = make_server(tmp_path)
    with server.lock:
        with pytest.raises(ValueError, match=r"unknown topics \['weather'\]"):
            server.touch("queue", "weather")
        server.touch("status")
    heard = []
    server.add_listener(heard.append)
    server._notify()
    assert heard == [{"status"}]
