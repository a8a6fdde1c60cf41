"""Permission maths for members and channels, and what the bot and the invoker are told."""

from discord_emulator import Emulator, InvalidInvocation, Permission
from discord_emulator.permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE, Overwrite
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


def test_roles_add_to_everyone_and_administrator_implies_every_permission(emu: Emulator) -> None:
    guild = emu.add_guild("Wing")
    pilot, admin = emu.add_user("pilot"), emu.add_user("admin")
    guild.add_member(pilot, roles=[guild.add_role("movers", Permission.MOVE_MEMBERS)])
    guild.add_member(admin, roles=[guild.add_role("admins", Permission.ADMINISTRATOR)])
    assert guild.permissions_for(pilot) == DEFAULT_EVERYONE | Permission.MOVE_MEMBERS
    assert guild.permissions_for(admin) == ALL_PERMISSIONS
    assert guild.permissions_for(guild.owner) == ALL_PERMISSIONS


def test_channel_overwrites_apply_everyone_then_roles_then_member(emu: Emulator) -> None:
    guild = emu.add_guild("Wing")
    pilot = emu.add_user("pilot")
    briefers = guild.add_role("briefers")
    guild.add_member(pilot, roles=[briefers])
    briefing = guild.add_text_channel("briefing")
    send, view = int(Permission.SEND_MESSAGES), int(Permission.VIEW_CHANNEL)
    briefing.overwrites = [
        Overwrite(id=guild.id, type=0, allow=0, deny=send | view),
        Overwrite(id=briefers.id, type=0, allow=send | view, deny=0),
        Overwrite(id=pilot.id, type=1, allow=0, deny=send),
    ]
    granted = guild.permissions_for(pilot, briefing)
    assert granted & view and not granted & send


async def test_the_interaction_carries_the_invokers_and_the_bots_channel_permissions(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.manager, "mission", {"name": "Syria Strike"})
    payload = handle.interaction.payload
    member_permissions = int(payload["member"]["permissions"])  # type: ignore[typeddict-item]
    assert member_permissions & Permission.MANAGE_GUILD
    assert int(payload["app_permissions"]) == DEFAULT_EVERYONE
    await handle.response()


async def test_only_the_invoker_can_click_an_ephemeral_reply(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    start = await emu.invoke(
        squadron.guild, squadron.pilot, "server start", {"size": "small", "duration": "1h"}
    )
    reply = await start.message()
    try:
        await emu.click(reply, "confirm", squadron.manager)
    except InvalidInvocation as refused:
        assert "Only Maverick sees that ephemeral message." in str(refused)
    else:
        raise AssertionError("a second user clicked someone else's ephemeral message")


async def test_a_guild_added_after_ready_is_joined_by_the_bot(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    second = emu.add_guild("VFA-103")
    joined = await bot.wait_for("guild_join", timeout=5)
    assert (joined.id, joined.name, joined.member_count) == (second.id, "VFA-103", 2)
