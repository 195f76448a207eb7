"""Bounds on every input: each rejection names the bound it hit."""

MAX_WRITE_BYTES = 1_000_000
"""Largest value accepted on a control PV (also the char count of those PVs, less one)."""

MAX_SCRIPT_BYTES = 262_144
"""Largest script text of one job (UTF-8 bytes)."""

MAX_SCRIPT_FILE_BYTES = 1_000_000
"""Largest script file of a `file` job (bytes), read from the scripts directory."""

MAX_BATCH = 5_000
"""Most jobs in one batch write to QUEUE:ADD."""

MAX_QUEUE_LENGTH = 20_000
"""Most jobs queued at once."""

MAX_QUEUE_JSON_BYTES = 9_900_000
"""Largest serialised queue: the QUEUE PV must hold it (with a comma per job, under the
server's 10 MB `EPICS_CA_MAX_ARRAY_BYTES`; about 20,000 command jobs)."""

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

MAX_ESTIMATE_SECONDS = 31_622_400.0
"""Longest estimate kept for one job (366 days); a longer one is treated as unknown."""

OUTPUT_TAIL_BYTES = 16_384
"""The newest part of a job's output, and of the event log, that clients see: what the runner
sends in ``output`` events, what the core keeps (as many characters) and the bytes of
`CURRENT:OUTPUT` and `LOG` (after escaping). A job process keeps its own copy of the number
(`job/sim_state.py`): it imports nothing from this package."""

MAX_JOB_ID = 2**31 - 1
"""Largest job id: `CURRENT:ID` and `LAST:ID` are CA longs (32-bit)."""

MAX_JSON_INTEGER = 2**63 - 1
"""Largest integer magnitude accepted in written JSON (what SQLite stores)."""

EDIT_RECEIPT_TIMEOUT = 2.0
"""Longest wait (seconds) of a `QUEUE:UPDATE` put of the running job for the job's receipt
of the edit; a job that never sends one (an older launcher) completes the put after it."""
