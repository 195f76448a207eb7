"""The command checker ends when its server is gone, and leaves no scratch space behind.

Its stdin closing ends it between requests; a module blocking at import or a companion that
never returns keeps it from reading stdin, so it also watches its parent. In the second
test the test itself holds the checker's stdin open, so only the watch on the parent can
end it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from waiting import wait_until

import scriptserver_ioc

CHECKER = Path(scriptserver_ioc.__file__).parent / "job" / "checker.py"


def test_GIVEN_checker_WHEN_its_stdin_closes_THEN_it_ends_and_removes_its_scratch(tmp_path):
    checker = subprocess.run(
        [sys.executable, str(CHECKER)],
        input='{"command_dirs": []}\n',
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert checker.returncode == 0, checker.stderr
    assert '"ready": true' in checker.stdout
    assert not list(tmp_path.glob("scriptserver-checker-*"))


@pytest.mark.skipif(sys.platform == "win32", reason="a Windows process keeps its parent id")
def test_GIVEN_checker_with_stdin_held_open_WHEN_its_server_dies_THEN_it_ends(tmp_path):
    read_end, write_end = os.pipe()
    answers = tmp_path / "answers.jsonl"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys\n"
            f"checker = subprocess.Popen([sys.executable, {str(CHECKER)!r}], stdin={read_end},"
            f" stdout=open({str(answers)!r}, 'w'))\n"
            "print(checker.pid, flush=True)\n"
            "sys.stdin.read()\n",  # lives until the test kills it
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(read_end,),
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    os.close(read_end)
    checker = psutil.Process(int(server.stdout.readline()))
    try:
        os.write(write_end, b'{"command_dirs": []}\n')
        wait_until(lambda: '"ready": true' in answers.read_text(), timeout=60)
        server.kill()
        server.wait()
        wait_until(lambda: not checker.is_running() or checker.status() == "zombie", 30)
        assert not list(tmp_path.glob("scriptserver-checker-*"))
    finally:
        os.close(write_end)
        with contextlib.suppress(psutil.Error):
            checker.kill()
        server.stdin.close()
        server.stdout.close()
