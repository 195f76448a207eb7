"""The publisher calls pcaspy from the server thread only, in the order values were built.

pcas holds its own mutex while the server thread runs `Driver.read`/`write`, and
`updatePV` from another thread waits for it; a thread posting while holding a lock the
server thread wants deadlocks the IOC (found by `system_tests/test_progress_ca.py`). The
driver here records which thread calls each pcaspy method; the core is the real one.
"""

from __future__ import annotations

import threading

from test_core_queue import make_server

from scriptserver_ioc.ioc.publisher import Publisher


class RecordingDriver:
    """Stands in for pcaspy's Driver: parameters in a dict, each call's thread recorded."""

    port = -1  # no pcaspy PVs: every group counts as watched, so it is built at once

    def __init__(self) -> None:
        self.params: dict = {}
        self.calls: list[tuple[str, str, int]] = []

    def setParam(self, name, value):  # noqa: N802 (pcaspy's name)
        self.calls.append(("set", name, threading.get_ident()))
        self.params[name] = value

    def getParam(self, name):  # noqa: N802
        return self.params.get(name)

    def updatePV(self, name):  # noqa: N802
        self.calls.append(("update", name, threading.get_ident()))


def _publisher(tmp_path):
    core = make_server(tmp_path)
    driver = RecordingDriver()
    kicks = []
    publisher = Publisher(driver, core, threading.RLock(), lambda: kicks.append(1))
    core.add_listener(publisher.changed)
    publisher.publish_groups({"counts"})  # as `start` does, without its threads
    return core, driver, publisher, kicks


def test_GIVEN_change_on_another_thread_WHEN_published_THEN_queued_until_server_drains(tmp_path):
    core, driver, publisher, kicks = _publisher(tmp_path)
    server = threading.get_ident()
    driver.calls.clear()
    other = threading.Thread(target=lambda: core.control("QUEUE:ADD", "set_ei(25)"))
    other.start()
    other.join(10)
    assert driver.calls == [] and kicks, "another thread called pcaspy or did not kick"
    assert driver.params["QUEUE:COUNT"] == 0
    publisher.drain()
    assert driver.params["QUEUE:COUNT"] == 1
    assert {thread for _, _, thread in driver.calls} == {server}


def test_GIVEN_values_then_callback_queued_WHEN_drained_THEN_callback_sees_the_values(tmp_path):
    core, driver, publisher, _ = _publisher(tmp_path)
    seen = []

    def from_worker():
        core.control("QUEUE:ADD", "set_ei(25)")
        publisher.call_soon(lambda: seen.append(driver.params["QUEUE:COUNT"]))
        core.control("QUEUE:ADD", "set_ei(26)")

    worker = threading.Thread(target=from_worker)
    worker.start()
    worker.join(10)
    assert seen == []
    publisher.drain()
    assert seen == [1] and driver.params["QUEUE:COUNT"] == 2


def test_GIVEN_queued_values_WHEN_server_thread_posts_THEN_queued_ones_go_first(tmp_path):
    core, driver, publisher, _ = _publisher(tmp_path)
    adder = threading.Thread(target=lambda: core.control("QUEUE:ADD", "set_ei(25)"))
    adder.start()
    adder.join(10)
    driver.calls.clear()
    core.control("QUEUE:ADD", "set_ei(26)")  # the server thread: posts at once, after the queue
    counts = [name for kind, name, _ in driver.calls if kind == "set" and name == "QUEUE:COUNT"]
    assert counts == ["QUEUE:COUNT", "QUEUE:COUNT"]
    assert driver.params["QUEUE:COUNT"] == 2
