"""Slash commands, buttons, selects, modals and autocomplete, end to end through discord.py."""

import pytest

from discord_emulator import Emulator, InvalidInvocation
from tests.discord_emulator.bot_app import FlightBot
from tests.discord_emulator.conftest import Squadron


async def test_slash_command_reply_is_ephemeral_with_buttons_and_typed_options(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(
        squadron.guild, squadron.pilot, "server start", {"size": "Large", "duration": "2h"}
    )
    assert "guild_id" not in handle.interaction.payload["data"]
    response = await handle.response()
    assert response.type == 4
    assert response.message is not None
    assert response.message.content == "Start a large server for 2h with 16 seats?"
    assert response.message.ephemeral
    assert response.message.custom_ids() == ["confirm", "cancel"]
    assert emu.channel_messages(squadron.guild.channel("general")) == []


async def test_button_click_runs_the_view_callback_which_updates_the_message(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    start = await emu.invoke(
        squadron.guild, squadron.pilot, "server start", {"size": "small", "duration": "1h"}
    )
    await start.response()
    click = await start.click("confirm")
    response = await click.response()
    assert response.type == 7
    assert start.messages[0].content == "Confirmed."
    assert start.messages[0].components == []


async def test_a_second_button_replies_with_a_new_ephemeral_message(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    start = await emu.invoke(
        squadron.guild, squadron.pilot, "server start", {"size": "small", "duration": "1h"}
    )
    await start.response()
    cancel = await start.click("cancel")
    reply = await cancel.message()
    assert reply.content == "Cancelled."
    assert reply.ephemeral


async def test_defer_then_followups_replace_the_thinking_message_and_edits_apply(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "server status")
    assert (await handle.response()).type == 5
    details = await handle.message(lambda m: m.content == "Details")
    original, followup = handle.messages
    assert original.content == "Ready at 127.0.0.1:10308."
    assert not original.loading and not original.ephemeral
    assert followup is details and details.ephemeral
    assert details.embeds[0]["title"] == "Server"
    assert emu.channel_messages(squadron.guild.channel("general")) == [original]


async def test_autocomplete_returns_the_bots_suggestions_for_the_typed_text(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    choices = await emu.autocomplete(
        squadron.guild, squadron.pilot, "mission", {"name": "Cauc"}, focused="name"
    )
    assert [c["value"] for c in choices] == ["Caucasus CAP", "Caucasus SEAD"]


async def test_guild_scoped_subcommand_routes_with_a_resolved_member(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(
        squadron.guild, squadron.manager, "admin user kick", {"member": squadron.pilot}
    )
    assert handle.interaction.payload["data"]["guild_id"] == str(squadron.guild.id)
    reply = await handle.message()
    assert reply.content == f"Kicked Maverick ({squadron.pilot.id})."


async def test_default_member_permissions_hide_a_command_from_members_without_them(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    with pytest.raises(InvalidInvocation, match="cannot see /admin"):
        await emu.invoke(
            squadron.guild, squadron.pilot, "admin user kick", {"member": squadron.manager}
        )


async def test_select_menu_choice_reaches_the_select_callback(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    ask = await emu.invoke(squadron.guild, squadron.pilot, "region")
    question = await ask.message()
    pick = await emu.click(question, "region", squadron.manager, values=["us-east-1"])
    assert (await pick.message()).content == "Region us-east-1."


async def test_modal_opens_and_its_submission_reaches_on_submit(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    opened = await emu.invoke(squadron.guild, squadron.pilot, "feedback")
    assert (await opened.response()).type == 9
    submitted = await opened.submit_modal({"text": "Smooth launch"})
    assert (await submitted.message()).content == "Thanks: Smooth launch"


async def test_channel_option_resolves_to_a_text_channel(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    ops = squadron.guild.add_text_channel("ops")
    handle = await emu.invoke(squadron.guild, squadron.manager, "setchannel", {"channel": ops})
    assert (await handle.message()).content == f"Announcements go to <#{ops.id}>."
    assert bot.announce_channel_id == ops.id


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"size": "huge", "duration": "1h"}, "must be one of small, large"),
        ({"size": "small"}, "required option 'duration'"),
        ({"size": "small", "duration": "1h", "seats": 3}, "has no option 'seats'"),
        ({"size": "small", "duration": "1h", "players": "many"}, "expects a whole number"),
        ({"size": "small", "duration": "1h", "players": 65}, "must be at most 64"),
        ({"size": "small", "duration": 2}, "expects text"),
    ],
)
async def test_invoke_refuses_what_a_discord_client_would_not_send(
    emu: Emulator, squadron: Squadron, bot: FlightBot, options: dict[str, object], complaint: str
) -> None:
    with pytest.raises(InvalidInvocation, match=complaint):
        await emu.invoke(squadron.guild, squadron.pilot, "server start", options)


async def test_invoke_names_the_subcommands_when_one_is_missing_or_unknown(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    with pytest.raises(InvalidInvocation, match="needs a subcommand: start, status"):
        await emu.invoke(squadron.guild, squadron.pilot, "server")
    with pytest.raises(InvalidInvocation, match="has no subcommand 'launch'"):
        await emu.invoke(squadron.guild, squadron.pilot, "server launch")
    with pytest.raises(InvalidInvocation, match="no slash command /fly"):
        await emu.invoke(squadron.guild, squadron.pilot, "fly")


async def test_interaction_records_dispatch_and_acknowledgement_times(
    emu: Emulator, squadron: Squadron, bot: FlightBot
) -> None:
    handle = await emu.invoke(squadron.guild, squadron.pilot, "mission", {"name": "Syria Strike"})
    response = await handle.response()
    interaction = emu.interactions[-1]
    assert interaction is handle.interaction
    assert interaction.acknowledged_at is not None
    assert response.latency == interaction.acknowledged_at - interaction.dispatched_at >= 0
