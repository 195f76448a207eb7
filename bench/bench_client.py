"""What the Python client and the console tool cost, against raw CA in the same run.

Starts the real IOC and measures, as medians:
- a raw put with callback of call text to QUEUE:ADD (the baseline: one CA write);
- `ScriptServerClient.add` (the same write with a request id, plus two REPLY reads to find
  this write's reply);
- `ScriptServerClient.hold` (a write matched by the REPLY sequence number);
- one `scriptserver status` process (interpreter start, pyepics, connecting, reads),
  against `python -c pass` (the cost of any new interpreter).

Usage: python bench/bench_client.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys

from common import ROOT, ms, python_startup, start_ioc, timed

from scriptserver_ioc.client import ScriptServerClient
from scriptserver_ioc.client.channels import encode_text

QUICK = "--quick" in sys.argv


def main() -> None:
    ioc, prefix = start_ioc("--preflight-workers", "0")
    client = ScriptServerClient(prefix, timeout=30)
    client.hold()
    repeat = 30 if QUICK else 200
    add_pv = client.pv("QUEUE:ADD")
    raw = timed(lambda: add_pv.put(encode_text("set_ei(25)"), wait=True, timeout=30), repeat)
    typed = timed(lambda: client.add("set_ei(25)"), repeat)
    hold = timed(client.hold, repeat)
    client.clear()
    command = [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", prefix, "status"]
    runs = 5 if QUICK else 20
    tool = timed(lambda: subprocess.run(command, cwd=ROOT, check=True, capture_output=True), runs)
    bare = python_startup(runs)
    base = ms(raw)
    print(f"baseline: raw put with callback of call text to QUEUE:ADD {base:.2f} ms")
    print(f"client.add (request id, reply matched)   {ms(typed):8.2f} ms  x{ms(typed) / base:.2f}")
    print(f"client.hold (reply matched by sequence)  {ms(hold):8.2f} ms  x{ms(hold) / base:.2f}")
    print(
        f"scriptserver status (new process)       {ms(tool):8.1f} ms  "
        f"(python -c pass {ms(bare):.1f} ms; x{ms(tool) / ms(bare):.1f})"
    )
    print(f"medians of {repeat} writes and {runs} processes")
    import epics

    epics.ca.finalize_libca()  # before the IOC stops: no "circuit reset" message


if __name__ == "__main__":
    main()
