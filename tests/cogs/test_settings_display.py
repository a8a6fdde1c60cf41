"""Squadron settings shown as people read them: grouped, labelled, on/off, mentions, secrets
hidden."""

import pytest

from bot.domain.actor import Actor
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e


async def test_settings_are_grouped_labelled_and_masked(world: World) -> None:
    w = world
    owner = Actor(user_id=str(w.admin.id), guild_id=w.guild_id, is_manager=True)
    await w.app.services.squadrons.change_settings(
        owner, {"password": "hunter22", "srs.enabled": "true", "idle_stop_empty_minutes": "off"}
    )
    squadron = await w.app.services.squadrons.get(w.guild_id)
    role_id = squadron.settings.manager_role_id

    shown = await (await w.emu.invoke(w.guild, w.admin, "config show")).message()
    assert shown.ephemeral
    [embed] = shown.embeds
    groups = {field["name"]: field["value"] for field in embed["fields"]}
    assert list(groups) == [
        "Server",
        "In Discord",
        "Idle stop",
        "Missions",
        "Client checks",
        "Advanced",
        "LotAtc",
        "SRS",
        "Tacview",
    ]
    assert "Server name: **DCS Server**" in groups["Server"]
    assert "Password: **set (hidden)**" in groups["Server"]
    assert "Listed publicly: **on**" in groups["Server"]
    assert "Max players: **16**" in groups["Server"]
    assert f"Reminder channel: **<#{w.reminders.id}>**" in groups["In Discord"]
    assert f"Manager role: **<@&{role_id}>**" in groups["In Discord"]
    assert groups["Idle stop"] == (
        "Nobody joined since ready: **after 30 min**\nLast pilot left: **off**"
    )
    assert "Missions: **—**" in groups["Missions"]
    assert groups["LotAtc"] == "Enabled: **off**"
    assert "Enabled: **on**" in groups["SRS"] and "Port: **5002**" in groups["SRS"]
    assert "External AWACS mode: **off**" in groups["SRS"]
    assert "Blue password: **not set**" in groups["SRS"]
    assert "hunter22" not in str(embed)


async def test_a_change_is_confirmed_as_people_read_it(world: World) -> None:
    w = world
    handle = await w.emu.invoke(w.guild, w.admin, "config channel", {"channel": w.general})
    changed = await handle.message()
    assert changed.content == f"`reminder_channel_id` is now <#{w.general.id}>"
    handle = await w.emu.invoke(
        w.guild, w.admin, "config set", {"setting": "password", "value": "hunter22"}
    )
    assert (await handle.message()).content == "`password` is now set (hidden)"
