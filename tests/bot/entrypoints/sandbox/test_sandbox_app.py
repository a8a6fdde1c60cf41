"""rr without DISCORD_TOKEN, over HTTP: where the console is, and the world a person finds there
(the whole flow in a browser is test_sandbox_browser)."""

from html import escape
from typing import Any

import aiohttp
import pytest

from bot.entrypoints.app import App
from bot.entrypoints.sandbox import CONSOLE_PATH, CONSOLE_TITLE, WORLD_IDS_FROM, seed_world
from cogs.welcome import WELCOME_TITLE
from discord_emulator import Emulator

pytestmark = pytest.mark.e2e


async def command_paths(app: App, user_id: int, guild_id: int) -> list[str]:
    query = f"api/commands?user={user_id}&guild={guild_id}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(app.base_url + CONSOLE_PATH + query) as response,
    ):
        body: dict[str, Any] = await response.json()
    return [command["path"] for command in body["commands"]]


async def test_the_console_is_found_with_or_without_its_trailing_slash(app: App) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(app.base_url + CONSOLE_PATH.rstrip("/"), allow_redirects=False) as bare:
            location = bare.headers.get("Location")
        async with http.get(app.base_url + CONSOLE_PATH) as page:
            html = await page.text()

    assert (bare.status, location) == (302, CONSOLE_PATH)
    assert page.status == 200 and '<script src="console.js">' in html


async def test_the_world_has_a_manager_a_plain_member_and_an_operator(app: App) -> None:
    assert app.sandbox is not None
    world = app.sandbox.world

    squadron = await app.services.squadrons.get(str(world.squadron.id))
    member_commands = await command_paths(app, world.member.id, world.squadron.id)
    operator_commands = await command_paths(app, world.operator.id, world.operators.id)

    assert squadron.settings.manager_role_id == str(world.managers.id)
    assert squadron.settings.reminder_channel_id == str(world.reminders.id)
    manager = world.squadron.member(world.manager)
    assert manager is not None and world.managers.id in manager.role_ids
    assert "server start" in member_commands and "credits buy" in member_commands
    assert not any(path.startswith("admin ") for path in member_commands)
    assert "admin instances" in operator_commands


def test_the_sandbox_world_has_the_same_ids_in_every_run() -> None:
    """Credit bought in one `make run` belongs to the same squadron in the next."""
    worlds = [seed_world(Emulator(stable_ids_from=WORLD_IDS_FROM)) for _ in range(2)]

    assert [w.squadron.id for w in worlds] == [worlds[0].squadron.id] * 2
    assert [w.manager.id for w in worlds] == [worlds[0].manager.id] * 2
    assert [w.reminders.id for w in worlds] == [worlds[0].reminders.id] * 2
    assert [w.operator.id for w in worlds] == [worlds[0].operator.id] * 2


async def test_the_web_apps_root_sends_a_first_visitor_to_the_sandbox(app: App) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(app.base_url + "/", allow_redirects=False) as root,
    ):
        location = root.headers.get("Location")

    assert (root.status, location) == (302, CONSOLE_PATH)


async def test_the_page_is_named_after_rr_before_any_script_runs(app: App) -> None:
    async with aiohttp.ClientSession() as http, http.get(app.base_url + CONSOLE_PATH) as page:
        html = await page.text()

    assert f"<title>{escape(CONSOLE_TITLE)}</title>" in html
    assert "Discord emulator" not in html


async def test_the_squadron_finds_rrs_welcome_in_general(app: App) -> None:
    assert app.sandbox is not None
    world = app.sandbox.world

    [welcome] = app.sandbox.emulator.channel_messages(world.general)

    assert welcome.author is app.sandbox.emulator.bot_user
    assert welcome.embeds[0]["title"] == WELCOME_TITLE
    assert "/server start" in welcome.embeds[0]["description"]
