import java.util.Map;

import uk.ac.stfc.isis.ibex.nicos.NicosModel;
import uk.ac.stfc.isis.ibex.nicos.ScriptStatus;
import uk.ac.stfc.isis.ibex.ui.nicos.models.ScriptStatusViewModel;

/**
 * Presses the IBEX GUI's Pause/Resume and Stop buttons through its own ScriptStatusViewModel
 * (ibex_gui's, unmodified, Java 22 or later) over its NicosModel against the script server's
 * NICOS bridge, and prints what the status pane shows and which buttons it enables.
 *
 * The view model takes its colours from the SWT display when loaded, so this needs a display
 * (the test starts Xvfb). Not part of ibex_gui: written for
 * system_tests/test_nicos_ibex_gui_java.py.
 *
 * Usage: GuiButtons PORT
 */
public final class GuiButtons {
    private GuiButtons() {
    }

    /** What the status pane shows, as its labels and buttons are bound to the view model. */
    private static Map<String, Object> shown(ScriptStatusViewModel view) {
        return Map.of("readback", view.getStatusReadback(), "info", view.getCombinedScriptInfo(),
                "enabled", view.getEnableButtons(), "toggle", view.getToggleButtonText());
    }

    private static void see(String what, ScriptStatusViewModel view, String readback)
            throws InterruptedException {
        GuiSession.waitFor(readback, () -> view.getStatusReadback().equals("Queue status: " + readback));
        GuiSession.say(what, shown(view));
    }

    public static void main(String[] args) throws Exception {
        NicosModel model = GuiSession.model(args[0]);
        ScriptStatusViewModel view = new ScriptStatusViewModel(model);
        GuiSession.connect(model);
        see("idle", view, "Idle");

        model.sendScript(GuiSession.script("fails", "raise ValueError('no')\n"));
        model.sendScript(GuiSession.script("after", "print('after')\n"));
        GuiSession.waitFor("the failed script's name", () -> view.getCombinedScriptInfo().endsWith(": fails"));
        see("held after a failure", view, "Paused");
        view.toggleExecution(); // Resume Script Execution
        GuiSession.waitFor("the next script run", () -> view.getCombinedScriptInfo().endsWith(": after")
                && model.getScriptStatus() == ScriptStatus.IDLE);
        see("resumed", view, "Idle");

        model.sendScript(GuiSession.script("long", "import time\nfor _ in range(3000):\n    time.sleep(0.1)\n"));
        see("running", view, "Running");
        view.toggleExecution(); // Pause Script Execution: break 1
        see("paused", view, "Paused");
        view.toggleExecution(); // Resume Script Execution
        see("running again", view, "Running");
        view.stopExecution(); // Stop All Scripts and Empty Queue: stop 3
        GuiSession.waitFor("idle after the stop", () -> model.getScriptStatus().isIdle());
        GuiSession.say("stopped", shown(view));
        GuiSession.say("connection lost", GuiSession.Reconnect.LOST.get());
        System.exit(0);
    }
}
