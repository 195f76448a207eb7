package uk.ac.stfc.isis.ibex.logger;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Stand-in for the IBEX GUI's logger, which is an Eclipse UI plug-in and cannot run outside
 * the GUI: the GUI's NICOS classes only call getLogger(Class), answered here with log4j's.
 *
 * Not part of ibex_gui: written for system_tests/test_nicos_ibex_gui_java.py.
 */
public final class IsisLog {
    private IsisLog() {
    }

    /**
     * @param owner the class that logs
     * @return log4j's logger for that class
     */
    public static Logger getLogger(Class<?> owner) {
        return LogManager.getLogger(owner);
    }
}
