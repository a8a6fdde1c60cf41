"""The parts of one emulator that its REST routes and gateway share."""

from dataclasses import dataclass, field

from aiohttp import web

from discord_emulator.commands import CommandRegistry
from discord_emulator.events import EventBus
from discord_emulator.gateway import Gateway
from discord_emulator.interactions import InteractionLedger
from discord_emulator.state import World

API = "/api/v10"


@dataclass
class Core:
    world: World
    bus: EventBus
    gateway: Gateway
    interactions: InteractionLedger
    commands: CommandRegistry
    token: str = field(repr=False)


CORE = web.AppKey("core", Core)


def core_of(request: web.Request) -> Core:
    return request.app[CORE]
