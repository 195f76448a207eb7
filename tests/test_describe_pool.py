"""The checker's describe pool: modules that block at import hold back no other.

`job/_describe_pool.py` in this process, with a `describe` that blocks on an event the test
sets only at the end: if any module had to wait for a blocked one, the waits below would
time out (nothing is measured by the clock).
"""

from __future__ import annotations

import threading

from waiting import wait_until

from scriptserver_ioc.job import _describe_pool as pool


class Modules:
    """A fake `describe`: `blocked_*` items wait for `release`, the others answer at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.events: list[dict] = []
        self.threads: dict[str, str] = {}
        self._lock = threading.Lock()

    def describe(self, item: dict) -> dict:
        self.threads[item["path"]] = threading.current_thread().name
        if item["path"].startswith("blocked"):
            self.release.wait()
        if item["path"].startswith("broken"):
            return {"path": item["path"], "error": {"message": "no"}, "names": {}}
        return {"path": item["path"], "error": None, "names": {item["path"]: {}}}

    def emit(self, event: dict) -> None:
        with self._lock:
            self.events.append(event)

    def answers(self) -> dict[str, dict]:
        with self._lock:
            return {e["described"]["path"]: e["described"] for e in self.events if "described" in e}

    def seen(self, kind: str) -> set[str]:
        with self._lock:
            found = [e[kind] for e in self.events if kind in e]
        return {f["path"] if isinstance(f, dict) else f for f in found}


def run_pool(items: list[str], modules: Modules, slow_after: float) -> threading.Thread:
    run = pool.DescribePool(
        [{"path": p} for p in items], modules.describe, modules.emit, slow_after
    )
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    return thread


def test_GIVEN_many_blocking_modules_WHEN_described_THEN_others_described_and_blocked_named_slow():
    blocked = [f"blocked_{n:02d}" for n in range(40)]
    fast = [f"fast_{n:02d}" for n in range(20)]
    items = [name for pair in zip(blocked, fast) for name in pair] + blocked[20:]
    modules = Modules()
    thread = run_pool(items, modules, slow_after=0.3)
    try:
        wait_until(lambda: modules.seen("described") == set(fast))
        wait_until(lambda: modules.seen("slow") == set(blocked))
        assert modules.seen("started") == set(items)  # every blocked one is importing at once
    finally:
        modules.release.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert modules.seen("described") == set(items)  # the blocked ones answer when released


def test_GIVEN_nothing_blocks_WHEN_described_THEN_one_thread_in_order_no_retry():
    modules = Modules()
    items = [f"fast_{n}" for n in range(30)] + ["broken_1"]
    thread = run_pool(items, modules, slow_after=30)
    thread.join(timeout=10)

    assert set(modules.threads.values()) == {thread.name}  # the calling thread, as a job
    order = [e["started"] for e in modules.events if "started" in e]
    assert order == items
    (broken,) = [
        e["described"] for e in modules.events if "described" in e and e["described"]["error"]
    ]
    assert "retry" not in broken  # alone in the main thread: the verdict stands


def test_GIVEN_failure_while_a_module_blocks_WHEN_described_THEN_marked_for_a_fresh_look():
    modules = Modules()
    thread = run_pool(["blocked_1", "broken_1", "fast_1"], modules, slow_after=30)
    try:
        wait_until(lambda: {"broken_1", "fast_1"} <= modules.seen("described"))
        answers = {
            e["described"]["path"]: e["described"] for e in modules.events if "described" in e
        }
        assert answers["broken_1"].get("retry") is True
        assert "retry" not in answers["fast_1"]
    finally:
        modules.release.set()
    thread.join(timeout=10)


def test_GIVEN_server_gone_WHEN_an_event_cannot_be_written_THEN_run_raises_instead_of_hanging():
    def gone(event: dict) -> None:
        raise BrokenPipeError(32, "Broken pipe")  # the server closed the checker's stdout

    outcome: list[BaseException] = []

    def run() -> None:
        try:
            pool.DescribePool(
                [{"path": "fast_a"}, {"path": "fast_b"}], Modules().describe, gone, 5
            ).run()
        except BaseException as exc:  # noqa: BLE001 - what run() ended with is the result
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: not thread.is_alive(), timeout=10)  # it used to wait for itself for ever
    assert [type(e) for e in outcome] == [BrokenPipeError]
