"""Edit the part of a running script that has not run yet (as NICOS's "update script").

Runs inside job processes (standard library only, Python 3.8+, no sibling imports but
``_protocol``, so the server imports it too, for the same rule: ``executed_lines_differ``).

How the job executes top-level statements: as one module code object, exactly as before,
so an ordinary job pays nothing. Only while an edit is waiting does the tracer's checkpoint
look at the lines of the module's own code object: when the module frame reaches the first
line of a later top-level statement, the statements before it have all run. The edit is
checked there (every line up to the end of the last executed statement unchanged, and no
statement of the new text straddling that end) and either refused or applied: ``ScriptEdited``
is raised in the module frame, which is between two top-level statements and so inside no
``try:`` or ``with`` of the job; the launcher catches it and executes the new text's later
statements, compiled with their own line numbers, in the same namespace. An edit waiting when
the script's last statement has run is applied after it the same way.

``ast`` is imported only when an edit arrives.
"""

from __future__ import annotations

import linecache
import sys
import threading

try:  # the server imports the package; a job process has this directory on sys.path
    from . import _protocol as protocol
except ImportError:
    import _protocol as protocol


class ScriptEdited(BaseException):
    """Raised between two top-level statements: run ``code`` (the edited rest) instead."""

    def __init__(self, code):
        super().__init__("the script was edited")
        self.code = code


def statement_spans(source, filename="<script>"):
    """``[(first line, last line)]`` of each top-level statement of ``source``.

    Raises:
        SyntaxError: ``source`` does not compile.
    """
    import ast

    tree = ast.parse(source, filename)
    spans = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        spans.append((first, node.end_lineno))
    return spans


def executed_lines_differ(old_source, new_source, executed_end, filename="<script>"):
    """Why ``new_source`` cannot replace ``old_source`` once lines up to ``executed_end`` ran.

    Args:
        old_source: the text running now.
        new_source: the edited text.
        executed_end: the last line of the last top-level statement that has run (or is
            running); 0 when none has.
        filename: for messages of syntax errors.

    Returns:
        None when the edit is acceptable, else a message naming the line, e.g. ``"line 3
        has already run and may not change: it was 'x = 1', the edit has 'x = 2'"``.
    """
    old_lines = old_source.splitlines()
    new_lines = new_source.splitlines()
    for number in range(1, executed_end + 1):
        old = old_lines[number - 1] if number <= len(old_lines) else ""
        new = new_lines[number - 1] if number <= len(new_lines) else None
        if new is None or old.rstrip() != new.rstrip():
            shown = "nothing" if new is None else repr(new.strip()[:60])
            return (
                f"line {number} has already run and may not change: it was "
                f"{old.strip()[:60]!r}, the edit has {shown}"
            )
    try:
        spans = statement_spans(new_source, filename)
    except SyntaxError as exc:
        return f"the edit does not compile: line {exc.lineno}: {exc.msg}"
    for first, last in spans:
        if first <= executed_end < last:
            return (
                f"the edit extends the statement at line {first}, which has already run "
                f"(it ended at line {executed_end})"
            )
    return None


def remainder_code(new_source, filename, executed_end):
    """The top-level statements of ``new_source`` after line ``executed_end``, compiled."""
    import ast

    tree = ast.parse(new_source, filename)
    rest = [node for node in tree.body if node.lineno > executed_end]
    return compile(ast.Module(body=rest, type_ignores=[]), filename, "exec")


class ScriptEditor:
    """Edits of the running script, from the request (receiver thread) to the switch (main).

    Args:
        filename: the job's filename (what its code was compiled with).
        source: the job's source text.
        module_code: the code object being executed as the job's module.
        report: called with the ``edited`` message for the server.
        on_pending: called with True when an edit starts waiting, False when it is done
            (makes the tracer call the checkpoint at every line meanwhile).
    """

    def __init__(self, filename, source, module_code, report, on_pending):
        self.filename = filename
        self.source = source
        self.module_code = module_code
        self._report = report
        self._on_pending = on_pending
        self._lock = threading.Lock()
        self.pending = None  # (edit id, new source)
        self._spans = None
        self._current = None  # index of the top-level statement running when asked
        self.finished = False

    # -- receiver thread ------------------------------------------------------------------

    def request(self, edit_id, new_source):
        """An edit arrived: it takes effect before the next top-level statement."""
        with self._lock:
            if self.finished:
                return self._refuse(edit_id, "the script has already ended")
            if self.pending is not None:
                return self._refuse(edit_id, "an earlier edit is still waiting")
            try:
                spans = statement_spans(self.source, self.filename)
            except SyntaxError:  # the running text compiled, so this does not happen
                return self._refuse(edit_id, "the running script cannot be parsed")
            line = self._module_line()
            self._spans = spans
            self._current = self._index(line) if line is not None else None
            self.pending = (edit_id, new_source)
        self._on_pending(True)
        return None

    def _module_line(self):
        """The line the job's module frame is executing now, or None."""
        frame = sys._current_frames().get(threading.main_thread().ident)
        while frame is not None and frame.f_code is not self.module_code:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else None

    def _index(self, line):
        for index, (first, last) in enumerate(self._spans):
            if first <= line <= last:
                return index
        return None

    # -- main thread ----------------------------------------------------------------------

    def at_line(self, code, line):
        """Tracer checkpoint while an edit waits: switch at a new top-level statement.

        Raises:
            ScriptEdited: the edit is applied; the launcher runs ``code`` next.
        """
        if code is not self.module_code or self.pending is None:
            return
        index = self._index(line)
        if index is None or index == self._current:
            return
        if self._current is None or index < self._current:
            self._current = index  # the first line seen: the statement running now
            return
        executed_end = self._spans[index - 1][1] if index > 0 else 0
        code = self._apply(executed_end, line)
        if code is not None:
            raise ScriptEdited(code)

    def at_end(self):
        """The script's last statement has run: the code of a waiting edit's rest, or None."""
        with self._lock:
            self.finished = True
            waiting = self.pending is not None
        if not waiting:
            return None
        end = self._spans[-1][1] if self._spans else len(self.source.splitlines())
        code = self._apply(end, None)
        if code is not None:
            with self._lock:
                self.finished = False
        return code

    def _apply(self, executed_end, line):
        with self._lock:
            edit_id, new_source = self.pending
            self.pending = None
        self._on_pending(False)
        why = executed_lines_differ(self.source, new_source, executed_end, self.filename)
        code = None
        if why is None:
            try:
                code = remainder_code(new_source, self.filename, executed_end)
            except (SyntaxError, ValueError) as exc:
                why = f"the edit does not compile: {exc}"
        if why is not None:
            self._refuse(edit_id, why)
            return None
        old = self.source
        self.source, self.module_code = new_source, code
        linecache.cache[self.filename] = (
            len(new_source),
            None,
            new_source.splitlines(True),
            self.filename,
        )
        self._spans = statement_spans(new_source, self.filename)
        self._current = None
        self._report(
            {
                "type": protocol.EDITED,
                "edit": edit_id,
                "ok": True,
                "line": line,
                "executed_end": executed_end,
                "message": f"edit applied after line {executed_end}",
                "changed": old != new_source,
            }
        )
        return code

    def _refuse(self, edit_id, why):
        self._report({"type": protocol.EDITED, "edit": edit_id, "ok": False, "message": why})
