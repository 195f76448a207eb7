"""Slow work of a control write, done off the Channel Access thread and outside the core lock.

A handler that needs slow work (companion checks in the checker process, a catalogue
reparse) decides what it can under the lock, then returns a `Later`: the slow `work`, what
to do with its result (`then`, run under the lock again, in the store transaction) and the
`basis` its decision rests on (e.g. the catalogue revision). The core runs `work` on its
worker and, before `then`, compares the basis: if it changed meanwhile the whole write is
decided again from the start (see `ScriptServer.decide_call`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Later:
    """The rest of a control write after slow work.

    Attributes:
        work: the slow part; runs without any lock of the core. Its exception rejects the
            write (`Rejected` with its message, anything else as an internal error).
        then: `then(result)` finishes the write under the core lock inside the store
            transaction, like a handler (it may raise `Rejected`, or return another `Later`).
        basis: what the decision rests on, read under the lock before and after `work`;
            None if nothing can change under it.
        quick: the work turned out not to be slow (e.g. a command without companions): it
            runs at once in the writer's thread, saving two thread hand-overs.
    """

    work: Callable[[], Any]
    then: Callable[[Any], Later | None]
    basis: Callable[[], Any] | None = None
    quick: bool = False


@dataclass
class Quick(Later):
    """A `Later` whose work is never slow: it always runs at once in the writer's thread.

    A handler that returns only these does not defer (its PV is not `asyn`): the PV table
    checks handlers by their return annotation (`contract.pvmodel.may_defer`).
    """

    quick: bool = True


def inline(task: Callable[[], None]) -> None:
    """A worker that runs the task at once in the caller's thread (tests, scripts)."""
    task()
