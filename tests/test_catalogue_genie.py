"""genie_python compatibility: what the reader says agrees with genie at run time.

Each check imports the sources for real, with genie_python, in a fresh interpreter (genie
prints and initialises on import), and compares with what the catalogue read statically.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue

pytest.importorskip("genie_python")

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "catalogue_corpus"
COMMANDS = HERE.parent / "commands"


def run_python(code, path, tmp_path, env_extra=None):
    """Run `code` with `path` on sys.path; return the JSON it prints on its last line."""
    env = {"PYTHONPATH": str(path), "SCRIPTSERVER_DEMO_STATE": str(tmp_path / "state.json")}
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_GIVEN_genie_decorated_module_WHEN_read_THEN_matches_genie_markers_at_runtime(tmp_path):
    catalogue = Catalogue([CORPUS])
    runtime = run_python(
        """
        import inspect, json
        import genie_commands as m
        out = {}
        for name, f in vars(m).items():
            if inspect.isfunction(f) and f.__module__ == m.__name__:
                out[name] = {
                    "user": getattr(f, "is_usercommand", False),
                    "hidden": getattr(f, "is_hidden", False),
                    "arglist": getattr(f, "help_arglist", None),
                    "params": list(inspect.signature(f).parameters),
                    "doc": (f.__doc__ or "").strip().splitlines()[0],
                }
        print(json.dumps(out))
        """,
        CORPUS,
        tmp_path,
    )
    # NICOS ListCommands rules: is_usercommand and not is_hidden
    listed = sorted(n for n, f in runtime.items() if f["user"] and not f["hidden"])
    module_commands = sorted(c.name for c in catalogue.commands() if c.module == "genie_commands")
    assert module_commands == listed == ["measure_frames", "set_block"]
    for name in listed:
        command = catalogue.get(name)
        assert [p.name for p in command.params] == runtime[name]["params"]
        assert command.description == runtime[name]["doc"]
        arglist = runtime[name]["arglist"]
        if arglist is not None:
            assert command.signature == f"{name}({arglist})"
    assert catalogue.get("set_block").params[1].type == "float"  # from the docstring


def sd_runtime(module, directory, tmp_path, kwargs_list):
    """Import a script definition for real; report its run signature and checks."""
    return run_python(
        f"""
        import inspect, json
        from genie_python.genie_script_generator import CopyPreviousRow
        from {module} import DoRun
        sd = DoRun()
        params = []
        for name, p in inspect.signature(sd.run).parameters.items():
            default = p.default.value if isinstance(p.default, CopyPreviousRow) else p.default
            params.append([name, str(default)])
        results = []
        for kwargs in {kwargs_list!r}:
            valid = sd.parameters_valid(**kwargs)
            estimate = sd.estimate_time(**kwargs) if valid is None else None
            results.append([valid, estimate])
        print(json.dumps({{"params": params, "help": sd.get_help(), "results": results}}))
        """,
        directory,
        tmp_path,
    )


def test_GIVEN_corpus_script_definition_WHEN_imported_with_genie_THEN_catalogue_agrees(tmp_path):
    command = Catalogue([CORPUS]).get("script_definition")
    defaults = {p.name: p.default for p in command.params}
    runtime = sd_runtime("script_definition", CORPUS, tmp_path, [defaults])
    assert runtime["params"] == [[p.name, p.default] for p in command.params]
    assert command.doc.splitlines() == [
        line.strip() for line in runtime["help"].strip().splitlines()
    ]
    assert runtime["results"] == [[None, 30.0]]


def test_GIVEN_demo_do_sans_WHEN_imported_with_genie_THEN_bound_values_validate_as_catalogue_says(
    tmp_path,
):
    catalogue = Catalogue([COMMANDS])
    command = catalogue.get("do_sans")
    good = catalogue.bind("do_sans", [], {"position": 3, "temperature": 10, "sample": "Fe"})
    too_hot = catalogue.bind("do_sans", [], {"temperature": "500"})
    not_a_number = catalogue.bind("do_sans", [], {"position": "three"})
    defaults = {p.name: p.default for p in command.params}
    runtime = sd_runtime("do_sans", COMMANDS, tmp_path, [defaults, good, too_hot, not_a_number])
    assert runtime["params"] == [[p.name, p.default] for p in command.params]
    assert runtime["help"] == command.doc
    assert all(isinstance(v, str) for v in good.values())
    (default_valid, default_estimate), (good_valid, good_estimate) = runtime["results"][:2]
    # the two counts (1 s + 2 s by default) and their run starts and ends
    assert default_valid is None and default_estimate == pytest.approx(3.04)
    assert good_valid is None and good_estimate == pytest.approx(3.04)
    assert "outside" in runtime["results"][2][0]
    assert "invalid literal for int()" in runtime["results"][3][0]  # cast_parameters_to


def test_GIVEN_demo_do_sans_WHEN_run_with_bound_strings_THEN_beamline_measured(tmp_path):
    catalogue = Catalogue([COMMANDS])
    bound = catalogue.bind("do_sans", [], {"position": 2, "sample": "AgBeh", "temperature": 290})
    bound.update(trans_seconds="0.2", sans_seconds="0.2")
    final = run_python(
        f"""
        import json
        from _beamline import load_state
        from do_sans import DoRun
        error = DoRun().run(**{bound!r})
        assert error is None, error
        print(json.dumps(load_state()))
        """,
        COMMANDS,
        tmp_path,
    )
    assert final["sample_name"] == "AgBeh" and final["sample_position"] == 2
    assert final["temperature"] == 290.0 and final["run_number"] == 1002
