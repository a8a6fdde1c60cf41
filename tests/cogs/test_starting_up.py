"""A process that took over and is still reading what was written before says so; it does not
refuse on state it has not read yet."""

import pytest

from cogs.utils.errors import STARTING_UP
from tests.cogs.conftest import World
from tests.cogs.test_rules import refused

pytestmark = pytest.mark.e2e


async def test_a_manager_is_told_rr_is_starting_up_not_refused_while_the_view_catches_up(
    world: World,
) -> None:
    w = world
    assert w.app.discord is not None
    w.app.discord.starting_up = True

    reply = await refused(w, w.manager, "server settings", {})

    assert reply == STARTING_UP == "rr is starting up; try again in a few seconds."
    w.app.discord.starting_up = False
    shown = await (await w.emu.invoke(w.guild, w.manager, "server settings")).message()
    assert shown.embeds, shown.content


async def test_autocomplete_answers_nothing_while_starting_up(world: World) -> None:
    w = world
    assert w.app.discord is not None
    w.app.discord.starting_up = True

    zones = await w.emu.autocomplete(
        w.guild, w.admin, "config timezone", {"timezone": "europe/lon"}, focused="timezone"
    )

    assert zones == []
