"""The data directory is private (issue #10, defect 5): before, the database and job logs
were created world-readable next to a 0600 secret.
"""

from __future__ import annotations

import grp
import os
import stat

import pytest
from conftest import wait_until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes (Windows: see README)")


def modes_in(data_dir):
    found = {}
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, data_dir)] = stat.S_IMODE(os.lstat(path).st_mode)
    found["."] = stat.S_IMODE(os.stat(data_dir).st_mode)
    return found


def run_one_job(ioc):
    from scriptserver_ioc.client.client import ScriptServerClient

    client = ScriptServerClient(ioc.prefix)
    (job_id,) = client.add({"script": "print('private output')"})
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=30)
    return client


def test_GIVEN_fresh_data_dir_WHEN_job_ran_THEN_nothing_readable_by_others(start_ioc, tmp_path):
    old = os.umask(0o022)  # a permissive start, as from a login shell
    try:
        ioc = start_ioc()
    finally:
        os.umask(old)
    run_one_job(ioc)
    found = modes_in(ioc.data_dir)
    assert any(name.startswith("logs") and name.endswith(".log") for name in found), found
    assert any(name.endswith(".sqlite") for name in found), found
    exposed = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert not exposed, exposed


def test_GIVEN_existing_world_readable_files_WHEN_started_with_group_THEN_group_only(
    start_ioc, tmp_path
):
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "old.log").write_text("old output")
    os.chmod(data / "logs" / "old.log", 0o666)
    os.chmod(data, 0o777)
    group = grp.getgrgid(os.getgid()).gr_name
    ioc = start_ioc(args=["--data-group", group], data_dir=data)
    run_one_job(ioc)
    found = modes_in(data)
    assert found["."] & 0o7777 == 0o2750
    assert found[os.path.join("logs", "old.log")] == 0o640
    others = {name: oct(mode) for name, mode in found.items() if mode & 0o007}
    assert not others, others
    assert all(os.stat(data / name).st_gid == os.getgid() for name in found)


def test_GIVEN_unknown_group_WHEN_started_THEN_one_line_error(tmp_path):
    from test_startup import run_ioc

    result = run_ioc("--data-dir", str(tmp_path / "d"), "--data-group", "no-such-group-x10")
    assert result.returncode == 1
    assert "no-such-group-x10" in result.stderr and len(result.stderr.splitlines()) == 1
