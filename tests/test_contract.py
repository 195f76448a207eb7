"""The contract package (`scriptserver_ioc/contract/`): standard library only, one home for
each name, every row field checked at import."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from scriptserver_ioc.contract import enums, nicos_status
from scriptserver_ioc.contract.pvmodel import PV, check_control_handlers, check_rows, may_defer
from scriptserver_ioc.contract.pvtable import ALL_PVS, BY_NAME, ENUMS, PVS, char_pv, slot_of
from scriptserver_ioc.ioc.writes import CONTROL_HANDLERS

CONTRACT = Path(__file__).resolve().parent.parent / "scriptserver_ioc" / "contract"
JOB_PROTOCOLS = {"scriptserver_ioc.job._protocol", "scriptserver_ioc.job._checker_protocol"}


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules `path` (a module of contract/) imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.add(f"scriptserver_ioc.contract.{node.module or ''}".rstrip("."))
            elif node.level == 2:
                base = f"scriptserver_ioc.{node.module}"
                found.update(f"{base}.{alias.name}" for alias in node.names)
            else:
                found.add(node.module or "")
    return found


def test_GIVEN_contract_modules_WHEN_imports_read_THEN_standard_library_and_job_protocols_only():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    outside = {
        f"{path.name}: {name}"
        for path in CONTRACT.glob("*.py")
        for name in _imports(path)
        if name.split(".")[0] not in stdlib
        and not name.startswith("scriptserver_ioc.contract")
        and name not in JOB_PROTOCOLS
    }
    assert outside == set()


def test_GIVEN_enum_pvs_WHEN_listed_THEN_strings_come_from_contract_enums_in_order():
    assert ENUMS == {pv.name: pv.enums for pv in ALL_PVS if pv.type == "enum"}
    assert ENUMS["STATE"] == enums.RUN_STATES == tuple(s.value for s in enums.RunState)
    assert ENUMS["LAST:STATE"] == ENUMS["HISTORY:1:STATE"] == enums.LAST_STATES
    assert ENUMS["LAST:STATE"][enums.LAST_STATE_NONE] == "NONE"
    assert ENUMS["QUEUE:HOLD"] == enums.HOLD_MODES and ENUMS["ABORT"] == enums.ABORT_MODES
    assert ENUMS["QUEUE:10:ACTION"] == enums.SLOT_ACTIONS
    # the contract's terminal states, in the order of pv-interface.md
    assert enums.FINISHED_STATES == ("DONE", "FAILED", "ABORTED", "SKIPPED", "INTERRUPTED")


def test_GIVEN_every_pv_WHEN_asked_if_char_THEN_matches_its_type_twins_included():
    assert all(char_pv(name) == (pv.type == "char") for name, pv in BY_NAME.items())
    assert char_pv("QUEUE:ZHEX") and not char_pv("QUEUE:COUNT") and not char_pv("NO:SUCH")


def test_GIVEN_queue_slots_THEN_table_serves_exactly_that_many():
    slots = {slot_of(name) for name in BY_NAME if name.startswith("QUEUE:") and ":ACTION" in name}
    assert slots == set(range(1, enums.QUEUE_SLOTS + 1))


def test_GIVEN_run_states_THEN_each_has_a_nicos_code():
    assert set(nicos_status.BY_RUN_STATE) == set(enums.RunState)
    assert nicos_status.BY_RUN_STATE[enums.RunState.PAUSED] == nicos_status.STATUS_INBREAK


def test_GIVEN_action_pvs_THEN_idle_value_in_table_and_settings_read_back_instead():
    idle = {pv.name for pv in ALL_PVS if pv.idle is not None}
    assert {"PAUSE", "ABORT", "RESUME", "STOP", "QUEUE:CLEAR", "COMMANDS:RELOAD"} <= idle
    assert {f"QUEUE:{n}:ACTION" for n in range(1, enums.QUEUE_SLOTS + 1)} <= idle
    assert not idle & {"QUEUE:HOLD", "QUEUE:ON_ERROR", "JOB:OUTPUT:SELECT", "QUEUE:ADD"}


def test_GIVEN_published_pvs_THEN_deferred_builders_and_intervals_come_from_table():
    from scriptserver_ioc.ioc.publisher import DEFERRED_INTERVALS

    assert DEFERRED_INTERVALS["queue_json"] == DEFERRED_INTERVALS["queue_json_zhex"] == 0.05
    assert DEFERRED_INTERVALS["output"] == 0.2 and DEFERRED_INTERVALS["script"] == 0.0
    assert "counts" not in DEFERRED_INTERVALS and "replies" not in DEFERRED_INTERVALS


def _row(**changes) -> tuple[PV, ...]:
    return tuple(
        dataclasses.replace(pv, **changes) if pv.name == "QUEUE:COUNT" else pv for pv in PVS
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "queue count"}, "upper-case words"),
        ({"name": "QUEUE:ETA"}, "QUEUE:ETA: named twice"),
        ({"type": "long"}, "none of"),
        ({"description": " "}, "no description"),
        ({"count": 5}, "count 5"),
        ({"enums": ("A", "B")}, "only it, lists its enum strings"),
        ({"states": (0, 1)}, "one alarm severity"),
        ({"unit": "s", "type": "string"}, "unit and precision"),
        ({"json": True}, "JSON PV"),
        ({"extra": {"asg": "X"}}, "extra may set only"),
        ({"handler": "add"}, "handler, asyn and idle"),
        ({"asyn": True}, "handler, asyn and idle"),
        ({"idle": 0}, "handler, asyn and idle"),
        ({"builder": "", "topics": ()}, "names its builder and topics"),
        ({"topics": ("weather",)}, "never reports: ['weather']"),
        ({"interval": -1.0}, "rebuild interval"),
        ({"interval": 0.5}, "builder counts: its PVs name different rebuild intervals"),
        ({"topics": ("queue",)}, "builder counts: its PVs name different topics"),
    ],
)
def test_GIVEN_a_wrong_row_field_WHEN_table_checked_THEN_named(changes, message):
    with pytest.raises(ImportError, match="PV table rows are wrong") as raised:
        check_rows(_row(**changes))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("PAUSE", {"handler": ""}, "names its handler"),
        ("PAUSE", {"idle": 7}, "not an index of its enums"),
        ("QUEUE:ADD", {"idle": 0}, "int or enum action PV"),
        ("QUEUE:HOLD", {"idle": 0}, "not read back"),
        ("LAST:STATE", {"extra": {"value": 9}}, "initial value"),
    ],
)
def test_GIVEN_a_wrong_control_or_enum_row_WHEN_checked_THEN_named(name, changes, message):
    table = tuple(dataclasses.replace(pv, **changes) if pv.name == name else pv for pv in PVS)
    with pytest.raises(ImportError, match=message):
        check_rows(table)


def test_GIVEN_real_table_WHEN_rows_checked_THEN_accepted():
    check_rows(ALL_PVS)


def test_GIVEN_handlers_WHEN_read_THEN_those_returning_a_later_defer():
    assert may_defer(CONTROL_HANDLERS["add"]) and may_defer(CONTROL_HANDLERS["update"])
    assert not may_defer(CONTROL_HANDLERS["pause"])
    assert not may_defer(CONTROL_HANDLERS["select_output"])  # a Quick: decided at once


def test_GIVEN_asyn_flag_disagreeing_with_handler_WHEN_checked_THEN_named():
    table = tuple(
        dataclasses.replace(pv, asyn=not pv.asyn) if pv.name in ("QUEUE:ADD", "ABORT") else pv
        for pv in ALL_PVS
    )
    with pytest.raises(ImportError) as raised:
        check_control_handlers(table, CONTROL_HANDLERS)
    assert "ABORT (asyn=True, handler abort never defers)" in str(raised.value)
    assert "QUEUE:ADD (asyn=False, handler add may defer)" in str(raised.value)


def test_GIVEN_handler_without_return_annotation_WHEN_checked_THEN_refused():
    def shuffle(server, op, value):
        return None

    with pytest.raises(ImportError, match="shuffle must annotate what it returns"):
        check_control_handlers(ALL_PVS, {**CONTROL_HANDLERS, "move": shuffle})


def test_GIVEN_console_only_install_WHEN_client_imported_THEN_no_server_module_or_pcaspy_loaded():
    code = (
        "import sys; sys.modules['pcaspy'] = None\n"
        "from scriptserver_ioc.client import ScriptServerClient\n"
        "import scriptserver_ioc.client.cli\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('scriptserver_ioc.ioc', "
        "'scriptserver_ioc.core', 'scriptserver_ioc.runner', 'scriptserver_ioc.validate', "
        "'scriptserver_ioc.job', 'scriptserver_ioc.store', 'scriptserver_ioc.nicos')))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
