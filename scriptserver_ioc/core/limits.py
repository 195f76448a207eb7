"""Bounds on every input: each rejection names the bound it hit."""

MAX_WRITE_BYTES = 1_000_000
"""Largest value accepted on a control PV (also the char count of those PVs, less one)."""

MAX_SCRIPT_BYTES = 262_144
"""Largest script text of one job (UTF-8 bytes)."""

MAX_BATCH = 5_000
"""Most jobs in one batch write to QUEUE:ADD."""

MAX_QUEUE_LENGTH = 20_000
"""Most jobs queued at once."""

MAX_QUEUE_JSON_BYTES = 15_000_000
"""Largest serialised queue: the QUEUE PV must hold it."""

MAX_NAME_CHARS = 200
"""Longest job name."""

MAX_REQUEST_ID_CHARS = 128
"""Longest request id."""

MAX_TAGS_BYTES = 4_096
"""Largest `tags` object, serialised."""

MAX_REPEAT = 1_000
"""Most copies one QUEUE:REPEAT write may insert."""

MAX_JSON_DEPTH = 32
"""Deepest nesting accepted in written JSON."""
