"""Wake the job's main thread out of a blocking call, for a soft abort.

Runs inside job processes: standard library only, Python 3.8+.

A soft abort arrives on the channel's receiver thread while the job's main thread may be
blocked in ``time.sleep``, a socket read or a genie_python wait, where no line runs and
no pause point is reached. CPython runs a Python signal handler in the main thread as
soon as the blocking call returns, and a real signal makes the call return at once
(``EINTR``; CPython retries only when the handler does not raise, PEP 475). So:

- POSIX: ``signal.pthread_kill`` sends ``SIGUSR1`` to the main thread itself (a signal
  sent to the process could be taken by another thread and would not wake the main one).
  ``SIGUSR1`` leaves ``SIGINT`` (Ctrl-C) to the user's own handlers.
- Windows: ``_thread.interrupt_main()`` runs the ``SIGINT`` handler at the main thread's
  next bytecode; a blocking call is not woken by it (not measured here).

A busy C call (one long C function) is interrupted only when it returns to Python.
"""

from __future__ import annotations

import _thread
import signal
import threading

if hasattr(signal, "pthread_kill") and hasattr(signal, "SIGUSR1"):
    INTERRUPT_SIGNAL = signal.SIGUSR1
else:  # Windows
    INTERRUPT_SIGNAL = signal.SIGINT


def install(handler) -> None:
    """Call ``handler(signum, frame)`` in the main thread when ``interrupt_main`` is used.

    Must be called from the main thread.
    """
    signal.signal(INTERRUPT_SIGNAL, handler)


def interrupt_main() -> None:
    """Make the main thread run the installed handler now, waking it from a blocking call."""
    if INTERRUPT_SIGNAL == signal.SIGINT:
        _thread.interrupt_main()
    else:
        signal.pthread_kill(threading.main_thread().ident, INTERRUPT_SIGNAL)
