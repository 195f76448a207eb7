"""A user script with a typo of a genie_python function (idiom: the IBEX user manual's
"Creating and Running Scripts": begin, wait for current, end).

`g.waitfor_uamp` does not exist (genie has `waitfor_uamps`): the script would stop at
line 13 with an AttributeError after the run has begun. This folder has no __init__.py, so
the catalogue does not read it: these are jobs, not commands.
"""

from genie_python import genie as g

g.change(title="water, 40 uAh")
g.begin()
g.waitfor_uamp(40)
g.end()
