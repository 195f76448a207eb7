"""A user script handing genie_python a bad value through a variable.

`seconds` must be a number; the text reaches `g.waitfor_time` through `wait`, so only
running the script (the dry run) finds it, inside genie.
"""

from genie_python import genie as g

wait = "five minutes"
g.begin()
g.waitfor_time(seconds=wait)
g.end()
