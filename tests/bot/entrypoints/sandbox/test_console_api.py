"""The console's JSON API and live feed, against the tiny bot over loopback (no browser)."""

import asyncio
import base64
import json
from typing import Any

import discord
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from discord_emulator import Emulator
from discord_emulator.console import console_app
from discord_emulator.console.views import PAGE_SIZE
from tests.bot.entrypoints.sandbox.conftest import PREFIX, Wing
from tests.bot.entrypoints.sandbox.tiny_bot import TinyBot

Client = TestClient[web.Request, web.Application]


async def get(console: Client, path: str) -> Any:
    response = await console.get(PREFIX + path)
    assert response.status == 200, await response.text()
    return await response.json()


async def post(console: Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = await console.post(PREFIX + path, json=body)
    assert response.status == status, await response.text()
    return await response.json()


def plan_request(wing: Wing, user_id: int, **options: str) -> dict[str, Any]:
    return {
        "user": str(user_id),
        "guild": str(wing.guild.id),
        "channel": str(wing.general.id),
        "command": "flight plan",
        "options": {"aircraft": "f16", "airfield": "Batumi", **options},
    }


async def messages(console: Client, wing: Wing, user_id: int) -> list[dict[str, Any]]:
    body = await get(console, f"/api/channels/{wing.general.id}/messages?user={user_id}")
    return list(body["messages"])


async def test_the_page_and_its_files_are_served_with_relative_links(console: Client) -> None:
    page = await console.get(PREFIX + "/")
    script = await console.get(PREFIX + "/console.js")
    style = await console.get(PREFIX + "/console.css")

    html = await page.text()
    assert page.content_type == "text/html"
    assert 'src="console.js"' in html
    assert 'href="console.css"' in html
    assert script.content_type == "text/javascript"
    assert "api/events" in await script.text()
    assert style.status == 200


async def test_world_lists_guilds_channels_roles_and_members_with_string_ids(
    console: Client, wing: Wing
) -> None:
    world = await get(console, "/api/world")

    assert world["title"] == "Test console"
    guild = next(g for g in world["guilds"] if g["name"] == "Test Wing")
    assert guild["id"] == str(wing.guild.id)
    assert [c["name"] for c in guild["channels"]] == ["general"]
    assert [r["name"] for r in guild["roles"]] == ["managers"]
    viper = next(m for m in guild["members"] if m["name"] == "Viper")
    assert viper["roles"] == [guild["roles"][0]["id"]]
    assert any(m["bot"] for m in guild["members"])
    assert "now" in world


async def test_command_forms_follow_the_registered_tree_and_permissions(
    console: Client, wing: Wing
) -> None:
    in_wing = await get(console, f"/api/commands?user={wing.rookie.id}&guild={wing.guild.id}")
    manager_staff = await get(
        console, f"/api/commands?user={wing.manager.id}&guild={wing.admin_guild.id}"
    )
    rookie_staff = await get(
        console, f"/api/commands?user={wing.rookie.id}&guild={wing.admin_guild.id}"
    )

    assert [c["path"] for c in in_wing["commands"]] == [
        "flight debrief",
        "flight plan",
        "flight track",
    ]
    plan = in_wing["commands"][1]
    options = {o["name"]: o for o in plan["options"]}
    assert [c["value"] for c in options["aircraft"]["choices"]] == ["f16", "f18"]
    assert options["airfield"]["autocomplete"] is True
    assert options["minutes"]["min_value"] == 15
    assert options["minutes"].get("required", False) is False
    assert "audit" in [c["path"] for c in manager_staff["commands"]]
    assert "audit" not in [c["path"] for c in rookie_staff["commands"]]


async def test_an_ephemeral_reply_is_shown_only_to_the_member_who_asked(
    console: Client, wing: Wing
) -> None:
    answer = await post(console, "/api/invoke", plan_request(wing, wing.manager.id))

    assert answer["answered"] is True
    [reply] = await messages(console, wing, wing.manager.id)
    assert reply["ephemeral"] is True
    assert reply["content"] == "**f16** from Batumi?"
    assert reply["command"] == {
        "name": "flight plan",
        "user_id": str(wing.manager.id),
        "user_name": "Viper",
    }
    assert reply["embeds"][0]["fields"][0] == {
        "name": "Airfield",
        "value": "Batumi",
        "inline": True,
    }
    assert reply["components"][0]["components"][0]["custom_id"] == "file"
    assert await messages(console, wing, wing.rookie.id) == []


async def test_autocomplete_asks_the_bot_for_suggestions(console: Client, wing: Wing) -> None:
    request = plan_request(wing, wing.manager.id, airfield="k") | {"focused": "airfield"}
    answer = await post(console, "/api/autocomplete", request)

    assert answer["choices"] == [
        {"name": "Kobuleti airbase", "value": "Kobuleti"},
        {"name": "Kutaisi airbase", "value": "Kutaisi"},
    ]


async def test_clicking_a_button_posts_to_the_channel_and_sends_a_dm(
    console: Client, wing: Wing, emu: Emulator
) -> None:
    await post(console, "/api/invoke", plan_request(wing, wing.manager.id))
    [reply] = await messages(console, wing, wing.manager.id)
    posted, sent = emu.next_message(wing.general), emu.next_message(wing.manager)

    clicked = await post(
        console,
        "/api/click",
        {"user": str(wing.manager.id), "message": reply["id"], "custom_id": "file"},
    )
    await posted, await sent
    dms = await get(console, f"/api/dms/{wing.manager.id}/messages")

    assert clicked["answered"] is True
    seen_by_rookie = await messages(console, wing, wing.rookie.id)
    assert [m["content"] for m in seen_by_rookie] == [f"<@{wing.manager.id}> filed: f16-Batumi-60"]
    seen_by_manager = await messages(console, wing, wing.manager.id)
    assert [m["content"] for m in seen_by_manager] == ["Filed.", seen_by_rookie[0]["content"]]
    assert [m["content"] for m in dms["messages"]] == [
        "Your plan is filed: https://example.com/plans/f16-Batumi-60"
    ]
    assert dms["messages"][0]["dm_user_id"] == str(wing.manager.id)


async def test_a_member_cannot_click_someone_elses_ephemeral_message(
    console: Client, wing: Wing
) -> None:
    await post(console, "/api/invoke", plan_request(wing, wing.manager.id))
    [reply] = await messages(console, wing, wing.manager.id)

    refused = await post(
        console,
        "/api/click",
        {"user": str(wing.rookie.id), "message": reply["id"], "custom_id": "file"},
        status=404,
    )

    assert refused == {"error": "Rookie cannot see that message."}


async def test_input_a_discord_client_would_refuse_gets_one_sentence(
    console: Client, wing: Wing
) -> None:
    too_short = await post(
        console, "/api/invoke", plan_request(wing, wing.manager.id, minutes="5"), status=400
    )
    missing = plan_request(wing, wing.manager.id)
    del missing["options"]["airfield"]
    no_airfield = await post(console, "/api/invoke", missing, status=400)

    assert too_short["error"] == (
        "The option 'minutes' of /flight plan must be at least 15, not 5."
    )
    assert no_airfield["error"] == (
        "/flight plan needs a value for its required option 'airfield'."
    )


async def test_acting_needs_a_json_body(console: Client, wing: Wing) -> None:
    response = await console.post(
        PREFIX + "/api/invoke", data=json.dumps(plan_request(wing, wing.manager.id))
    )

    assert response.status == 415
    assert (await response.json())["error"].startswith("Send the request as JSON")


async def test_a_file_for_an_attachment_option_reaches_the_bot(console: Client, wing: Wing) -> None:
    track = base64.b64encode(b"TRK" * 1000).decode()
    request = {
        "user": str(wing.rookie.id),
        "guild": str(wing.guild.id),
        "channel": str(wing.general.id),
        "command": "flight track",
        "options": {"file": {"filename": "sortie.trk", "content_type": None, "data_base64": track}},
    }

    answer = await post(console, "/api/invoke", request)
    shown = await messages(console, wing, wing.rookie.id)

    assert answer["answered"] is True
    assert shown[-1]["content"] == "Got sortie.trk: 3000 bytes."


async def test_a_file_that_is_not_base64_gets_one_sentence(console: Client, wing: Wing) -> None:
    request = {
        "user": str(wing.rookie.id),
        "guild": str(wing.guild.id),
        "command": "flight track",
        "options": {"file": {"filename": "sortie.trk", "data_base64": "not base64!"}},
    }

    refused = await post(console, "/api/invoke", request, status=400)

    assert refused["error"] == "The file for file is not base64."


async def test_a_modal_the_bot_opens_can_be_submitted(console: Client, wing: Wing) -> None:
    opened = await post(
        console,
        "/api/invoke",
        {
            "user": str(wing.rookie.id),
            "guild": str(wing.guild.id),
            "command": "flight debrief",
        },
    )
    submitted = await post(
        console,
        "/api/modal",
        {
            "user": str(wing.rookie.id),
            "interaction": opened["interaction"],
            "values": {"notes": "Two kills"},
        },
    )

    assert opened["modal"]["title"] == "Debrief"
    assert submitted["answered"] is True
    assert [m["content"] for m in await messages(console, wing, wing.rookie.id)] == [
        "Noted: Two kills"
    ]


async def test_the_live_feed_carries_only_what_the_member_can_see(
    console: Client, wing: Wing
) -> None:
    feed = await console.get(PREFIX + f"/api/events?user={wing.rookie.id}")
    assert feed.headers["Content-Type"] == "text/event-stream"
    assert (await next_event(feed))["kind"] == "hello"

    await post(console, "/api/invoke", plan_request(wing, wing.manager.id))
    [reply] = await messages(console, wing, wing.manager.id)
    await post(
        console,
        "/api/click",
        {"user": str(wing.manager.id), "message": reply["id"], "custom_id": "file"},
    )
    announced = await next_event(feed)
    feed.close()

    assert announced["kind"] == "message"
    assert announced["change"] == "created"
    assert announced["message"]["content"] == f"<@{wing.manager.id}> filed: f16-Batumi-60"
    assert announced["message"]["ephemeral"] is False


async def test_open_feeds_end_when_the_console_shuts_down(console: Client, wing: Wing) -> None:
    feed = await console.get(PREFIX + f"/api/events?user={wing.rookie.id}")
    assert (await next_event(feed))["kind"] == "hello"

    async with asyncio.timeout(5):
        await console.server.close()
        rest = await feed.content.read()

    assert b"data:" not in rest


async def next_event(feed: Any) -> dict[str, Any]:
    """The next ``data:`` event of a server-sent event stream."""
    while True:
        line = await feed.content.readline()
        assert line, "The feed ended."
        if line.startswith(b"data: "):
            return dict(json.loads(line[len(b"data: ") :]))


async def test_the_console_sends_the_latest_page_and_older_ones_on_request(
    console: Client, wing: Wing, bot: TinyBot
) -> None:
    channel = bot.get_channel(wing.general.id)
    assert isinstance(channel, discord.TextChannel)
    for n in range(PAGE_SIZE + 10):
        await channel.send(f"message {n}")
    place = f"/api/channels/{wing.general.id}/messages?user={wing.manager.id}"

    latest = await get(console, place)
    older = await get(console, f"{place}&before={latest['messages'][0]['id']}")
    small = await get(console, f"{place}&limit=2")

    assert [m["content"] for m in latest["messages"]] == [
        f"message {n}" for n in range(10, PAGE_SIZE + 10)
    ]
    assert latest["more"] is True
    assert [m["content"] for m in older["messages"]] == [f"message {n}" for n in range(10)]
    assert older["more"] is False
    assert [m["content"] for m in small["messages"]] == ["message 58", "message 59"]


async def test_a_page_size_out_of_bounds_gets_one_sentence(console: Client, wing: Wing) -> None:
    place = f"/api/channels/{wing.general.id}/messages?user={wing.manager.id}"
    for limit in ("0", "101", "ten"):
        response = await console.get(f"{PREFIX}{place}&limit={limit}")
        assert response.status == 400
        assert await response.json() == {"error": "limit must be a whole number from 1 to 100."}


async def page_of(app: web.Application) -> str:
    async with TestClient(TestServer(app)) as client:
        return await (await client.get("/")).text()


async def test_the_page_lists_the_links_it_was_given_escaped(emu: Emulator) -> None:
    linked = await page_of(console_app(emu, links=[("Servers <live>", "/servers/?a=1&b=2")]))
    plain = await page_of(console_app(emu))

    assert '<a href="/servers/?a=1&amp;b=2" target="_blank" rel="noopener">' in linked
    assert "Servers &lt;live&gt;</a>" in linked
    assert 'id="links"' not in plain
