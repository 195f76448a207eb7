"""Write the Phoebus screens of the script server (`overview.bob`, `history.bob`, `plot.bob`).

The `.bob` files are generated so that every slot row is the same and every PV name comes
from one place; edit this file and run `python opi/make_screens.py` (the test
`tests/test_opi.py` fails when the files and this script disagree). Widget types,
versions and properties follow `shared/reference/ibex-gui-nicos-phoebus.md` section 4.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scriptserver_ioc.contract.enums import QUEUE_SLOTS, SLOT_ACTIONS  # noqa: E402

STATE_COLOURS = {  # STATE index -> background
    0: (200, 200, 200),  # IDLE
    1: (0, 200, 0),  # RUNNING
    2: (255, 220, 0),  # PAUSING
    3: (255, 220, 0),  # PAUSED
    4: (255, 80, 80),  # ABORTING
}
FINISHED_COLOURS = {0: (0, 200, 0), 1: (255, 80, 80), 2: (255, 160, 0), 3: (200, 200, 200)}
"""History state index (DONE, FAILED, ABORTED, SKIPPED) -> background; others default."""


class Screen:
    """One display being built."""

    def __init__(self, name: str, width: int, height: int) -> None:
        self.root = ET.Element("display", version="2.0.0")
        self.names: dict[str, int] = {}
        _text(self.root, "name", name)
        macros = ET.SubElement(self.root, "macros")
        _text(macros, "P", "$(MYPVPREFIX)CS:SCRIPTSERVER:")
        _text(self.root, "width", width)
        _text(self.root, "height", height)

    def widget(self, kind: str, name: str, x: int, y: int, w: int, h: int = 24, **props):
        """Add a widget; `props` become child elements (None values are skipped)."""
        version = "3.0.0" if kind in ("action_button", "textentry") else "2.0.0"
        element = ET.SubElement(self.root, "widget", type=kind, version=version)
        self.names[name] = self.names.get(name, 0) + 1
        _text(element, "name", name if self.names[name] == 1 else f"{name} {self.names[name]}")
        for key, value in props.items():
            if value is not None and key not in ("rules", "actions"):
                _text(element, key, value)
        for key, value in (("x", x), ("y", y), ("width", w), ("height", h)):
            _text(element, key, value)
        if props.get("actions"):
            element.append(props["actions"])
        if props.get("rules"):
            element.append(props["rules"])
        return element

    def label(self, text: str, x: int, y: int, w: int = 120, h: int = 24, bold: bool = False):
        """A static text."""
        element = self.widget("label", f"Label {text}", x, y, w, h, text=text)
        if bold:
            font = ET.SubElement(ET.SubElement(element, "font"), "font", name="Header 3")
            font.set("family", "Liberation Sans")
            font.set("style", "BOLD")
            font.set("size", "16.0")
        return element

    def show(self, pv: str, x: int, y: int, w: int, h: int = 24, text: bool = False, **props):
        """A Text Update of `$(P)pv`; `text` shows a char waveform as a string (format 6)."""
        return self.widget(
            "textupdate",
            f"Show {pv}",
            x,
            y,
            w,
            h,
            pv_name=f"$(P){pv}",
            format=6 if text else None,
            **props,
        )

    def button(self, text: str, pv: str, value: int | str, x: int, y: int, w: int = 90, **kw):
        """An Action Button writing `value` to `$(P)pv`."""
        actions = ET.Element("actions")
        action = ET.SubElement(actions, "action", type="write_pv")
        _text(action, "pv_name", f"$(P){pv}")
        _text(action, "value", value)
        _text(action, "description", text)
        confirm = kw.pop("confirm", None)
        return self.widget(
            "action_button",
            f"Button {text} {pv}",
            x,
            y,
            w,
            26,
            text=text,
            actions=actions,
            show_confirm_dialog="true" if confirm else "false",
            confirm_message=confirm,
            **kw,
        )

    def write(self, path: Path) -> None:
        """Write the display as indented XML."""
        ET.indent(self.root, "  ")
        text = ET.tostring(self.root, encoding="unicode")
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n", "utf-8")


def _text(parent: ET.Element, tag: str, value: object) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element


def colour_rules(pv: str, colours: dict[int, tuple[int, int, int]]) -> ET.Element:
    """A rule setting the background colour from the index of enum PV `$(P)pv`."""
    rules = ET.Element("rules")
    rule = ET.SubElement(rules, "rule", name="state colour", prop_id="background_color")
    rule.set("out_exp", "false")
    for index, (red, green, blue) in colours.items():
        exp = ET.SubElement(rule, "exp", bool_exp=f"pv0 == {index}")
        value = ET.SubElement(exp, "value")
        ET.SubElement(value, "color", red=str(red), green=str(green), blue=str(blue))
    _text(rule, "pv_name", f"$(P){pv}")
    return rules


def overview() -> Screen:
    """State, controls, the current job, the first queued jobs, errors and finish time."""
    s = Screen("Script server", 900, 130 + 30 * QUEUE_SLOTS + 450)
    s.label("Script server", 10, 10, 300, 30, bold=True)
    s.show("SERVER:VERSION", 700, 10, 90)
    s.show("SERVER:HEARTBEAT", 800, 10, 80)
    y = 50
    s.label("State", 10, y, 60)
    s.show("STATE", 70, y, 120, rules=colour_rules("STATE", STATE_COLOURS))
    s.label("Queue", 210, y, 60)
    s.show("QUEUE:HOLD", 270, y, 70)
    s.label("On error", 360, y, 70)
    s.widget("combo", "Combo QUEUE:ON_ERROR", 430, y, 110, pv_name="$(P)QUEUE:ON_ERROR")
    s.label("Finish", 560, y, 60)
    s.show("QUEUE:FINISH", 620, y, 120)
    s.label("ETA (s)", 760, y, 60)
    s.show("QUEUE:ETA", 820, y, 70)
    y = 84
    s.button("Pause", "PAUSE", 1, 10, y)
    s.button("Pause now", "PAUSE", 2, 105, y)
    s.button("Resume", "RESUME", 1, 200, y)
    s.button("Abort", "ABORT", 1, 295, y, confirm="Abort the current job?")
    s.button("Kill", "ABORT", 2, 390, y, confirm="Kill the current job now?")
    s.button("Hold queue", "QUEUE:HOLD", 1, 510, y)
    s.button("Release", "QUEUE:HOLD", 0, 605, y)
    s.button("Stop all", "STOP", 1, 790, y, confirm="Abort the current job and empty the queue?")
    y = 125
    s.label("Current job", 10, y, 200, 26, bold=True)
    y += 32
    s.show("CURRENT:ID", 10, y, 60)
    s.show("CURRENT:NAME:TEXT", 80, y, 560, text=True)
    s.label("line", 650, y, 40)
    s.show("CURRENT:LINE", 690, y, 60)
    y += 30
    s.widget(
        "progressbar",
        "Progress CURRENT:PROGRESS",
        10,
        y,
        440,
        pv_name="$(P)CURRENT:PROGRESS",
        limits_from_pv=False,
        minimum=0.0,
        maximum=100.0,
    )
    s.show("CURRENT:PROGRESS", 460, y, 80, show_units=True)
    s.label("elapsed", 550, y, 60)
    s.show("CURRENT:ELAPSED", 610, y, 80, show_units=True)
    s.label("remaining", 700, y, 80)
    s.show("CURRENT:REMAINING", 780, y, 100, show_units=True)
    y += 30
    s.show("CURRENT:MESSAGE:TEXT", 10, y, 870, text=True)
    y += 30
    s.show("CURRENT:OUTPUT", 10, y, 870, 120, text=True, wrap_words=True)
    y += 130
    s.label("Queue", 10, y, 100, 26, bold=True)
    s.show("QUEUE:COUNT", 110, y, 60)
    s.label("jobs", 175, y, 60)
    y += 30
    for n in range(1, QUEUE_SLOTS + 1):
        s.label(str(n), 10, y, 25)
        s.show(f"QUEUE:{n}:ID", 35, y, 60)
        s.show(f"QUEUE:{n}:NAME", 100, y, 420)
        s.show(f"QUEUE:{n}:ESTIMATE", 525, y, 80, show_units=True)
        action = f"QUEUE:{n}:ACTION"
        s.button("Up", action, SLOT_ACTIONS.index("UP"), 615, y, 60)
        s.button("Down", action, SLOT_ACTIONS.index("DOWN"), 680, y, 60)
        s.button("Top", action, SLOT_ACTIONS.index("TOP"), 745, y, 60)
        remove = SLOT_ACTIONS.index("REMOVE")
        s.button("Remove", action, remove, 810, y, 80, confirm="Remove this job?")
        y += 30
    y += 10
    s.label("Last job", 10, y, 80)
    s.show("LAST:ID", 90, y, 60)
    s.show("LAST:STATE", 155, y, 110, rules=colour_rules("LAST:STATE", FINISHED_COLOURS))
    s.show("LAST:ERROR:TEXT", 270, y, 610, text=True)
    y += 30
    s.label("Refused write", 10, y, 110)
    s.show("LAST_ERROR:TEXT", 120, y, 760, text=True)
    y += 30
    # a command whose module the job interpreter cannot import cannot run: say which
    s.label("Cannot run", 10, y, 110)
    s.show("COMMANDS:ERRORS", 120, y, 760, text=True)
    y += 40
    s.label("Add a job (a command call, e.g. set_ei(25))", 10, y, 400)
    y += 26
    s.widget("textentry", "Entry QUEUE:ADD", 10, y, 870, pv_name="$(P)QUEUE:ADD", format=6)
    return s


HISTORY_HEIGHT = 640
"""The history screen fits a 640-pixel-high display, as the overview does."""


def history() -> Screen:
    """The last job in full and the last finished jobs, newest first."""
    s = Screen("Script server history", 900, HISTORY_HEIGHT)
    s.label("Script server: finished jobs", 10, 10, 400, 30, bold=True)
    y = 50
    s.label("Last job", 10, y, 80)
    s.show("LAST:ID", 90, y, 60)
    s.show("LAST:STATE", 155, y, 110, rules=colour_rules("LAST:STATE", FINISHED_COLOURS))
    y += 30
    s.label("Error", 10, y, 80)
    s.show("LAST:ERROR:TEXT", 90, y, 790, 50, text=True, wrap_words=True)
    y += 64
    for title, x in (("id", 35), ("name", 100), ("ended", 525), ("error", 640)):
        s.label(title, x, y, 80)
    y += 26
    for n in range(1, QUEUE_SLOTS + 1):
        s.label(str(n), 10, y, 25)
        s.show(f"HISTORY:{n}:ID", 35, y, 60)
        s.show(f"HISTORY:{n}:NAME", 100, y, 420)
        state = f"HISTORY:{n}:STATE"
        s.show(state, 525, y, 110, rules=colour_rules(state, FINISHED_COLOURS))
        s.show(f"HISTORY:{n}:ERROR", 640, y, 250)
        y += 30
    y += 10
    s.label("Output of the current (or last) job", 10, y, 400)
    output_height = HISTORY_HEIGHT - (y + 26) - 10  # what is left, with a margin
    s.show("CURRENT:OUTPUT", 10, y + 26, 870, output_height, text=True, wrap_words=True)
    return s


PLOT_HEIGHT = 640
"""The plot screen fits a 640-pixel-high display, as the history does."""


def plot() -> Screen:
    """The newest figure a job saved (`CURRENT:PLOT`, docs/bluesky.md): path and image."""
    s = Screen("Script server newest plot", 900, PLOT_HEIGHT)
    s.label("Script server: newest plot", 10, 10, 400, 30, bold=True)
    s.show("CURRENT:PLOT", 10, 50, 880, text=True)
    y = 84
    picture = file_rule("CURRENT:PLOT")
    s.widget("picture", "Picture CURRENT:PLOT", 10, y, 880, PLOT_HEIGHT - y - 10, rules=picture)
    return s


def file_rule(pv: str) -> ET.Element:
    """A rule setting a Picture's file to the text of char waveform `$(P)pv` (a path).

    `pvStr0` would give a char waveform as its list of codes; `PVUtil.getString(pvs[0],
    True)` gives its text (the rule runs as a Python script where both are defined).
    """
    rules = ET.Element("rules")
    rule = ET.SubElement(rules, "rule", name="newest figure", prop_id="file")
    rule.set("out_exp", "true")
    exp = ET.SubElement(rule, "exp", bool_exp="True")
    _text(exp, "expression", "PVUtil.getString(pvs[0], True)")
    _text(rule, "pv_name", f"$(P){pv}")
    return rules


SCREENS = {"overview.bob": overview, "history.bob": history, "plot.bob": plot}


def main() -> None:
    """Write every screen next to this script."""
    for name, build in SCREENS.items():
        build().write(HERE / name)


if __name__ == "__main__":
    main()
