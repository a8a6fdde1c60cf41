"""The AWS EC2 compute provider: launcher, termination backstop and start-up checks."""

from bot.cloud.ec2.backstop import Backstop
from bot.cloud.ec2.provider import Ec2Provider
from bot.cloud.ec2.setup import open_ec2_provider

__all__ = ["Backstop", "Ec2Provider", "open_ec2_provider"]
