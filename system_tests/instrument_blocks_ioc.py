"""A small caproto IOC standing in for an IBEX instrument's blocks, for bluesky plan jobs.

Serves what ``ibex_bluesky_core`` reads under the instrument prefix ``P``: the RB number
(``P ED:RBNUMBER``) read when a run opens, and a read-write block ``TEMP``
(``P CS:SB:TEMP`` readback, ``:SP`` set point copied to the readback at once, ``:SP:RBV``,
and its run-control signals ``:RC:*``). Started by ``system_tests/test_bluesky_ca.py`` as
``python instrument_blocks_ioc.py --prefix P`` with ``EPICS_CA_SERVER_PORT`` set.
"""

from caproto import ChannelType
from caproto.server import PVGroup, SubGroup, ioc_arg_parser, pvproperty, run

RB_NUMBER = "1920001"


NO_YES = {"dtype": ChannelType.ENUM, "enum_strings": ["NO", "YES"]}


class RunControl(PVGroup):
    """A block's run-control signals (in range, limits, enabled, times)."""

    inrange = pvproperty(name="INRANGE", value=1, **NO_YES)
    low = pvproperty(name="LOW", value=0.0, dtype=float)
    high = pvproperty(name="HIGH", value=0.0, dtype=float)
    soi = pvproperty(name="SOI", value=0, **NO_YES)
    enable = pvproperty(name="ENABLE", value=0, **NO_YES)
    out_time = pvproperty(name="OUT:TIME", value=0.0, dtype=float, read_only=True)
    in_time = pvproperty(name="IN:TIME", value=0.0, dtype=float, read_only=True)


class Instrument(PVGroup):
    """The RB number and the block TEMP."""

    rb_number = pvproperty(name="ED:RBNUMBER", value=RB_NUMBER, dtype=ChannelType.STRING)
    temp = pvproperty(name="CS:SB:TEMP", value=0.0, dtype=float, read_only=True)
    temp_sp = pvproperty(name="CS:SB:TEMP:SP", value=0.0, dtype=float)
    temp_sp_rbv = pvproperty(name="CS:SB:TEMP:SP:RBV", value=0.0, dtype=float, read_only=True)
    temp_rc = SubGroup(RunControl, prefix="CS:SB:TEMP:RC:")

    @temp_sp.putter
    async def temp_sp(self, instance, value):
        await self.temp_sp_rbv.write(value)
        await self.temp.write(value)
        return value


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(default_prefix="TE:", desc="IBEX blocks test IOC")
    run(Instrument(**ioc_options).pvdb, **run_options)
