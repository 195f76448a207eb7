"""Static checks: syntax and compile errors with lines, names defined nowhere, calls."""

import pytest

from scriptserver_ioc.validate import calls, static

COMPILE_ONLY = [
    "try:\n  pass\nexcept:\n  pass\nexcept ValueError:\n  pass\n",
    "def f(a, a): pass",
    "lambda a, a: 1",
    "x = 1\nglobal x\n",
    "*a = [1]",
    "a, *b, *c = x",
    "def f():\n  from os import *\n",
    "[(yield x) for x in y]",
    "class A:\n  return 1\n",
    "for x in y:\n  def f():\n    break\n",
    "for x in y:\n  pass\nelse:\n  continue\n",
    "while x:\n  pass\nelse:\n  break\n",
    "from __future__ import braces",
    "import a\nfrom __future__ import annotations",
    "for i in x:\n  class A:\n    break\n",
    "async def f():\n  yield 1\n  return 2\n",
    "def g():\n  nonlocal q\n",
]
FINE = [
    "while 1:\n  break\n",
    "def f():\n  return 1\n  yield 2\n",
    "for i in x:\n  for j in y:\n    continue\n  break\n",
    "lambda: (yield)",
    "def f():\n  global g\n  g = 1\n",
    "a, *b = [1, 2, 3]",
    "async def f():\n  await g()\n",
    "match x:\n  case [a, *rest]:\n    pass\n  case {'k': v, **others}:\n    pass\n",
]


@pytest.mark.parametrize("source", COMPILE_ONLY)
def test_GIVEN_error_only_the_compiler_finds_WHEN_analysed_THEN_rejected_at_the_compilers_line(
    source,
):
    with pytest.raises(SyntaxError) as raised:
        compile(source, "<script>", "exec")
    facts, errors = static.analyse(source)
    assert facts is None
    assert errors[0]["line"] == raised.value.lineno
    assert errors[0]["message"].startswith("syntax error")


@pytest.mark.parametrize("source", FINE)
def test_GIVEN_valid_tricky_source_WHEN_analysed_THEN_no_error(source):
    compile(source, "<script>", "exec")
    facts, errors = static.analyse(source)
    assert errors == [] and facts is not None


def test_GIVEN_syntax_error_WHEN_analysed_THEN_line_column_and_offending_text_given():
    _, errors = static.analyse("x = 1\nfor t in [1, 2]\n    print(t)\n")
    assert errors == [
        {
            "line": 2,
            "col": 16,
            "message": "syntax error at column 16: expected ':': for t in [1, 2]",
        }
    ]


def test_GIVEN_bad_indentation_WHEN_analysed_THEN_indentation_error():
    _, errors = static.analyse("if x:\npass\n")
    assert errors[0]["line"] == 2 and errors[0]["message"].startswith("indentation error")


def test_GIVEN_nul_byte_WHEN_analysed_THEN_clear_error():
    facts, errors = static.analyse("x = 1\0")
    assert facts is None
    assert "null" in errors[0]["message"]


def test_GIVEN_every_way_of_binding_a_name_WHEN_checked_THEN_no_warning():
    source = """
import os.path, json as j
from math import pi as PI, tau
def f(a, /, b, *args, c=1, **kw):
    nonlocal_ok = [x for x in args if (y := x)]
    return lambda z: (a, b, c, kw, nonlocal_ok, y, z)
class K:
    attr = 1
for i, (m, n) in enumerate([(1, 2)]):
    pass
with open(__file__) as fh, open(__file__) as (gh):
    pass
try:
    pass
except ValueError as problem:
    pass
def g():
    global late
    late = 1
print(os, j, PI, tau, f, K, i, m, n, fh, gh, problem, late, {k: v for k, v in {}.items()})
match 1:
    case [first, *others]:
        print(first, others)
    case {"k": val, **rest}:
        print(val, rest)
    case Point(x=px) as whole:
        print(px, whole)
"""
    facts, errors = static.analyse(source)
    assert errors == []
    assert static.undefined_name_warnings(facts, {"Point"}) == []


def test_GIVEN_names_defined_nowhere_WHEN_checked_THEN_one_warning_each_at_first_use():
    facts, _ = static.analyse("print(foo)\nfoo2 = bar + 1\nprint(foo)\nset_ei(3)\nlen([])\n")
    warnings = static.undefined_name_warnings(facts, {"set_ei"})
    assert warnings == [
        "line 1: name 'foo' is not defined anywhere (did you mean 'foo2'?)",
        "line 2: name 'bar' is not defined anywhere",
    ]


def test_GIVEN_typo_of_a_command_or_genie_name_WHEN_checked_THEN_nearest_name_suggested():
    facts, _ = static.analyse("set_temprature(5)\nwaitfor_uamp(40)\nxyzzy()\n")
    warnings = static.undefined_name_warnings(facts, {"set_temperature", "set_ei"})
    assert warnings == [
        "line 1: name 'set_temprature' is not defined anywhere (did you mean 'set_temperature'?)",
        "line 2: name 'waitfor_uamp' is not defined anywhere "
        "(did you mean genie's 'g.waitfor_uamps'?)",
        "line 3: name 'xyzzy' is not defined anywhere",
    ]


def test_GIVEN_star_import_WHEN_checked_THEN_names_are_unknowable_and_not_reported():
    facts, _ = static.analyse("from os import *\nprint(whatever)\n")
    assert facts.star_import and static.undefined_name_warnings(facts, set()) == []


def test_GIVEN_prelude_WHEN_top_level_names_collected_THEN_module_scope_only():
    prelude = (
        "from genie_python import genie as g\nfrom inst import *\nimport os.path\nA = 1\n"
        "if A:\n    B = 2\nelse:\n    from x import C\ndef f():\n    global D\n    D = 1\n"
        "    local = 2\nclass K:\n    inner = 1\nfor i in range(2):\n    pass\n"
        "squares = [s * s for s in range(3)]\n"
    )
    names, stars = static.top_level_names(prelude)
    assert names == {"g", "os", "A", "B", "C", "f", "D", "K", "i", "squares"}
    assert stars == ["inst"]


def test_GIVEN_literal_command_calls_WHEN_collected_THEN_args_and_positions_found():
    source = "set_ei(25, wait=False)\nx = 3\nset_ei(x)\nset_ei(*[1])\ncount(-1.5)\nother(1)\n"
    facts, _ = static.analyse(source)
    found = calls.literal_command_calls(facts, {"set_ei", "count"})
    assert [(c.name, c.line, c.col, c.args, c.kwargs) for c in found] == [
        ("set_ei", 1, 1, [25], {"wait": False}),
        ("count", 5, 1, [-1.5], {}),
    ]


def test_GIVEN_script_redefining_a_command_WHEN_calls_collected_THEN_its_calls_are_skipped():
    facts, _ = static.analyse("def set_ei(e):\n    pass\nset_ei('not a float')\n")
    assert calls.literal_command_calls(facts, {"set_ei"}) == []


def test_GIVEN_call_text_WHEN_parsed_THEN_name_and_literal_arguments():
    assert calls.parse_call(" set_ei(25, wait=False, tags=[1, {'a': None}]) ") == (
        "set_ei",
        [25],
        {"wait": False, "tags": [1, {"a": None}]},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("set_ei(x)", "set_ei: argument 'x' is not a literal"),
        ("set_ei(", "was never closed"),
        ("1 + 2", "is not a command call"),
        ("obj.method(1)", "is not a command call"),
        ("set_ei(**k)", "**kwargs is not accepted"),
    ],
)
def test_GIVEN_bad_call_text_WHEN_parsed_THEN_error_says_what_is_expected(text, message):
    with pytest.raises(calls.CallSyntaxError) as raised:
        calls.parse_call(text)
    assert message in str(raised.value)


def test_GIVEN_bare_except_WHEN_checked_THEN_warning_names_the_line():
    facts, _ = static.analyse("try:\n    pass\nexcept:\n    pass\n")
    assert static.bare_except_warnings(facts)[0].startswith("line 3: a bare 'except:'")
