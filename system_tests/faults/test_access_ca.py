"""Access security with a restricted .acf, for pyepics and caproto identities (issue #10).

Control writes are allowed to the UAG `ops` only. CA identities are what the client
claims (pcaspy-facts.md, section 3), so this checks the server applies the file, not that
it is a security boundary. A denied write never reaches the server: no REPLY.
"""

from __future__ import annotations

import pytest
from campaign import Probe

RESTRICTED_ACF = """\
UAG(ops) {opsuser}
ASG(DEFAULT) { RULE(1, READ) }
ASG(READONLY) { RULE(1, READ) }
ASG(CONTROL) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) }
}
"""


@pytest.fixture
def restricted(start_ioc, tmp_path):
    acf = tmp_path / "restricted.acf"
    acf.write_text(RESTRICTED_ACF)
    return start_ioc(args=["--acf", str(acf)])


def test_GIVEN_restricted_acf_WHEN_writers_of_each_identity_THEN_only_ops_reach_the_server(
    restricted, caproto_context, monkeypatch
):
    import epics
    from caproto.threading.client import Context

    outsider = Probe(caproto_context, restricted.prefix)
    seq = outsider.last_seq()
    response = outsider.pv("QUEUE:HOLD").write([1], wait=True, timeout=10)
    assert response.status.name == "ECA_NOWTACCESS"
    pv = epics.PV(restricted.prefix + "QUEUE:ADD")
    assert pv.wait_for_connection(timeout=10)
    assert pv.write_access is False
    with pytest.raises(epics.ca.CASeverityException):
        pv.put(b"set_ei(25)\0", wait=True, timeout=10)
    assert outsider.replies_after(seq, timeout=0.2) == []
    assert outsider.value("QUEUE:HOLD") == 0 and outsider.json("QUEUE") == []

    monkeypatch.setenv("USER", "opsuser")
    monkeypatch.setenv("LOGNAME", "opsuser")
    ops_context = Context()
    try:
        ops = Probe(ops_context, restricted.prefix)
        assert ops.pv("QUEUE:HOLD").write([1], wait=True, timeout=10).status.name == "ECA_NORMAL"
        ops.pv("QUEUE:ADD").write(b"set_ei(25)\0", wait=True, timeout=10)
        (hold, add) = ops.replies_after(seq, wait_for=2)
        assert hold["ok"] and add["ok"] and len(add["job_ids"]) == 1
        assert [job["id"] for job in ops.json("QUEUE")] == add["job_ids"]
    finally:
        ops_context.disconnect()
