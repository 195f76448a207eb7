import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.eclipse.core.runtime.IProgressMonitor;
import org.eclipse.core.runtime.IStatus;
import org.eclipse.core.runtime.Status;

import com.google.gson.Gson;

import uk.ac.stfc.isis.ibex.instrument.InstrumentInfo;
import uk.ac.stfc.isis.ibex.nicos.BreakLevel;
import uk.ac.stfc.isis.ibex.nicos.ExecutionInstructionType;
import uk.ac.stfc.isis.ibex.nicos.NicosErrorState;
import uk.ac.stfc.isis.ibex.nicos.NicosModel;
import uk.ac.stfc.isis.ibex.nicos.ScriptStatus;
import uk.ac.stfc.isis.ibex.nicos.comms.RepeatingJob;
import uk.ac.stfc.isis.ibex.nicos.comms.ZMQSession;
import uk.ac.stfc.isis.ibex.nicos.comms.ZMQWrapper;
import uk.ac.stfc.isis.ibex.nicos.messages.ExecutionInstruction;
import uk.ac.stfc.isis.ibex.nicos.messages.Login;
import uk.ac.stfc.isis.ibex.nicos.messages.NicosLogEntry;
import uk.ac.stfc.isis.ibex.nicos.messages.scriptstatus.QueuedScript;

/**
 * Drives the IBEX GUI's own NICOS model (ibex_gui's NicosModel, ZMQSession, ZMQWrapper and
 * message classes, unmodified, on their classpath) against the script server's NICOS bridge.
 *
 * Not part of ibex_gui: written for system_tests/test_nicos_ibex_gui_java.py, which compiles
 * it against a classpath the developer provides (docs/nicos.md). The model polls as in the
 * GUI (its Eclipse job, every second); this program queues scripts and presses Resume through
 * the model's own methods, and prints one JSON line per observation for the test to check.
 *
 * Usage: GuiSession login (prints the GUI's login parameters) | GuiSession run PORT
 */
public final class GuiSession {
    private static final Gson GSON = new Gson();
    private static final long WAIT_MS = 120_000;
    private static final InstrumentInfo INSTRUMENT = new InstrumentInfo("TEST", "TE:TEST:", "localhost");

    private GuiSession() {
    }

    /** The GUI's session, connected to the test's port (the GUI's own is fixed at 1301). */
    static final class TestPortSession extends ZMQSession {
        private final ZMQWrapper zmq;
        private final String address;

        TestPortSession(ZMQWrapper zmq, String address) {
            super(zmq);
            this.zmq = zmq;
            this.address = address;
        }

        @Override
        public void connect(InstrumentInfo instrument) {
            synchronized (zmq.getLock()) {
                zmq.connect(address);
            }
        }
    }

    /**
     * The GUI's connection job (its Nicos plug-in's): started when the model loses the server
     * (a reply later than 500 ms), it connects again every 10 s. Counts the losses.
     */
    static final class Reconnect extends RepeatingJob {
        static final AtomicInteger LOST = new AtomicInteger();
        private NicosModel model;

        Reconnect() {
            super("NICOSConnection", 10_000);
            setRunning(false);
        }

        @Override
        public void setRunning(Boolean running) {
            if (running && model != null) {
                LOST.incrementAndGet();
            }
            super.setRunning(running);
        }

        @Override
        protected IStatus doTask(IProgressMonitor monitor) {
            model.connect(INSTRUMENT);
            return Status.OK_STATUS;
        }
    }

    static void say(String what, Object value) {
        System.out.println(GSON.toJson(Map.of("what", what, "value", value)));
        System.out.flush();
    }

    static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("the GUI's model never showed: " + what);
            }
            Thread.sleep(50);
        }
        say("saw", what);
    }

    static QueuedScript script(String name, String code) {
        QueuedScript script = new QueuedScript();
        script.setName(name);
        script.setCode(code);
        return script;
    }

    static Map<String, Object> status(NicosModel model) {
        List<String> queued = new ArrayList<>();
        for (QueuedScript script : model.getQueuedScripts()) {
            queued.add(script.getName());
        }
        ScriptStatus shown = model.getScriptStatus();
        return Map.of("status", shown == null ? "none yet" : shown.name(), "name",
                String.valueOf(model.getScriptName()), "line", model.getLineNumber(),
                "queued", queued, "error", model.getError().name());
    }

    /** The GUI's model, its session on the test's port, not yet connected. */
    static NicosModel model(String port) {
        ZMQSession session = new TestPortSession(ZMQWrapper.getInstance(), "tcp://127.0.0.1:" + port);
        Reconnect connection = new Reconnect();
        connection.model = new NicosModel(session, connection);
        return connection.model;
    }

    /** Connects as the GUI does (getbanner, authenticate), then waits for its first status. */
    static void connect(NicosModel model) throws InterruptedException {
        model.connect(INSTRUMENT);
        waitFor("the first status", () -> model.getScriptStatus() != null);
        say("connected", status(model));
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("login")) {
            System.out.println(new Login().getMulti().get(2));
            return;
        }
        NicosModel model = model(args[1]);
        List<String> shown = new ArrayList<>();
        model.addPropertyChangeListener("logEntries", event -> {
            for (NicosLogEntry entry : model.getLogEntries()) {
                synchronized (shown) {
                    shown.add(entry.getTimeStamp() + "\t" + entry.toString());
                }
            }
        });
        connect(model);

        model.sendScript(script("fails", "print('about to fail')\nraise ValueError(3)\n"));
        model.sendScript(script("after", "print('the next script ran')\n"));
        waitFor("paused after the failure", () -> model.getScriptStatus() == ScriptStatus.INBREAK
                && model.getQueuedScripts().size() == 1);
        say("held", status(model));
        model.sendExecutionInstruction(new ExecutionInstruction(ExecutionInstructionType.CONTINUE, null));
        waitFor("idle after the next script", () -> model.getScriptStatus() == ScriptStatus.IDLE
                && "after".equals(model.getScriptName()));
        say("resumed", status(model));

        model.sendScript(script("broken", "print(\n"));
        say("refused", status(model));
        model.sendScript(script("quick", "print('quick first')\nprint('quick last')\n"));
        waitFor("the quick script's end", () -> {
            synchronized (shown) {
                return shown.stream().anyMatch(line -> line.matches("\\d+\\t\\S+ job \\d+ DONE\\n")
                        && "quick".equals(model.getScriptName()));
            }
        });
        model.sendExecutionInstruction(new ExecutionInstruction(ExecutionInstructionType.BREAK,
                BreakLevel.AFTER_LINE));
        synchronized (shown) {
            say("shown", new ArrayList<>(shown));
        }
        say("error after a refused break", model.getError().name());
        GuiSession.say("connection lost", GuiSession.Reconnect.LOST.get());
        System.exit(model.getError() == NicosErrorState.NO_ERROR ? 0 : 3);
    }
}
