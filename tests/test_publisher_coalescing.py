"""Large watched groups are rebuilt less often the more they cost (ioc/publisher.py).

The driver stands in for pcaspy (see `test_publisher_threads.py`); the core is the real one.
"""

from __future__ import annotations

import threading

import numpy as np
from test_core_queue import make_server
from test_publisher_threads import RecordingDriver

from scriptserver_ioc.ioc.publisher import BUILD_SHARE, DEFERRED_INTERVALS, Publisher

QUEUE_GROUPS = {"queue_json", "queue_json_zhex", "queue_summary", "queue_summary_zhex"}


def _publisher(tmp_path):
    core = make_server(tmp_path)
    driver = RecordingDriver()
    publisher = Publisher(driver, core, threading.RLock(), lambda: None)
    core.add_listener(publisher.changed)
    return core, driver, publisher


def test_GIVEN_group_built_WHEN_its_interval_asked_THEN_ten_times_its_cost_or_the_tables(
    tmp_path,
):
    _, _, publisher = _publisher(tmp_path)
    table = DEFERRED_INTERVALS["queue_json"]
    assert publisher._interval("queue_json") == table  # noqa: SLF001 - never built yet
    publisher.publish_groups({"queue_json"})
    publisher.drain()
    assert publisher._build_cost["queue_json"] > 0  # noqa: SLF001 - measured
    publisher._build_cost["queue_json"] = 0.25  # noqa: SLF001 - as if 0.25 s a build
    assert publisher._interval("queue_json") == BUILD_SHARE * 0.25  # noqa: SLF001
    publisher._build_cost["queue_json"] = table / 1000  # noqa: SLF001 - cheap: the table's
    assert publisher._interval("queue_json") == table  # noqa: SLF001


def test_GIVEN_queue_unchanged_WHEN_rebuilt_THEN_its_value_not_posted_again(tmp_path):
    core, driver, publisher = _publisher(tmp_path)
    core.control("QUEUE:ADD", "set_ei(25)")
    publisher.publish_groups(QUEUE_GROUPS)
    publisher.drain()
    driver.calls.clear()
    publisher.publish_groups(QUEUE_GROUPS)  # same queue: same texts
    publisher.drain()
    assert [c for c in driver.calls if c[0] == "set"] == []
    core.control("QUEUE:ADD", "set_ei(30)")
    publisher.publish_groups(QUEUE_GROUPS)
    publisher.drain()
    posted = {name for kind, name, _ in driver.calls if kind == "set"}
    assert {"QUEUE", "QUEUE:ZHEX", "QUEUE:SUMMARY", "QUEUE:SUMMARY:ZHEX"} <= posted
    assert b"30" in bytes(driver.params["QUEUE:SUMMARY"])


def test_GIVEN_large_value_WHEN_handed_to_pcaspy_THEN_a_view_of_the_kept_bytes_served_whole():
    from pcaspy import cas

    from scriptserver_ioc.ioc.encoding import json_value
    from scriptserver_ioc.ioc.publisher import shared_array

    raw = json_value('[{"id": 1, "name": "set_ei(25)"}]')
    array = shared_array(raw)
    assert np.shares_memory(array, np.frombuffer(raw, dtype=np.uint8))  # no copy made here
    # pcaspy's setParam copies arrays whose type name says numpy.ndarray (its own check)
    assert "numpy.ndarray" not in str(type(array))
    value = cas.gdd()
    value.setPrimType(cas.aitEnumUint8)
    value.put(array)  # what pcas serves: every byte, the NUL included
    assert value.getBound(0)[2] == len(raw)
    assert value.get() == raw[:-1].decode("ascii")
