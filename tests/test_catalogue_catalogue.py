"""The Catalogue over directories: duplicates, errors, revisions, incremental reload."""

import json
import os
import threading

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.catalogue import reader as reader_module


def write(directory, name, text):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(path, text):
    """Rewrite a file and move its mtime forward (as a later edit would)."""
    st = os.stat(path)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


CHOPPER = '''
def set_ei(energy: float, wait: bool = True):
    """Positions the choppers to allow the specified incident energy through.

    Args:
        energy: incident energy in meV
        wait: wait for the choppers to reach speed
    """


def estimate_set_ei(energy: float, wait: bool = True):
    return 30.0
'''


def test_GIVEN_spec_example_WHEN_to_json_THEN_matches_pv_interface_example(tmp_path):
    write(tmp_path, "chopper.py", "\n" * 10 + CHOPPER.lstrip("\n"))
    catalogue = Catalogue([tmp_path])
    [entry] = catalogue.to_json()
    assert {k: entry[k] for k in ("name", "module", "signature", "description")} == {
        "name": "set_ei",
        "module": "chopper",
        "signature": "set_ei(energy: float, wait: bool = True)",
        "description": "Positions the choppers to allow the specified incident energy through.",
    }
    assert entry["source"] == "chopper.py:11"
    assert entry["has_estimate"] is True
    assert [
        {k: p[k] for k in ("name", "type", "required", "default", "description")}
        for p in entry["params"]
    ] == [
        {
            "name": "energy",
            "type": "float",
            "required": True,
            "default": None,
            "description": "incident energy in meV",
        },
        {
            "name": "wait",
            "type": "bool",
            "required": False,
            "default": True,
            "description": "wait for the choppers to reach speed",
        },
    ]


def test_GIVEN_syntax_error_in_one_file_WHEN_loaded_THEN_only_its_commands_are_missing(tmp_path):
    write(tmp_path, "chopper.py", CHOPPER)
    write(tmp_path, "broken.py", "def good():\n    pass\n\ndef bad(:\n")
    write(tmp_path, "notes.txt", "def not_python(:")
    write(tmp_path, "_helpers.py", "def helper():\n    pass\n")
    write(tmp_path, ".hidden.py", "def hidden():\n    pass\n")
    catalogue = Catalogue([tmp_path])
    assert catalogue.names() == ["set_ei"]
    [error] = catalogue.errors
    assert error["file"] == str(tmp_path / "broken.py") and error["line"] == 4


def test_GIVEN_same_command_in_two_files_WHEN_loaded_THEN_alphabetical_first_wins_and_error(
    tmp_path,
):
    write(tmp_path, "b_second.py", "def shared(x: int):\n    pass\n")
    write(tmp_path, "a_first.py", "def other():\n    pass\n\n\ndef shared(x: float):\n    pass\n")
    catalogue = Catalogue([tmp_path])
    assert catalogue.get("shared").module == "a_first"
    [error] = catalogue.errors
    assert error["file"] == str(tmp_path / "b_second.py") and error["line"] == 1
    assert str(tmp_path / "a_first.py") in error["message"]
    assert "'shared'" in error["message"] and "ignored" in error["message"]


def test_GIVEN_same_command_in_two_directories_WHEN_loaded_THEN_first_directory_wins(tmp_path):
    first, second = tmp_path / "inst", tmp_path / "shared"
    write(second, "aaa.py", "def shared():\n    pass\n")
    write(first, "zzz.py", "def shared():\n    pass\n")
    assert Catalogue([first, second]).get("shared").module == "zzz"
    assert Catalogue([second, first]).get("shared").module == "aaa"


def test_GIVEN_same_module_name_in_two_directories_WHEN_loaded_THEN_later_file_ignored(tmp_path):
    first, second = tmp_path / "inst", tmp_path / "shared"
    write(first, "sample.py", "def one():\n    pass\n")
    write(second, "sample.py", "def two():\n    pass\n")
    catalogue = Catalogue([first, second])
    assert catalogue.names() == ["one"]
    [error] = catalogue.errors
    assert error["file"] == str(second / "sample.py")
    assert "already provided by" in error["message"]


def test_GIVEN_missing_directory_WHEN_loaded_THEN_error_entry_and_other_dirs_still_read(tmp_path):
    write(tmp_path / "ok", "chopper.py", CHOPPER)
    catalogue = Catalogue([tmp_path / "missing", tmp_path / "ok"])
    assert catalogue.names() == ["set_ei"]
    assert catalogue.errors == [
        {
            "file": str(tmp_path / "missing"),
            "line": None,
            "message": "command directory does not exist",
        }
    ]


def test_GIVEN_broken_symlink_WHEN_loaded_THEN_error_entry(tmp_path):
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    [error] = Catalogue([tmp_path]).errors
    assert error["file"] == str(tmp_path / "gone.py")


def test_GIVEN_loaded_WHEN_nothing_changes_THEN_reload_false_and_revision_stays(tmp_path):
    write(tmp_path, "chopper.py", CHOPPER)
    catalogue = Catalogue([tmp_path])
    assert catalogue.revision == 1
    assert catalogue.reload() is False
    assert catalogue.reload(force=True) is False
    assert catalogue.revision == 1


def test_GIVEN_loaded_WHEN_file_edited_added_removed_THEN_revision_increments_each_time(tmp_path):
    path = write(tmp_path, "chopper.py", CHOPPER)
    catalogue = Catalogue([tmp_path])
    touch_later(path, CHOPPER.replace("meV", "millielectronvolt"))
    assert catalogue.reload() is True and catalogue.revision == 2
    write(tmp_path, "dae.py", "def begin():\n    pass\n")
    assert catalogue.reload() is True and catalogue.revision == 3
    assert catalogue.names() == ["begin", "set_ei"]
    (tmp_path / "dae.py").unlink()
    assert catalogue.reload() is True and catalogue.revision == 4
    assert catalogue.names() == ["set_ei"]


def test_GIVEN_error_appears_and_goes_WHEN_reloaded_THEN_both_count_as_changes(tmp_path):
    write(tmp_path, "chopper.py", CHOPPER)
    catalogue = Catalogue([tmp_path])
    broken = write(tmp_path, "broken.py", "def (")
    assert catalogue.reload() is True and len(catalogue.errors) == 1
    broken.unlink()
    assert catalogue.reload() is True and catalogue.errors == []
    assert catalogue.revision == 3


def test_GIVEN_edit_changing_only_whitespace_WHEN_reloaded_THEN_no_new_revision(tmp_path):
    path = write(tmp_path, "chopper.py", CHOPPER)
    catalogue = Catalogue([tmp_path])
    touch_later(path, CHOPPER + "\n\n# a comment\n")
    assert catalogue.reload() is False and catalogue.revision == 1


def test_GIVEN_many_files_WHEN_one_changes_THEN_only_that_file_is_parsed_again(
    tmp_path, monkeypatch
):
    paths = [write(tmp_path, f"m{i}.py", f"def c{i}():\n    pass\n") for i in range(5)]
    old = 1_000_000_000_000_000_000  # 2001: not "racy" (recently modified)
    for p in paths:
        os.utime(p, ns=(old, old))
    catalogue = Catalogue([tmp_path])
    parsed = []
    original = reader_module.read_command_file

    def counting(path, module=None):
        parsed.append(path.name)
        return original(path, module)

    monkeypatch.setattr("scriptserver_ioc.catalogue.catalogue.read_command_file", counting)
    paths[2].write_text("def c2():\n    pass\n\n\ndef extra():\n    pass\n", encoding="utf-8")
    os.utime(paths[2], ns=(old + 10**9, old + 10**9))
    assert catalogue.reload() is True
    assert parsed == ["m2.py"]
    assert "extra" in catalogue.names()


def test_GIVEN_recently_modified_file_WHEN_edited_within_same_timestamp_THEN_still_seen(tmp_path):
    path = write(tmp_path, "chopper.py", CHOPPER)
    st = os.stat(path)
    catalogue = Catalogue([tmp_path])
    same_size = CHOPPER.replace("set_ei", "set_eX")
    path.write_text(same_size, encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # a coarse clock: same mtime
    assert os.stat(path).st_size == st.st_size
    assert catalogue.reload() is True
    assert catalogue.names() == ["set_eX"]


def test_GIVEN_commands_WHEN_listed_THEN_sorted_by_name_and_deterministic(tmp_path):
    write(tmp_path, "zeta.py", "def alpha():\n    pass\n")
    write(tmp_path, "alpha.py", "def zulu():\n    pass\n\n\ndef mike():\n    pass\n")
    first = Catalogue([tmp_path])
    assert first.names() == ["alpha", "mike", "zulu"]
    assert [c["name"] for c in first.to_json()] == first.names()
    assert json.dumps(first.to_json()) == json.dumps(Catalogue([tmp_path]).to_json())


def test_GIVEN_commands_WHEN_job_commands_THEN_name_module_absolute_path_kind(tmp_path):
    write(tmp_path, "chopper.py", CHOPPER)
    write(
        tmp_path,
        "do_thing.py",
        "class DoRun(ScriptDefinition):\n    def run(self, a='1'):\n        pass\n",
    )
    assert Catalogue([tmp_path]).job_commands() == [
        {
            "name": "do_thing",
            "module": "do_thing",
            "path": str(tmp_path / "do_thing.py"),
            "kind": "script_definition",
            "enum_params": {},
        },
        {
            "name": "set_ei",
            "module": "chopper",
            "path": str(tmp_path / "chopper.py"),
            "kind": "function",
            "enum_params": {},
        },
    ]


def test_GIVEN_concurrent_reloads_and_reads_WHEN_files_change_THEN_readers_see_whole_snapshots(
    tmp_path,
):
    path = write(tmp_path, "pair.py", "def a1():\n    pass\n\n\ndef b1():\n    pass\n")
    catalogue = Catalogue([tmp_path])
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            names = [c["name"] for c in catalogue.to_json()]
            if len(names) != 2 or names[0][1:] != names[1][1:]:
                bad.append(names)

    threads = [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for i in range(2, 20):
        touch_later(path, f"def a{i}():\n    pass\n\n\ndef b{i}():\n    pass\n")
        catalogue.reload()
    stop.set()
    for t in threads:
        t.join()
    assert bad == []
    assert catalogue.names() == ["a19", "b19"]


def test_GIVEN_enum_param_WHEN_only_enum_members_edited_THEN_choices_updated(tmp_path):
    source = "from enum import Enum\n\n\nclass Mode(Enum):\n    FAST = 1\n{extra}\n\n" + (
        "def go(mode: Mode = Mode.FAST):\n    pass\n"
    )
    path = write(tmp_path, "modes.py", source.format(extra=""))
    catalogue = Catalogue([tmp_path])
    touch_later(path, source.format(extra="    SLOW = 2\n"))
    assert catalogue.reload() is True
    assert catalogue.to_json()[0]["params"][0]["choices"] == ["FAST", "SLOW"]
    assert catalogue.bind("go", ["slow"], {}) == {"mode": "SLOW"}


def test_GIVEN_only_errors_change_WHEN_reloaded_THEN_commands_revision_kept(tmp_path):
    """Checks rest on `commands_revision`: a new COMMANDS:ERRORS entry alone changes no
    check, so it must not have a queued write decided again (the warm-up names slow
    modules one by one)."""
    write(tmp_path, "chopper.py", CHOPPER)
    catalogue = Catalogue([tmp_path])
    revision, commands = catalogue.revision, catalogue.commands_revision

    write(tmp_path, "broken.py", "def broken(:\n")
    assert catalogue.reload()
    assert catalogue.errors and catalogue.revision == revision + 1
    assert catalogue.commands_revision == commands

    write(tmp_path, "sample.py", "def set_temperature(kelvin: float):\n    pass\n")
    assert catalogue.reload()
    assert catalogue.commands_revision == commands + 1
