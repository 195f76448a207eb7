"""Binding job arguments to signatures and coercing them: every type, every failure."""

import json

import pytest

from scriptserver_ioc.catalogue import BindError, Catalogue

SOURCE = '''
from enum import Enum
from typing import Any, Dict, List, Literal, Optional, Union


class Colour(Enum):
    RED = 1
    GREEN = "green"


def set_ei(energy: float, wait: bool = True):
    """Positions the choppers."""


def one_int(n: int): ...
def one_float(x: float): ...
def one_bool(flag: bool): ...
def one_str(text: str): ...
def one_enum(colour: Colour = Colour.RED): ...
def one_literal(mode: Literal["linear", "log"] = "linear"): ...
def int_literal(n: Literal[1, 2, 3]): ...
def floats(points: List[float]): ...
def ints(values: list[int]): ...
def colours(cs: List[Colour]): ...
def optional(rate: Optional[float] = None): ...
def pipe_optional(rate: int | None): ...
def either(v: Union[int, str]): ...
def mapping(d: Dict[str, int]): ...
def anything(a: Any, b): ...
def exprdefault(timeout: float = 60 * 5, n: int = 1): ...
def kinds(a, /, b: int, c: float = 2.0, *rest: int, d: str, e: bool = False, **options: float): ...
def star(*names: str): ...
def no_params(): ...
'''

SCRIPT_DEFINITION = """
from enum import Enum
from genie_python.genie_script_generator import ScriptDefinition


class DoRun(ScriptDefinition):
    enum_params = ["status"]

    class status_enum(Enum):
        ok = 1
        bad = 2

    def run(self, temperature: float = 1.0, name="", status="ok", count=CopyPreviousRow(3)):
        pass
"""


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    directory = tmp_path_factory.mktemp("commands")
    (directory / "binding_cmds.py").write_text(SOURCE, encoding="utf-8")
    (directory / "do_loop.py").write_text(SCRIPT_DEFINITION, encoding="utf-8")
    catalogue = Catalogue([directory])
    assert catalogue.errors == []
    return catalogue


def fails(catalogue, name, args=(), kwargs=None):
    with pytest.raises(BindError) as info:
        catalogue.bind(name, list(args), kwargs or {})
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_GIVEN_spec_examples_WHEN_bound_THEN_exact_messages(catalogue):
    assert catalogue.bind("set_ei", [25], {}) == {"energy": 25.0, "wait": True}
    assert fails(catalogue, "set_ei", [], {"energy": "abc"}) == (
        "set_ei: parameter 'energy' expects float, got 'abc'"
    )
    assert fails(catalogue, "set_ei") == "set_ei: missing required argument 'energy'"


def test_GIVEN_result_WHEN_bound_THEN_ordered_as_signature_with_defaults_filled(catalogue):
    bound = catalogue.bind("set_ei", [], {"wait": "false", "energy": "25"})
    assert list(bound.items()) == [("energy", 25.0), ("wait", False)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(25, 25), (25.0, 25), ("25", 25), (" 25 ", 25), ("25.0", 25), ("1e3", 1000), (-3, -3)],
)
def test_GIVEN_int_param_WHEN_integral_value_THEN_int(catalogue, value, expected):
    result = catalogue.bind("one_int", [value], {})["n"]
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [2.5, True, False, "2.5", "abc", "", None, [1], float("nan")])
def test_GIVEN_int_param_WHEN_non_integral_or_bool_THEN_error(catalogue, value):
    assert fails(catalogue, "one_int", [value]).startswith(
        "one_int: parameter 'n' expects int, got "
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(2, 2.0), (2.5, 2.5), ("2.5", 2.5), ("-1e-3", -0.001)]
)
def test_GIVEN_float_param_WHEN_number_or_numeric_string_THEN_float(catalogue, value, expected):
    result = catalogue.bind("one_float", [value], {})["x"]
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", [True, "abc", None, "nan", float("inf"), "-inf", [1.0]])
def test_GIVEN_float_param_WHEN_bool_text_nan_or_inf_THEN_error(catalogue, value):
    message = fails(catalogue, "one_float", [value])
    assert message.startswith("one_float: parameter 'x' expects float, got ")


def test_GIVEN_float_param_WHEN_nan_THEN_message_says_why(catalogue):
    assert fails(catalogue, "one_float", ["nan"]) == (
        "one_float: parameter 'x' expects float, got 'nan' (NaN and infinity are not accepted)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("true", True), ("False", False)]
    + [("1", True), ("0", False), (" TRUE ", True)],
)
def test_GIVEN_bool_param_WHEN_accepted_forms_THEN_bool(catalogue, value, expected):
    assert catalogue.bind("one_bool", [value], {}) == {"flag": expected}


@pytest.mark.parametrize("value", [2, 1.0, "yes", "", None, "t"])
def test_GIVEN_bool_param_WHEN_other_values_THEN_error(catalogue, value):
    assert fails(catalogue, "one_bool", [value]) == (
        f"one_bool: parameter 'flag' expects bool (true/false, 1/0), got {value!r}"
    )


@pytest.mark.parametrize(("value", "expected"), [("Fe", "Fe"), ("", ""), (42, "42"), (2.5, "2.5")])
def test_GIVEN_str_param_WHEN_string_or_number_THEN_str(catalogue, value, expected):
    assert catalogue.bind("one_str", [value], {}) == {"text": expected}


@pytest.mark.parametrize("value", [True, None, ["a"], {"a": 1}])
def test_GIVEN_str_param_WHEN_bool_none_or_container_THEN_error(catalogue, value):
    assert fails(catalogue, "one_str", [value]).startswith("one_str: parameter 'text' expects str")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("RED", "RED"), ("green", "GREEN"), ("Colour.GREEN", "GREEN"), (1, "RED"), ("green", "GREEN")],
)
def test_GIVEN_enum_param_WHEN_member_name_or_value_THEN_member_name(catalogue, value, expected):
    assert catalogue.bind("one_enum", [value], {}) == {"colour": expected}


def test_GIVEN_enum_param_WHEN_default_THEN_member_name_and_bad_value_lists_members(catalogue):
    assert catalogue.bind("one_enum", [], {}) == {"colour": "RED"}
    assert fails(catalogue, "one_enum", ["BLUE"]) == (
        "one_enum: parameter 'colour' expects Colour, one of 'RED', 'GREEN', got 'BLUE'"
    )
    assert fails(catalogue, "one_enum", [True]).endswith("got True")


def test_GIVEN_literal_param_WHEN_choice_or_not_THEN_choice_or_error(catalogue):
    assert catalogue.bind("one_literal", ["log"], {}) == {"mode": "log"}
    assert catalogue.bind("one_literal", [], {}) == {"mode": "linear"}
    assert fails(catalogue, "one_literal", ["cubic"]) == (
        "one_literal: parameter 'mode' expects one of 'linear', 'log', got 'cubic'"
    )
    assert catalogue.bind("int_literal", ["2"], {}) == {"n": 2}
    assert catalogue.bind("int_literal", [3.0], {}) == {"n": 3}
    assert fails(catalogue, "int_literal", [True]).startswith(
        "int_literal: parameter 'n' expects one of 1, 2, 3"
    )


def test_GIVEN_list_param_WHEN_list_or_json_array_string_THEN_items_coerced(catalogue):
    assert catalogue.bind("floats", [[1, "2.5", 3.0]], {}) == {"points": [1.0, 2.5, 3.0]}
    assert catalogue.bind("floats", ["[1, 2]"], {}) == {"points": [1.0, 2.0]}
    assert catalogue.bind("ints", [(1, "2")], {}) == {"values": [1, 2]}
    assert catalogue.bind("colours", [["red", "GREEN"]], {}) == {"cs": ["RED", "GREEN"]}


def test_GIVEN_list_param_WHEN_bad_item_or_not_list_THEN_error_names_item(catalogue):
    assert fails(catalogue, "floats", [[1, "x"]]) == (
        "floats: parameter 'points' expects List[float], got [1, 'x'] "
        "(item 1 expects float, got 'x')"
    )
    assert (
        fails(catalogue, "floats", [1.0])
        == "floats: parameter 'points' expects List[float], got 1.0"
    )
    assert fails(catalogue, "floats", ["[1,"]).endswith("(not a valid JSON array)")


def test_GIVEN_optional_param_WHEN_null_or_value_THEN_accepted(catalogue):
    assert catalogue.bind("optional", [], {}) == {"rate": None}
    assert catalogue.bind("optional", [None], {}) == {"rate": None}
    assert catalogue.bind("optional", ["1.5"], {}) == {"rate": 1.5}
    assert catalogue.bind("pipe_optional", [None], {}) == {"rate": None}
    assert fails(catalogue, "optional", ["fast"]) == (
        "optional: parameter 'rate' expects Optional[float], got 'fast'"
    )
    assert fails(catalogue, "pipe_optional", [2.5]) == (
        "pipe_optional: parameter 'rate' expects int | None, got 2.5"
    )


def test_GIVEN_union_param_WHEN_bound_THEN_first_member_that_fits(catalogue):
    assert catalogue.bind("either", ["12"], {}) == {"v": 12}
    assert catalogue.bind("either", ["twelve"], {}) == {"v": "twelve"}


def test_GIVEN_dict_and_any_params_WHEN_json_values_THEN_unchanged_else_error(catalogue):
    assert catalogue.bind("mapping", [{"a": 1}], {}) == {"d": {"a": 1}}
    assert (
        fails(catalogue, "mapping", [[1]])
        == "mapping: parameter 'd' expects Dict[str, int], got [1]"
    )
    value = {"x": [1, 2.5, None, True, "s"]}
    assert catalogue.bind("anything", [value, (1, 2)], {}) == {"a": value, "b": [1, 2]}
    assert fails(catalogue, "anything", [{1, 2}, 0]) == (
        "anything: parameter 'a' expects a JSON value (null, boolean, number, string, list or "
        "object), got {1, 2}"
    )
    assert "expects a JSON value" in fails(catalogue, "anything", [float("nan"), 0])


def test_GIVEN_expression_default_WHEN_omitted_THEN_left_out_for_command_default(catalogue):
    assert catalogue.bind("exprdefault", [], {}) == {"n": 1}
    assert catalogue.bind("exprdefault", ["30"], {}) == {"timeout": 30.0, "n": 1}


def test_GIVEN_all_parameter_kinds_WHEN_bound_THEN_like_python(catalogue):
    bound = catalogue.bind("kinds", [1, "2", 3, 4, "5"], {"d": "x", "gain": "1.5"})
    assert list(bound.items()) == [
        ("a", 1),
        ("b", 2),
        ("c", 3.0),
        ("rest", [4, 5]),
        ("d", "x"),
        ("e", False),
        ("gain", 1.5),
    ]


def test_GIVEN_json_client_WHEN_naming_positional_only_and_star_args_THEN_accepted(catalogue):
    bound = catalogue.bind("kinds", [], {"a": 1, "b": 2, "rest": [7], "d": "x"})
    assert bound == {"a": 1, "b": 2, "c": 2.0, "rest": [7], "d": "x", "e": False}
    assert catalogue.bind("kinds", [], bound) == bound  # rebinding a bound job is stable
    assert catalogue.bind("star", [], {}) == {}
    assert catalogue.bind("star", ["a", 1], {}) == {"names": ["a", "1"]}


def test_GIVEN_kind_violations_WHEN_bound_THEN_clear_errors(catalogue):
    assert fails(catalogue, "kinds", [1, 2], {"b": 3, "d": "x"}) == (
        "kinds: argument 'b' given both by position and by name"
    )
    assert fails(catalogue, "kinds", [1, 2]) == "kinds: missing required argument 'd'"
    assert fails(catalogue, "kinds", []) == ("kinds: missing required arguments 'a', 'b' and 'd'")
    assert fails(catalogue, "kinds", [1, 2, 3, "x"], {"d": "x"}) == (
        "kinds: parameter 'rest' (item 0) expects int, got 'x'"
    )
    assert fails(catalogue, "kinds", [1, 2], {"d": "x", "gain": "loud"}) == (
        "kinds: parameter 'options' (keyword 'gain') expects float, got 'loud'"
    )
    assert "give it by name only as a list" in fails(
        catalogue, "kinds", [1, 2, 3, 4], {"d": "x", "rest": [5]}
    )


def test_GIVEN_too_many_positional_WHEN_bound_THEN_error_lists_parameters(catalogue):
    assert fails(catalogue, "set_ei", [1, True, 3]) == (
        "set_ei: takes at most 2 positional arguments (energy, wait), got 3"
    )
    assert fails(catalogue, "no_params", [1]) == (
        "no_params: takes at most 0 positional arguments (), got 1"
    )


def test_GIVEN_unknown_argument_WHEN_bound_THEN_error_suggests_close_name(catalogue):
    assert fails(catalogue, "set_ei", [], {"enrgy": 25}) == (
        "set_ei: unexpected argument 'enrgy' (did you mean 'energy'?); parameters: energy, wait"
    )
    assert fails(catalogue, "no_params", [], {"x": 1}) == (
        "no_params: unexpected argument 'x'; parameters: none"
    )


def test_GIVEN_unknown_command_WHEN_bound_THEN_error_suggests_close_name(catalogue):
    message = fails(catalogue, "set_eii", [25])
    assert message.startswith(
        "unknown command 'set_eii' (did you mean 'set_ei'?); known commands: "
    )


def test_GIVEN_wrong_container_types_WHEN_bound_THEN_error(catalogue):
    with pytest.raises(BindError) as info:
        catalogue.bind("set_ei", 25, {})
    assert str(info.value) == "set_ei: positional arguments must be a list, got 25"
    with pytest.raises(BindError, match="keyword arguments must be an object"):
        catalogue.bind("set_ei", [], [("energy", 1)])


def test_GIVEN_script_definition_WHEN_bound_THEN_every_value_is_a_string(catalogue):
    assert catalogue.bind("do_loop", [], {"temperature": 25, "name": "Fe", "status": "bad"}) == {
        "temperature": "25",
        "name": "Fe",
        "status": "bad",
        "count": "3",
    }
    assert catalogue.bind("do_loop", [], {"temperature": 2.5}) == {
        "temperature": "2.5",
        "name": "",
        "status": "ok",
        "count": "3",
    }
    assert catalogue.bind("do_loop", [], {"name": True})["name"] == "True"


def test_GIVEN_script_definition_WHEN_bad_values_THEN_errors(catalogue):
    assert fails(catalogue, "do_loop", [], {"temperature": None}) == (
        "do_loop: parameter 'temperature' expects str (script definition parameters are "
        "strings), got None"
    )
    assert fails(catalogue, "do_loop", [], {"status": "maybe"}) == (
        "do_loop: parameter 'status' expects one of 'ok', 'bad', got 'maybe'"
    )
    assert fails(catalogue, "do_loop", [], {"speed": "1"}).startswith(
        "do_loop: unexpected argument 'speed'"
    )


def test_GIVEN_any_binding_WHEN_serialised_THEN_strict_json(catalogue):
    bound = catalogue.bind("kinds", [1, "2", 3, 4], {"d": 5, "x": "1"})
    assert json.loads(json.dumps(bound, allow_nan=False)) == bound
