"""The client's PV names (`scriptserver_ioc.pvnames`) agree with the server's PV table."""

from __future__ import annotations

import subprocess
import sys

from scriptserver_ioc import pvnames
from scriptserver_ioc.ioc.pvtable import BY_NAME, PVS


def test_GIVEN_enum_names_THEN_pv_table_has_same_enum_strings_in_order():
    table_enums = {pv.name: pv.enums for pv in PVS if pv.type == "enum"}
    assert table_enums == pvnames.ENUMS


def test_GIVEN_char_names_THEN_every_char_pv_of_table_is_known_to_client_and_vice_versa():
    table_json = {pv.name for pv in PVS if pv.json}
    table_text = {pv.name for pv in PVS if pv.type == "char" and not pv.json and not pv.control}
    table_text_control = {pv.name for pv in PVS if pv.type == "char" and pv.control}
    assert set(pvnames.JSON_PVS) == table_json
    assert set(pvnames.TEXT_PVS) == table_text
    assert set(pvnames.TEXT_CONTROL_PVS) == table_text_control
    assert set(pvnames.REQUEST_ID_PVS) <= table_text_control
    assert all(pvnames.char_pv(name) == (pv.type == "char") for name, pv in BY_NAME.items())


def test_GIVEN_queue_slots_THEN_table_serves_exactly_that_many():
    slots = {name.split(":")[1] for name in BY_NAME if name.endswith(":ID") and "QUEUE:" in name}
    assert slots == {str(n) for n in range(1, pvnames.QUEUE_SLOTS + 1)}


def test_GIVEN_console_only_install_WHEN_client_imported_THEN_no_server_module_or_pcaspy_loaded():
    code = (
        "import sys; sys.modules['pcaspy'] = None\n"
        "from scriptserver_ioc.client import ScriptServerClient\n"
        "import scriptserver_ioc.client.cli\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('scriptserver_ioc.ioc', "
        "'scriptserver_ioc.core', 'scriptserver_ioc.runner', 'scriptserver_ioc.validate')))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
