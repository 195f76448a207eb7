"""The tests' fault-injecting store: the real SQLite store, a full disk at a chosen write."""

from __future__ import annotations

import pytest
from faulty_store import DISK_FULL, TABLES, FaultyStore

from scriptserver_ioc.core.ports import StoreError


def test_GIVEN_faulty_store_WHEN_compared_THEN_every_table_counts_and_a_fault_undoes_all():
    store = FaultyStore()
    tables = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    assert {name for (name,) in store.store._db.execute(tables)} == set(TABLES)
    empty = store.dump()
    store.arm(1)  # the second write of the transaction: the first is undone with it
    with pytest.raises(StoreError, match=DISK_FULL), store.transaction():
        store.set_setting("hold", True)
        store.append_log("not kept")
    assert store.dump() == empty and store.transactions == []
    store.arm(None)
    with store.transaction():
        store.set_setting("hold", True)
    assert store.setting("hold") is True and store.transactions == [["set_setting"]]
