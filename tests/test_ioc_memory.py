"""The IOC gives memory back once a large queue has gone (ioc/memory.py)."""

from __future__ import annotations

import sys

import pytest
from waiting import wait_until

from scriptserver_ioc.ioc.memory import SHRINK, MemoryKeeper


def test_GIVEN_queue_sizes_WHEN_it_shrinks_a_lot_THEN_memory_given_back_once():
    calls = []
    keeper = MemoryKeeper()
    keeper._trim = lambda pad: calls.append(pad) or 1  # noqa: SLF001 - count, do not trim

    for count in (10, 5000, 10_000, 10_000 - SHRINK + 1):  # grows, then shrinks too little
        keeper.queue_count(count)
    assert calls == []
    keeper.queue_count(0)  # cleared
    wait_until(lambda: keeper.given_back == 1)
    assert calls == [0]
    keeper.queue_count(SHRINK - 1)  # grows again from the new low, then clears: too little
    keeper.queue_count(0)
    assert keeper.given_back == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_GIVEN_linux_WHEN_keeper_made_THEN_it_has_the_c_library_trim():
    keeper = MemoryKeeper()
    assert keeper._trim is not None  # noqa: SLF001
    keeper.queue_count(SHRINK)
    keeper.queue_count(0)
    wait_until(lambda: keeper.given_back == 1)  # really called, returned
