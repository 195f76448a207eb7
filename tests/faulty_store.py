"""The real SQLite store with a full disk at a chosen write, for unit tests of the core.

`FaultyStore` is `store.sqlite.Store` (an in-memory SQLite database, the same schema,
transactions and rollback as on disk) behind a thin wrapper that counts the core's
writes and makes one of them fail as a full disk does: SQLite's own
``database or disk is full`` error, raised inside the transaction, so that the store
itself rolls back and turns it into the `StoreError` the core sees. The wrapper also
checks that every write is made inside a transaction and records, for each committed
transaction, the writes it held.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scriptserver_ioc.core.decision import STORE_WRITES
from scriptserver_ioc.store.sqlite import Store

DISK_FULL = "database or disk is full"
WRITES = STORE_WRITES
"""The store's write methods (each is one counted write): the core's own list."""
TABLES = ("jobs", "settings", "durations", "log", "quarantine")
"""Every table of the store's schema (`tests/test_core_machine.py` checks the list)."""


class FaultyStore:
    """`store.sqlite.Store` in memory whose `fail_at`-th write fails with a full disk.

    Args:
        path: the database file (default: an in-memory database, gone when closed).
    """

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.store = Store(Path(path))
        self.depth = 0
        """How many `transaction()` blocks are open (0: none)."""
        self.fail_at: int | None = None
        """Index of the write (counted from `arm`) that fails, or None."""
        self.writes_seen = 0
        self.transactions: list[list[str]] = []
        """Write names of each committed top-level transaction, oldest first."""
        self._tx: list[str] = []

    def __getattr__(self, name: str) -> Any:
        """Reads (and anything else not wrapped) go to the real store."""
        if name in WRITES:
            return lambda *args, **kwargs: self._write(name, *args, **kwargs)
        return getattr(self.store, name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The real store's transaction; a committed top-level one is recorded."""
        outer = self.depth == 0
        if outer:
            self._tx = []
        self.depth += 1
        try:
            with self.store.transaction():
                yield
        finally:
            self.depth -= 1
        if outer and self._tx:
            self.transactions.append(self._tx)

    def arm(self, fail_at: int | None) -> None:
        """Fail the `fail_at`-th write from now on (0 = the next one; None = none)."""
        self.fail_at, self.writes_seen, self.transactions = fail_at, 0, []

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        assert self.depth, f"store.{name} outside a transaction"
        index, self.writes_seen = self.writes_seen, self.writes_seen + 1
        if self.fail_at is not None and index == self.fail_at:
            raise sqlite3.OperationalError(DISK_FULL)  # as SQLite raises it, in the transaction
        result = getattr(self.store, name)(*args, **kwargs)
        self._tx.append(name)
        return result

    def dump(self) -> list[list[tuple]]:
        """Every row of every table, in a fixed order (to compare before and after)."""
        db = self.store._db
        return [db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in TABLES]
