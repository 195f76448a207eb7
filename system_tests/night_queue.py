"""The demo night queue of `test_night_queue_ca.py` and `bench/bench_preflight.py`.

A plain module (no fixtures): the benchmark imports it without pytest's `conftest`, which
sets the Channel Access environment of the system tests.
"""

DEMO_BEAM_CURRENT = "7200"  # uA: commands/dae.py UAMPS_PER_SECOND = 2 uA.h per second
WARM_UP = [{"script": f"print('calibration {n}')\n", "name": f"warm-up {n}"} for n in range(3)]
NIGHT = [
    {"script": "begin_run(title='T=10 K')\nwaitfor_uamps(8)\nend_run()\n", "name": "10 K"},
    {"call": "count(seconds=2, title='background')", "name": "background"},
    {
        "script": "for t in (20, 300):\n    set_temperature(t)\n    count(seconds=1)\n",
        "name": "temperatures",
    },
    {
        "script": "set_ei(energy=25)\nbegin_run(title='Ei 25')\nwaitfor_uamps(6)\nend_run()\n",
        "name": "Ei 25",
    },
    {
        "script": "do_sans(position='2', sample='AgBeh', temperature='300', sans_seconds='2')\n",
        "name": "AgBeh",
    },
]
