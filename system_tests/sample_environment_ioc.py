"""A small caproto IOC standing in for an instrument's sample environment.

`TEMP:SP` (float): a write is copied to `TEMP` (the readback) at once, as a simulated
temperature controller would; `TITLE` (string). Started by `system_tests/test_job_libraries_ca.py`
as `python sample_environment_ioc.py --prefix P: --list-pvs` with `EPICS_CA_SERVER_PORT` set.
"""

from caproto import ChannelType
from caproto.server import PVGroup, ioc_arg_parser, pvproperty, run


class SampleEnvironment(PVGroup):
    """Temperature set point and readback, and a run title."""

    temp_sp = pvproperty(name="TEMP:SP", value=0.0, dtype=float)
    temp = pvproperty(name="TEMP", value=0.0, dtype=float, read_only=True)
    title = pvproperty(name="TITLE", value="empty", dtype=ChannelType.STRING)

    @temp_sp.putter
    async def temp_sp(self, instance, value):
        await self.temp.write(value)
        return value


if __name__ == "__main__":
    ioc_options, run_options = ioc_arg_parser(
        default_prefix="SE:", desc="Sample environment test IOC"
    )
    run(SampleEnvironment(**ioc_options).pvdb, **run_options)
