"""Compute providers: where a session's DCS server runs (see `bot.cloud.base` for the contract).

`bot.cloud.local` runs stand-in processes on loopback, the embedded default; `bot.cloud.ec2`
runs real servers on AWS EC2.
"""

from bot.cloud.base import ComputeProvider, InstanceInfo, InstanceState, LaunchError, LaunchRequest

__all__ = ["ComputeProvider", "InstanceInfo", "InstanceState", "LaunchError", "LaunchRequest"]
