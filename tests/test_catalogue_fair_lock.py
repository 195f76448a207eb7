"""The companion runner's lock is granted in order: a check is not overtaken by the warm-up.

The warm-up takes the lock for one bounded import after another; with `threading.Lock` the
releasing thread usually took it straight back, so a `QUEUE:ADD` check waited for them all.
"""

from __future__ import annotations

import threading

from waiting import wait_until

from scriptserver_ioc.catalogue.checker_process import FairLock


def test_GIVEN_a_caller_waiting_WHEN_holder_releases_and_asks_again_THEN_waiter_goes_first():
    lock = FairLock()
    order: list[str] = []
    lock.acquire()  # the warm-up, importing one module

    def check() -> None:
        with lock:
            order.append("check")

    waiter = threading.Thread(target=check)
    waiter.start()
    wait_until(lambda: lock.waiting == 1)

    def next_import() -> None:
        lock.release()  # the import ended ...
        with lock:  # ... and the warm-up asks for the lock again at once
            order.append("next import")

    warmup = threading.Thread(target=next_import)
    warmup.start()
    waiter.join(timeout=10)
    warmup.join(timeout=10)

    assert order == ["check", "next import"]
    assert lock.waiting == 0
