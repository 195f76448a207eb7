"""The contract both ends import: standard library only, no I/O.

The server (`ioc/`, `core/`, `nicos/`, `runner/`, `validate/`) and the clients (`client/`,
`opi/make_screens.py`) take every name, enum and protocol constant from here:

- `pvtable.py`: THE PV table (each PV once: name, type, handler or builder, topics, idle
  value, rebuild interval, whether its handler defers); `pvmodel.py`: a row and the checks
  run at import.
- `enums.py`: run states, job states, the modes of the enum PVs, queue slots.
- `nicos_status.py`: the NICOS status codes of `STATE:CODE` and the NICOS bridge.
- `reply.py`: `Reply`, one entry of the `REPLY` PV.
- `topics.py`: the topics the core reports after a change.
- `limits.py`: the bounds on every input.
- `protocols.py`: the job-channel and checker constants (their home is `job/`, which job
  processes import without this package).
"""
