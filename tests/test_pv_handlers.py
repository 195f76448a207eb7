"""Every control PV of the PV table has exactly one handler in the core."""

from __future__ import annotations

import pytest

from scriptserver_ioc.core.server import CONTROL_HANDLERS
from scriptserver_ioc.ioc.pvtable import CONTROL_PVS, check_control_handlers


def test_GIVEN_real_table_WHEN_checked_THEN_every_control_pv_has_one_handler():
    check_control_handlers(CONTROL_HANDLERS, CONTROL_PVS)
    assert set(CONTROL_HANDLERS) == set(CONTROL_PVS)


def test_GIVEN_pv_without_handler_or_handler_without_pv_WHEN_checked_THEN_both_named():
    handlers = {name: CONTROL_HANDLERS[name] for name in CONTROL_PVS if name != "PAUSE"}
    handlers["QUEUE:SHUFFLE"] = handlers["QUEUE:MOVE"]
    with pytest.raises(ImportError) as raised:
        check_control_handlers(handlers, CONTROL_PVS)
    assert "no handler for ['PAUSE']" in str(raised.value)
    assert "no control PV for handlers ['QUEUE:SHUFFLE']" in str(raised.value)
