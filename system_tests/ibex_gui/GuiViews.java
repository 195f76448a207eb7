import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import uk.ac.stfc.isis.ibex.nicos.NicosModel;
import uk.ac.stfc.isis.ibex.nicos.ScriptStatus;
import uk.ac.stfc.isis.ibex.nicos.messages.scriptstatus.QueuedScript;
import uk.ac.stfc.isis.ibex.scriptgenerator.dynamicscripting.DynamicScriptName;
import uk.ac.stfc.isis.ibex.scriptgenerator.dynamicscripting.DynamicScriptingNicosAdapter;
import uk.ac.stfc.isis.ibex.scriptgenerator.dynamicscripting.DynamicScriptingProperties;
import uk.ac.stfc.isis.ibex.ui.nicos.models.OutputLogViewModel;
import uk.ac.stfc.isis.ibex.ui.nicos.models.QueueScriptViewModel;

/**
 * Drives the IBEX GUI's own view models (ibex_gui's QueueScriptViewModel, OutputLogViewModel
 * and dynamic scripting's DynamicScriptingNicosAdapter, unmodified, Java 22 or later) over its
 * NicosModel against the script server's NICOS bridge, as the GUI's buttons call them.
 *
 * Not part of ibex_gui: written for system_tests/test_nicos_ibex_gui_java.py. Prints one JSON
 * line per observation (GuiSession.say) for the test to check over Channel Access.
 *
 * Usage: GuiViews PORT
 */
public final class GuiViews {
    private GuiViews() {
    }

    private static List<String> names(NicosModel model) {
        List<String> names = new ArrayList<>();
        for (QueuedScript script : model.getQueuedScripts()) {
            names.add(script.getName());
        }
        return names;
    }

    private static QueuedScript queued(NicosModel model, String name) {
        return model.getQueuedScripts().stream().filter(s -> name.equals(s.getName())).findFirst()
                .orElseThrow();
    }

    /** The queue pane's buttons as the GUI enables them for the selected script. */
    private static Map<String, Object> buttons(QueueScriptViewModel queue) {
        return Map.of("up", queue.getUpButtonEnabled(), "down", queue.getDownButtonEnabled(),
                "dequeue", queue.getDequeueButtonEnabled(), "update", queue.getUpdateButtonEnabled());
    }

    /** "Create Script and Add to Queue": the dialog fills the view model's script, then queues it. */
    private static void add(QueueScriptViewModel queue, String name, String code) {
        queue.getScript().setName(name);
        queue.getScript().setCode(code);
        queue.queueScript();
    }

    public static void main(String[] args) throws Exception {
        NicosModel model = GuiSession.model(args[0]);
        OutputLogViewModel output = new OutputLogViewModel(model);
        QueueScriptViewModel queue = new QueueScriptViewModel(model);
        DynamicScriptingNicosAdapter dynamic = new DynamicScriptingNicosAdapter(model);
        List<String> finished = new ArrayList<>();
        List<String> paused = new ArrayList<>();
        dynamic.addPropertyChangeListener(DynamicScriptingProperties.SCRIPT_FINISHED_PROPERTY, event -> {
            synchronized (finished) {
                finished.add(((DynamicScriptName) event.getNewValue()).getName().orElse(""));
            }
        });
        dynamic.addPropertyChangeListener(DynamicScriptingProperties.SCRIPT_PAUSED_PROPERTY, event -> {
            synchronized (paused) {
                paused.add(String.valueOf(model.getScriptName()));
            }
        });
        GuiSession.connect(model);

        // dynamic scripting plays an action that runs until stopped
        dynamic.executeAction("long", "import time\nfor _ in range(3000):\n    time.sleep(0.1)\n");
        GuiSession.waitFor("the action running", () -> model.getScriptStatus() == ScriptStatus.RUNNING
                && "long".equals(model.getScriptName()));
        add(queue, "one", "print('one')\n");
        add(queue, "two", "print('two')\n");
        add(queue, "three", "print('three')\n");
        GuiSession.waitFor("three queued", () -> names(model).equals(List.of("one", "two", "three")));

        queue.setSelectedScript(queued(model, "three"));
        GuiSession.say("last selected", buttons(queue));
        queue.moveScript(true);
        GuiSession.waitFor("three moved up", () -> names(model).equals(List.of("one", "three", "two")));
        queue.setSelectedScript(queued(model, "one"));
        GuiSession.say("first selected", buttons(queue));

        // the edit dialog changes the selected script's code, then presses Update
        QueuedScript edited = queued(model, "two");
        edited.setCode("print('two, edited')\n");
        queue.updateScript(edited);
        GuiSession.waitFor("the new code in a later status", () -> queued(model, "two") != edited
                && "print('two, edited')\n".equals(queued(model, "two").getCode()));
        GuiSession.say("edited", queued(model, "two").getCode());
        queue.setSelectedScript(queued(model, "one"));
        queue.dequeueScript();
        GuiSession.waitFor("one dequeued", () -> names(model).equals(List.of("three", "two")));
        GuiSession.say("queue", names(model));

        dynamic.pauseExecution();
        GuiSession.waitFor("paused", () -> model.getScriptStatus() == ScriptStatus.INBREAK);
        GuiSession.waitFor("dynamic scripting told of the pause", () -> {
            synchronized (paused) {
                return paused.contains("long");
            }
        });
        dynamic.resumeExecution();
        GuiSession.waitFor("running again", () -> model.getScriptStatus() == ScriptStatus.RUNNING);
        dynamic.stopExecution();
        GuiSession.waitFor("stopped, queue emptied", () -> model.getScriptStatus().isIdle()
                && model.getQueuedScripts().isEmpty());
        GuiSession.say("stopped", GuiSession.status(model));

        // a quick action: dynamic scripting learns it finished from the name shown when idle
        dynamic.executeAction("quick action", "print('from dynamic scripting')\n");
        GuiSession.waitFor("dynamic scripting told the action finished", () -> {
            synchronized (finished) {
                return finished.contains("quick action");
            }
        });
        GuiSession.waitFor("its end in the output pane", () -> output.getLog().contains("from dynamic scripting")
                && output.getLog().matches("(?s).*from dynamic scripting\\n.*job \\d+ DONE.*"));
        GuiSession.say("finished", finished);
        GuiSession.say("output", output.getLog());
        GuiSession.say("connection lost", GuiSession.Reconnect.LOST.get());
        System.exit(0);
    }
}
