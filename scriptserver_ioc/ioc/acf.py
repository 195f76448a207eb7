"""Checking an EPICS access security file before the CA library loads it.

pcas (EPICS 3.14) prints a parse error such as ``Access rights must be NONE, READ or WRITE
at line 3`` and then crashes the process with SIGSEGV when the server starts with the
broken configuration. So the file is first loaded by the same library in a short-lived
child process; only a file that loads cleanly there is loaded by the server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ..config import ConfigError

_CHECK = """
import sys
from pcaspy import cas
status = cas.asInitFile(sys.argv[1], sys.argv[2])
sys.stderr.flush()
sys.exit(3 if status else 0)
"""
_LINE = re.compile(r"(.*?)\s*at line (\d+)")
CHECK_TIMEOUT = 30.0


class AcfError(ConfigError):
    """The access security file cannot be used; the process ends with exit code 2."""

    exit_code = 2


def check_acf(path: Path, **macros: str) -> None:
    """Load `path` with the CA library in a child process; raise if that fails.

    Args:
        path: the .acf file.
        macros: substitutions as for `SimpleServer.initAccessSecurityFile` (e.g. P=prefix).

    Raises:
        AcfError: one line naming the file, the line and what is wrong.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise AcfError(f"cannot read the access security file {path}: {exc.strerror}") from None
    if b"\0" in text:
        raise AcfError(f"the access security file {path} is not text (it holds NUL bytes)")
    macro = ",".join(f"{key}={value}" for key, value in macros.items())
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHECK, str(path), macro],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHECK_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise AcfError(f"loading the access security file {path} did not finish") from None
    if done.returncode == 0:
        return
    raise AcfError(f"the access security file {path} is invalid: {_first_error(done)}")


def _first_error(done: subprocess.CompletedProcess) -> str:
    """The library's message as `line N: what`, or what is known of the failure."""
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    for line in lines:
        match = _LINE.match(line)
        if match:
            return f"line {match.group(2)}: {match.group(1)}"
    if lines:
        return lines[0]
    if done.returncode < 0:
        return f"the EPICS library crashed on it (signal {-done.returncode})"
    return "the EPICS library refused it without saying why"
