"""The watcher: changes to command directories become visible.

How soon (the 2 s of product.md) is measured by `bench/bench_catalogue_reload.py`.
"""

import os
import shutil
import threading
import time

import pytest
from waiting import wait_until

from scriptserver_ioc.catalogue import Catalogue, CatalogueWatcher


class Recorder:
    """on_change callback that records when it was called and what it saw."""

    def __init__(self, catalogue):
        self.catalogue = catalogue
        self.calls = []

    def __call__(self):
        self.calls.append((time.monotonic(), self.catalogue.names(), self.catalogue.revision))


@pytest.fixture
def watched(tmp_path):
    (tmp_path / "chopper.py").write_text("def set_ei(energy: float):\n    pass\n")
    catalogue = Catalogue([tmp_path])
    recorder = Recorder(catalogue)
    watcher = CatalogueWatcher(catalogue, recorder)  # default interval, as in the IOC
    watcher.start()
    yield tmp_path, catalogue, recorder
    watcher.stop()
    assert not watcher.running


def test_GIVEN_watcher_WHEN_file_edited_in_place_THEN_new_signature_seen(watched):
    directory, catalogue, recorder = watched
    (directory / "chopper.py").write_text(
        "def set_ei(energy: float, wait: bool = True):\n    pass\n"
    )
    wait_until(lambda: len(catalogue.get("set_ei").params) == 2)
    assert recorder.calls and recorder.calls[-1][2] == catalogue.revision >= 2


def test_GIVEN_watcher_WHEN_file_added_THEN_its_commands_seen(watched):
    directory, catalogue, recorder = watched
    (directory / "dae.py").write_text("def begin_run():\n    pass\n")
    wait_until(lambda: catalogue.names() == ["begin_run", "set_ei"])
    assert recorder.calls[-1][1] == ["begin_run", "set_ei"]


def test_GIVEN_watcher_WHEN_file_deleted_THEN_its_commands_gone(watched):
    directory, catalogue, recorder = watched
    (directory / "chopper.py").unlink()
    wait_until(lambda: catalogue.names() == [])
    assert recorder.calls == [(recorder.calls[0][0], [], 2)]


def test_GIVEN_watcher_WHEN_file_renamed_THEN_module_changes(watched):
    directory, catalogue, recorder = watched
    os.rename(directory / "chopper.py", directory / "choppers.py")
    wait_until(lambda: catalogue.get("set_ei").module == "choppers")
    assert len(recorder.calls) == 1


def test_GIVEN_watcher_WHEN_file_renamed_to_private_name_THEN_commands_gone(watched):
    directory, catalogue, _ = watched
    os.rename(directory / "chopper.py", directory / "_chopper.py")
    wait_until(lambda: catalogue.names() == [])


def test_GIVEN_watcher_WHEN_syntax_error_saved_then_fixed_THEN_errors_follow(watched):
    directory, catalogue, recorder = watched
    (directory / "chopper.py").write_text("def set_ei(energy: float\n")
    assert wait_until(lambda: catalogue.errors and catalogue.names() == [])
    (directory / "chopper.py").write_text("def set_ei(energy: float):\n    pass\n")
    assert wait_until(lambda: not catalogue.errors and catalogue.names() == ["set_ei"])
    assert recorder.calls[-1][1] == ["set_ei"]


def test_GIVEN_watcher_WHEN_directory_removed_and_restored_THEN_error_then_commands(watched):
    directory, catalogue, _ = watched
    backup = directory.parent / (directory.name + "_backup")
    shutil.move(directory, backup)
    assert wait_until(lambda: catalogue.errors and catalogue.names() == [])
    shutil.move(backup, directory)
    assert wait_until(lambda: not catalogue.errors and catalogue.names() == ["set_ei"])


def test_GIVEN_nothing_changes_WHEN_watching_THEN_checks_run_but_no_change_reported(tmp_path):
    (tmp_path / "chopper.py").write_text("def set_ei(energy: float):\n    pass\n")
    old = 1_000_000_000_000_000_000
    os.utime(tmp_path / "chopper.py", ns=(old, old))
    catalogue = Catalogue([tmp_path])
    checks = []
    reload = catalogue.reload

    def counted_reload(force=False, live=True):
        changed = reload(force, live)
        checks.append(changed)
        return changed

    catalogue.reload = counted_reload
    recorder = Recorder(catalogue)
    watcher = CatalogueWatcher(catalogue, recorder, interval=0.02)
    watcher.start()
    try:
        assert wait_until(lambda: len(checks) >= 10)
    finally:
        watcher.stop()
    assert set(checks) == {False}
    assert recorder.calls == [] and catalogue.revision == 1


def test_GIVEN_failing_callback_WHEN_changes_continue_THEN_watcher_keeps_going(tmp_path):
    catalogue = Catalogue([tmp_path])
    calls = []

    def on_change():
        calls.append(catalogue.names())
        if len(calls) == 1:
            raise RuntimeError("publishing failed")

    watcher = CatalogueWatcher(catalogue, on_change, interval=0.05)
    watcher.start()
    try:
        (tmp_path / "a.py").write_text("def a():\n    pass\n")
        assert wait_until(lambda: len(calls) == 1)
        (tmp_path / "b.py").write_text("def b():\n    pass\n")
        assert wait_until(lambda: len(calls) == 2)
    finally:
        watcher.stop()
    assert calls == [["a"], ["a", "b"]]


def test_GIVEN_watcher_WHEN_started_THEN_daemon_thread_and_second_start_refused(tmp_path):
    watcher = CatalogueWatcher(Catalogue([tmp_path]), lambda: None)
    watcher.start()
    try:
        thread = next(t for t in threading.enumerate() if t.name == "catalogue-watcher")
        assert thread.daemon
        with pytest.raises(RuntimeError, match="already started"):
            watcher.start()
    finally:
        watcher.stop()
    assert not watcher.running


@pytest.mark.parametrize("interval", [0, -1, float("nan")])
def test_GIVEN_bad_interval_WHEN_created_THEN_value_error(tmp_path, interval):
    with pytest.raises(ValueError, match="positive number of seconds"):
        CatalogueWatcher(Catalogue([tmp_path]), lambda: None, interval=interval)


def test_GIVEN_check_WHEN_called_directly_THEN_reports_change_once(tmp_path):
    catalogue = Catalogue([tmp_path])
    recorder = Recorder(catalogue)
    watcher = CatalogueWatcher(catalogue, recorder)
    (tmp_path / "a.py").write_text("def a():\n    pass\n")
    assert watcher.check() is True
    assert len(recorder.calls) == 1
    old = 1_000_000_000_000_000_000
    os.utime(tmp_path / "a.py", ns=(old, old))
    assert watcher.check() is False
    assert len(recorder.calls) == 1
