"""The reader on a corpus of tricky sources: what is a command and what it looks like."""

import json
import os
import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.catalogue.reader import MAX_FILE_BYTES, read_command_file

CORPUS = Path(__file__).parent / "catalogue_corpus"


def read(name):
    result = read_command_file(CORPUS / name)
    assert result.errors == []
    return {c.name: c for c in result.commands}


def params(command):
    return {p.name: p for p in command.params}


@pytest.fixture(scope="module")
def corpus():
    return Catalogue([CORPUS])


def test_GIVEN_corpus_WHEN_read_THEN_no_module_is_imported(corpus):
    assert "decorated" not in sys.modules
    assert "script_definition" not in sys.modules
    assert corpus.errors == []


def test_GIVEN_corpus_WHEN_read_THEN_exactly_the_expected_commands_exist(corpus):
    assert corpus.names() == sorted(
        [
            "wrapped",
            "twice_wrapped",
            "with_defaults",
            "local_command",
            "cset_like",
            "marked_plain",
            "marked_by_attribute",
            "arglist_by_attribute",
            "outer",
            "alias",
            "platform_command",
            "with_numpy",
            "kinds",
            "star_only",
            "no_params",
            "measure",
            "only_estimated",
            "estimate_orphan_total",
            "script_definition",
            "typed",
            "set_wavelength",
            "numpy_style",
            "google_typed",
            "undocumented",
            "listed",
            "added_later",
            "set_block",
            "measure_frames",
        ]
    )


def test_GIVEN_decorated_functions_WHEN_read_THEN_signature_comes_from_the_def():
    commands = read("decorated.py")
    assert commands["wrapped"].signature == "wrapped(energy: float, wait: bool = True)"
    assert params(commands["wrapped"])["energy"].description == "energy in meV."
    assert commands["twice_wrapped"].signature == "twice_wrapped(count: int = 1)"
    assert "_logged" not in commands and "_retry" not in commands


def test_GIVEN_expression_defaults_WHEN_read_THEN_literals_are_values_and_others_source_text():
    p = params(read("defaults.py")["with_defaults"])
    assert (p["timeout"].default, p["timeout"].default_expression) == ("60 * 5", True)
    assert (p["when"].default, p["when"].default_expression) == ("time.time()", True)
    assert (p["pair"].default, p["pair"].default_expression) == ([1, 2], False)
    assert p["negative"].default == -1.5
    assert p["infinite"].default == "float('inf')"
    assert p["nan_literal"].default_expression is True  # 1e999 is infinite: not JSON
    assert (p["mode"].default, p["mode"].default_expression) == ("FAST", False)
    assert p["table"].default == {"a": 1}
    assert (p["nothing"].default, p["nothing"].required) == (None, False)
    assert p["text"].default == "Å"
    assert p["flags"].default == "frozenset()"
    assert p["data"].default == "b'raw'"


def test_GIVEN_every_parameter_kind_WHEN_read_THEN_kinds_required_and_signature_are_right():
    command = read("parameters.py")["kinds"]
    kinds = {p.name: (p.kind, p.required) for p in command.params}
    assert kinds == {
        "a": ("positional_only", True),
        "b": ("positional_or_keyword", True),
        "c": ("positional_or_keyword", False),
        "rest": ("var_positional", False),
        "d": ("keyword_only", True),
        "e": ("keyword_only", False),
        "options": ("var_keyword", False),
    }
    assert command.signature == (
        "kinds(a, /, b: int, c: float = 2.0, *rest: int, d: str, e: bool = False, **options)"
    )
    assert params(command)["rest"].description == "extra positional values."
    assert params(command)["options"].description == "extra keywords."
    assert read("parameters.py")["star_only"].signature == "star_only(*, key: str = 'x')"


def test_GIVEN_nested_functions_classes_lambdas_async_WHEN_read_THEN_none_are_commands():
    commands = read("nested.py")
    assert set(commands) == {"outer", "platform_command", "with_numpy", "alias"}
    assert params(commands["platform_command"])["path"].default == "/data"  # last def wins
    # `alias = outer` is a command too (issue 13), found as an alias, with outer's signature
    assert commands["alias"].found == "alias" and commands["outer"].found == "def"
    assert commands["alias"].signature == "alias(x: int = 1)"
    assert commands["alias"].line == 54


def test_GIVEN_unicode_docstrings_WHEN_read_THEN_text_and_param_descriptions_survive_in_json():
    commands = read("unicode_docs.py")
    wavelength = commands["set_wavelength"]
    assert wavelength.description == "Sélectionne la longueur d'onde λ (en Å) — 中子."
    assert params(wavelength)["unit"].description == "unité (« Å » ou « nm »)."
    text = json.dumps(wavelength.to_json(), ensure_ascii=True)
    assert json.loads(text)["description"] == wavelength.description


def test_GIVEN_numpy_style_docstring_WHEN_read_THEN_params_are_described():
    command = read("unicode_docs.py")["numpy_style"]
    assert command.description == "Sets the magnet current (µA) at a temperature in °C."
    assert params(command)["current"].description == "magnet current in µA"
    assert params(command)["temperature"].description == "temperature in °C"


def test_GIVEN_types_only_in_docstring_WHEN_read_THEN_type_shown_from_docstring_not_enforced():
    p = params(read("unicode_docs.py")["google_typed"])
    assert (p["frames"].type, p["frames"].type_source, p["frames"].spec.kind) == (
        "int",
        "docstring",
        "any",
    )
    undocumented = read("unicode_docs.py")["undocumented"]
    assert undocumented.description == "" and params(undocumented)["x"].type is None


def test_GIVEN_imported_functions_WHEN_read_THEN_only_local_defs_are_commands():
    assert set(read("imports.py")) == {"local_command"}


def test_GIVEN_dunder_all_WHEN_read_THEN_only_listed_public_local_functions_are_commands():
    assert list(read("with_all.py")) == ["listed", "added_later"]


def test_GIVEN_companions_WHEN_read_THEN_flags_set_and_companions_are_not_commands():
    commands = read("companions.py")
    assert set(commands) == {"measure", "only_estimated", "estimate_orphan_total"}
    assert (commands["measure"].has_estimate, commands["measure"].has_validate) == (True, True)
    only = commands["only_estimated"]
    assert (only.has_estimate, only.has_validate) == (True, False)


def test_GIVEN_usercommand_markers_WHEN_read_THEN_only_marked_unhidden_functions_with_arglist():
    commands = read("markers.py")
    assert set(commands) == {
        "cset_like",
        "marked_plain",
        "marked_by_attribute",
        "arglist_by_attribute",
    }
    assert commands["cset_like"].signature == "cset_like(block[, value][, lowlimit][, highlimit])"
    assert [p.name for p in commands["cset_like"].params] == [
        "block",
        "value",
        "lowlimit",
        "highlimit",
    ]
    assert commands["arglist_by_attribute"].signature == "arglist_by_attribute(a[, b])"
    assert commands["marked_plain"].signature == "marked_plain(x: float = 0.0)"


def test_GIVEN_script_definition_WHEN_read_THEN_one_command_named_after_file_with_string_params():
    commands = read("script_definition.py")
    assert list(commands) == ["script_definition"]
    command = commands["script_definition"]
    assert command.kind == "script_definition"
    assert (command.has_estimate, command.has_validate) == (True, True)
    assert command.description == "An example config to show a looping mechanism."
    assert command.doc.splitlines()[-1] == "Second line."
    p = params(command)
    assert [n for n in p] == ["start_temp", "stop_temp", "step_temp", "status"]
    assert all(x.type == "str" and not x.required for x in p.values())
    assert (p["start_temp"].default, p["stop_temp"].default) == ("1.0", "2.0")
    assert p["start_temp"].description == "first temperature in K."
    assert p["status"].spec.choice_list() == ["ok", "not_ok"]
    # the signature says what the table says: strings, with string defaults
    assert command.signature.startswith(
        "script_definition(start_temp: str = '1.0', stop_temp: str = '2.0'"
    )


def test_GIVEN_script_definition_without_literal_help_WHEN_read_THEN_class_docstring_used(
    tmp_path,
):
    source = (CORPUS / "script_definition.py").read_text(encoding="utf-8")
    start = source.index("    def get_help(self):")
    source = source[:start] + "    def get_help(self):\n        return HELP_TEXT\n"
    (tmp_path / "looped.py").write_text(source, encoding="utf-8")
    command = read_command_file(tmp_path / "looped.py").commands[0]
    assert command.name == "looped"
    assert command.description == "Class docstring, used when get_help is not a literal."


def test_GIVEN_script_definition_without_run_WHEN_read_THEN_error_entry(tmp_path):
    path = tmp_path / "broken_sd.py"
    path.write_text("class DoRun(ScriptDefinition):\n    def get_help(self):\n        return 'x'\n")
    result = read_command_file(path)
    assert result.commands == []
    assert result.errors == [{"file": str(path), "line": 1, "message": result.errors[0]["message"]}]
    assert "no run() method" in result.errors[0]["message"]


def test_GIVEN_every_annotation_WHEN_read_THEN_type_kinds_and_choices_are_resolved():
    p = params(read("types_corpus.py")["typed"])
    kinds = {name: param.spec.kind for name, param in p.items()}
    assert kinds == {
        "i": "int",
        "f": "float",
        "s": "str",
        "b": "bool",
        "colour": "enum",
        "level": "enum",
        "choice": "literal",
        "numbers": "literal",
        "floats": "list",
        "ints": "list",
        "maybe": "union",
        "pipe": "union",
        "either": "union",
        "mapping": "dict",
        "anything": "any",
        "sample": "any",
        "quoted": "float",
        "qualified": "union",
        "colours": "list",
        "many": "list",
        "untyped": "any",
    }
    assert p["colour"].spec.choice_list() == ["RED", "GREEN", "BLUE"]
    assert p["numbers"].spec.choice_list() == [1, 2, 3]
    assert p["colours"].spec.choice_list() == ["RED", "GREEN", "BLUE"]
    assert p["quoted"].type == "float"
    assert read("types_corpus.py")["typed"].enum_params == {
        "colour": "Colour",
        "level": "Level",
        "colours": "Colour",
    }


def test_GIVEN_empty_file_WHEN_read_THEN_no_commands_and_no_error():
    result = read_command_file(CORPUS / "empty.py")
    assert (result.commands, result.errors) == ([], [])


def test_GIVEN_syntax_error_WHEN_read_THEN_error_with_file_and_line(tmp_path):
    path = tmp_path / "typo.py"
    path.write_text("def ok():\n    pass\n\n\ndef broken(x:\n    pass\n", encoding="utf-8")
    result = read_command_file(path)
    assert result.commands == []
    [error] = result.errors
    assert error["file"] == str(path)
    assert error["line"] in (5, 6)
    assert error["message"].startswith("syntax error: ")


def test_GIVEN_non_utf8_file_WHEN_read_THEN_error_names_the_byte_and_line(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b'"""ok"""\n\n\ndef f():\n    """Temp\xe9rature."""\n')
    [error] = read_command_file(path).errors
    assert error["line"] == 5
    assert "not valid UTF-8" in error["message"] and "0xe9" in error["message"]


def test_GIVEN_declared_latin1_encoding_WHEN_read_THEN_decoded_as_python_would(tmp_path):
    path = tmp_path / "declared.py"
    path.write_bytes(b'# -*- coding: latin-1 -*-\ndef f():\n    """Temp\xe9rature."""\n')
    result = read_command_file(path)
    assert result.errors == [] and result.commands[0].description == "Température."


def test_GIVEN_null_bytes_WHEN_read_THEN_error_not_crash(tmp_path):
    path = tmp_path / "nul.py"
    path.write_bytes(b"def f():\n    pass\n\x00\n")
    [error] = read_command_file(path).errors
    assert error["file"] == str(path)


def test_GIVEN_file_name_not_a_module_name_WHEN_read_THEN_error_says_rename(tmp_path):
    path = tmp_path / "my-commands.py"
    path.write_text("def f():\n    pass\n")
    [error] = read_command_file(path).errors
    assert "not an importable module name" in error["message"]


def test_GIVEN_huge_file_WHEN_read_THEN_error_names_the_limit(tmp_path):
    path = tmp_path / "huge.py"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 10))
    [error] = read_command_file(path).errors
    assert str(MAX_FILE_BYTES) in error["message"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_GIVEN_unreadable_file_WHEN_read_THEN_error_entry(tmp_path):
    path = tmp_path / "secret.py"
    path.write_text("def f():\n    pass\n")
    path.chmod(0)
    [error] = read_command_file(path).errors
    assert error["message"].startswith("cannot read file")


def test_GIVEN_corpus_WHEN_serialised_THEN_strict_json_with_spec_keys(corpus):
    text = json.dumps(corpus.to_json(), ensure_ascii=True, allow_nan=False)
    for entry in json.loads(text):
        assert {"name", "module", "signature", "description", "doc", "params"} <= set(entry)
        assert {"has_estimate", "source", "kind", "has_validate"} <= set(entry)
        for p in entry["params"]:
            assert {"name", "type", "required", "default", "description", "choices"} <= set(p)
    assert corpus.get("wrapped").to_json()["source"] == "decorated.py:22"
