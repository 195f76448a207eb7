"""The Phoebus screens in `opi/`: structure, PVs and the values their buttons write.

Phoebus cannot run here (see shared/reference/ibex-gui-nicos-phoebus.md 4.2), so this
checks what that reference fixes: root `display` 2.0.0, known widget type/version pairs,
`format` 6 on char waveforms, well-formed `write_pv` actions, and every `$(P)` PV in the
PV table with a type the widget can show or write.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scriptserver_ioc.contract.pvtable import BY_NAME

OPI = Path(__file__).resolve().parent.parent / "opi"
SCREENS = sorted(OPI.glob("*.bob"))

WIDGET_VERSIONS = {
    "label": "2.0.0",
    "textupdate": "2.0.0",
    "combo": "2.0.0",
    "progressbar": "2.0.0",
    "action_button": "3.0.0",
    "textentry": "3.0.0",
    "picture": "2.0.0",
}
SHOWS = {  # widget -> PV types it can show
    "textupdate": {"char", "int", "float", "enum", "string"},
    "progressbar": {"int", "float"},
    "combo": {"enum"},
    "textentry": {"char"},
}


def _pv(name: str):
    match = re.fullmatch(r"\$\(P\)([A-Z0-9_:]+)", name)
    assert match, f"PV name {name!r} is not $(P)<name>"
    assert match.group(1) in BY_NAME, f"{match.group(1)} is not in the PV table"
    return BY_NAME[match.group(1)]


def _accepts(pv, value: str) -> bool:
    """Whether the server takes `value` written to `pv` (as the driver decodes it)."""
    if pv.type == "enum":
        index = int(value) if value.isdigit() else pv.enums.index(value)
        return 0 <= index < len(pv.enums) and pv.enums[index] != "NONE"
    if pv.type == "int":
        return value == "1"
    return pv.type == "char" and bool(value)


def test_GIVEN_opi_dir_THEN_both_screens_and_readme_exist():
    assert {p.name for p in SCREENS} == {"overview.bob", "history.bob", "plot.bob"}
    readme = (OPI / "README.md").read_text()
    assert all(p.name in readme for p in SCREENS)


@pytest.mark.parametrize("path", SCREENS, ids=lambda p: p.name)
def test_GIVEN_screen_THEN_structure_pvs_and_actions_are_valid(path):
    root = ET.parse(path).getroot()
    assert root.tag == "display" and root.get("version") == "2.0.0"
    assert root.findtext("name") and root.find("macros/P") is not None
    names = set()
    for widget in root.iter("widget"):
        kind, name = widget.get("type"), widget.findtext("name")
        assert WIDGET_VERSIONS.get(kind) == widget.get("version"), (kind, widget.get("version"))
        assert name and name not in names, f"widget name {name!r} missing or repeated"
        names.add(name)
        for geometry in ("x", "y", "width", "height"):
            assert int(widget.findtext(geometry)) >= 0
        pv_name = widget.findtext("pv_name")
        if kind in SHOWS:
            pv = _pv(pv_name)
            assert pv.type in SHOWS[kind], f"{kind} cannot show {pv.name} ({pv.type})"
            if pv.type == "char":
                assert widget.findtext("format") == "6", f"{name}: char waveform without format 6"
            if kind in ("combo", "textentry"):
                assert pv.control, f"{name} writes the read-only {pv.name}"
        for rule in widget.iter("rule"):
            pv = _pv(rule.findtext("pv_name"))
            if rule.get("out_exp") == "true":  # a picture's file is the PV's text (a path)
                assert (kind, rule.get("prop_id"), pv.type) == ("picture", "file", "char")
                continue
            for exp in rule.iter("exp"):
                index = int(exp.get("bool_exp").split("==")[1])
                assert pv.type == "enum" and 0 <= index < len(pv.enums), (pv.name, index)
        actions = widget.findall("actions/action")
        if kind == "action_button":
            assert actions, f"{name} has no action"
            if widget.findtext("show_confirm_dialog") == "true":
                assert widget.findtext("confirm_message")
        for action in actions:
            assert action.get("type") == "write_pv"
            pv = _pv(action.findtext("pv_name"))
            value = action.findtext("value")
            assert pv.control and _accepts(pv, value), f"{name}: {value!r} to {pv.name}"


def test_GIVEN_overview_THEN_queue_slots_have_move_and_remove_buttons():
    root = ET.parse(OPI / "overview.bob").getroot()
    writes = {(a.findtext("pv_name"), a.findtext("value")) for a in root.iter("action")}
    for n in range(1, 11):
        for action in ("1", "2", "4"):  # UP, DOWN, REMOVE
            assert (f"$(P)QUEUE:{n}:ACTION", action) in writes
    for pv, value in (("PAUSE", "1"), ("RESUME", "1"), ("ABORT", "1"), ("QUEUE:HOLD", "1")):
        assert (f"$(P){pv}", value) in writes
    assert ("$(P)QUEUE:HOLD", "0") in writes


def test_GIVEN_generator_THEN_committed_screens_are_its_output(tmp_path):
    code = (
        "import runpy, sys; from pathlib import Path\n"
        "ns = runpy.run_path(sys.argv[1])\n"
        "for name, build in ns['SCREENS'].items(): build().write(Path(sys.argv[2]) / name)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(OPI / "make_screens.py"), str(tmp_path)], check=True
    )
    for path in SCREENS:
        assert (tmp_path / path.name).read_text() == path.read_text(), (
            f"{path.name} differs from opi/make_screens.py: run python opi/make_screens.py"
        )


@pytest.mark.parametrize("screen", SCREENS, ids=lambda p: p.name)
def test_GIVEN_screen_THEN_every_widget_lies_inside_the_display(screen):
    root = ET.parse(screen).getroot()
    width, height = int(root.findtext("width")), int(root.findtext("height"))
    if screen.name in ("history.bob", "plot.bob"):  # opened beside others: fit 640 px
        assert height <= 640, f"{screen.name} is {height} px high"
    for widget in root.iter("widget"):
        x, y = int(widget.findtext("x")), int(widget.findtext("y"))
        w, h = int(widget.findtext("width")), int(widget.findtext("height"))
        name = widget.findtext("name")
        assert x + w <= width and y + h <= height, f"{screen.name}: {name} ends outside"
