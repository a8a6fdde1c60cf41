"""rr's sandbox in a real headless Chromium: the page a person uses with no Discord at all.

The whole app runs in-process on a fake clock (so hours pass at once, without sleeping), with
the sandbox Discord, the sandbox checkout and the local stand-in DCS process. Every step is
asserted on what the page shows; screenshots of the main states go to test-output/sandbox/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from bot.domain.actor import Actor
from bot.entrypoints.app import App
from bot.entrypoints.sandbox import CONSOLE_PATH, CONSOLE_TITLE
from cogs.welcome import WELCOME_TITLE
from tests.bot.files.miz.missions import MissionPlan, build_mission
from tests.fakes.clock import FakeClock, settle

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

playwright_api = pytest.importorskip(
    "playwright.async_api",
    reason="the Python package playwright is not installed (it comes with the dev extras)",
)
expect = playwright_api.expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[4] / "test-output" / "sandbox"
PAGE_TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture
async def page(app: App) -> AsyncIterator[Page]:
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(
            locale="en-US", timezone_id="UTC", viewport={"width": 1280, "height": 900}
        )
        opened = await context.new_page()
        script_errors: list[Exception] = []
        opened.on("pageerror", lambda error: script_errors.append(error))
        await opened.goto(app.base_url + "/")  # a first visitor types the address rr printed
        await expect(opened.locator("#status")).to_have_text("live")
        try:
            yield opened
        finally:
            await browser.close()
        assert script_errors == [], "the page's script failed"


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def run(page: Page, command: str, **options: str) -> None:
    """Fill in the command's form as a person would and send it."""
    await page.select_option("#command", command)
    for name, value in options.items():
        field = page.locator(f"#option-{name}")
        if await field.evaluate("node => node.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await page.click("#send")
    await expect(page.locator("#composer-error")).to_have_text("")


async def open_place(page: Page, label: str) -> None:
    await page.locator("#places button", has_text=label).click()
    await expect(page.locator("#place-name")).to_have_text(label)


def message(page: Page, text: str) -> Locator:
    return page.locator("#messages li.message", has_text=text).last


async def advance(clock: FakeClock, delta: timedelta) -> None:
    await clock.advance(delta)
    await settle()


async def test_a_person_buys_credit_starts_a_server_extends_it_and_sees_it_end(
    app: App, page: Page, clock: FakeClock
) -> None:
    # A first visitor lands on #general, where rr's welcome says what to try.
    assert urlsplit(page.url).path == CONSOLE_PATH
    await expect(page).to_have_title(CONSOLE_TITLE)
    await expect(page.locator("#place-name")).to_have_text("# general")
    await expect(message(page, WELCOME_TITLE)).to_contain_text("/config channel")
    await screenshot(page, "0-welcome")

    await page.select_option("#member", label="Mia (manager)")
    await expect(page.locator("#member-roles")).to_have_text("Squadron managers")

    # Buy credit: the link comes by DM.
    await run(page, "credits buy", amount="10")
    await expect(message(page, "sent you a DM")).to_contain_text(
        "I've sent you a DM with the payment link for $10.00."
    )
    await expect(message(page, "sent you a DM")).to_contain_text("Only you can see this")
    await expect(page.locator('#dms button[data-place="dm"] .badge')).to_have_text("1")
    await screenshot(page, "1-credit-link-sent")

    # Pay on the sandbox checkout page the link opens.
    await open_place(page, "@ rr")
    link = page.locator("#messages a", has_text="/sandbox/checkout/")
    await expect(link).to_have_count(1)
    async with page.context.expect_page() as opened:
        await link.click()
    checkout = await opened.value
    await expect(checkout.locator("#amount")).to_have_text("$10.00")
    await screenshot(checkout, "2-sandbox-checkout")
    await checkout.click("#pay")
    await expect(checkout.locator("h1")).to_have_text("Payment received")
    await checkout.close()
    await expect(message(page, "Receipt")).to_contain_text(
        "Receipt: $10.00 of server credit added. Available now: $10.00."
    )
    await screenshot(page, "3-receipt")

    # Start a server: a quote first, then the start.
    await open_place(page, "# general")
    await run(page, "server start", duration="1h", size="small")
    quote = message(page, "Start a server now")
    await expect(quote.locator(".embed-fields")).to_contain_text("Cost$1.00")
    await expect(quote).to_contain_text("Only you can see this")
    await screenshot(page, "4-quote")
    await quote.get_by_role("button", name="Start server").click()
    await expect(message(page, "server starting")).to_contain_text(
        "Mia (manager) server starting: Server #1 · "
    )

    # Ready once the stand-in's mission runs (its stand-in DCS tells the real agent, which
    # tells rr): the server's address, in the reminder channel.
    await open_place(page, "# reminders")
    ready = message(page, "is ready at")
    await expect(ready).to_contain_text("@Mia (manager) Server #1 · ")
    [session] = await app.services.sessions.for_guild(_squadron_id(app))
    assert session.address is not None
    address = f"{session.address}:{session.port}"
    await expect(ready).to_contain_text(f"is ready at {address}.")
    await screenshot(page, "5-ready")

    # The server password comes only by DM, hidden until clicked.
    await open_place(page, "@ rr")
    password = message(page, "Password:").locator(".spoiler")
    await expect(password).to_have_text("sandbox")
    await password.click()
    await expect(password).to_have_class("spoiler revealed")
    await open_place(page, "# reminders")

    # A pilot joins the stand-in server and leaves again, on the page the console links to;
    # rr hears of both through the server's agent, and the game's chat shows what rr says.
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="Stand-in servers").click()
    servers = await opened.value
    card = servers.locator("section.server", has_text="Server #1")
    await expect(card.locator(".heard")).to_contain_text("rr hears: running")
    await card.get_by_label("Pilot name").fill("Viper 1")
    await card.get_by_label("Side").select_option(label="Blue")
    await card.get_by_role("button", name="Add pilot").click()
    await expect(card.locator(".pilots")).to_have_text("Viper 1 (Blue) Remove")
    await expect(card.locator(".heard")).to_contain_text("1 pilot(s) online")
    app.services.agents.instructions.post_chat(session.session_id, "Welcome, Viper 1")
    await expect(card.locator(".chat")).to_contain_text("Welcome, Viper 1")
    await screenshot(servers, "5b-pilot-joined")
    await card.get_by_role("button", name="Remove").click()
    await expect(card.locator(".heard")).to_contain_text("0 pilot(s) online")
    await servers.close()

    # Its status, picking the server through the bot's autocomplete.
    await page.select_option("#command", "server status")
    await page.locator("#option-server").focus()
    suggestion = page.locator(".suggestions li").first
    await expect(suggestion).to_contain_text("Server #1 · ")
    await suggestion.click()
    await page.click("#send")
    status = message(page, "used /server status")
    await expect(status.locator(".embed-title")).to_contain_text("Running")
    await expect(status.locator(".embed")).to_contain_text(address)

    # The end warning, 15 minutes before the booked end (18:00 + 1 h), and its extend button.
    await advance(clock, timedelta(minutes=45))
    warning = message(page, "ends in 15 minutes")
    await expect(warning.get_by_role("button", name="Extend 30 min")).to_be_visible()
    await screenshot(page, "6-end-warning")
    await warning.get_by_role("button", name="Extend 30 min").click()
    await expect(message(page, "it now ends in 45 minutes")).to_contain_text(
        "by 30 minutes; it now ends in 45 minutes."
    )
    await screenshot(page, "7-extended")

    # The automatic end at the extended time (19:30).
    await advance(clock, timedelta(minutes=46))
    stopped = message(page, "has stopped")
    await expect(stopped).to_contain_text("@Mia (manager) Server #1 · ")
    await expect(stopped).to_contain_text(
        "has stopped (booked time over): 90 minutes billed, $1.50."
    )
    await screenshot(page, "8-ended")
    assert not await app.services.provider.game_port_open(session.address, session.port)

    # Another member sees the channel, but not Mia's private replies.
    await page.select_option("#member", label="Pete (member)")
    await expect(page.locator("#member-roles")).to_have_text("no roles")
    await expect(message(page, "has stopped")).to_be_visible()
    await expect(page.locator("#messages li.message.ephemeral")).to_have_count(0)


async def test_a_manager_uploads_a_mission_in_the_browser_and_starts_a_server_with_it(
    app: App, page: Page, tmp_path: Path
) -> None:
    mission = build_mission(MissionPlan(sortie="Red Flag"), tmp_path / "red_flag.miz")
    await page.select_option("#member", label="Mia (manager)")
    await expect(page.locator("#member-roles")).to_have_text("Squadron managers")

    # The attachment option is a file picker; the file goes to the bot as Discord sends it.
    await page.select_option("#command", "mission upload")
    await page.set_input_files("#option-file", str(mission))
    await page.locator("#option-name").fill("Red Flag 26-1")
    await page.click("#send")
    await expect(page.locator("#composer-error")).to_have_text("")
    added = message(page, "to the library")
    await expect(added).to_contain_text("Added Red Flag 26-1 to the library")
    await expect(added.locator(".embed")).to_contain_text("Caucasus")
    await screenshot(page, "9-mission-uploaded")

    await run(page, "mission list")
    await expect(message(page, "used /mission list").locator(".embed")).to_contain_text(
        "Red Flag 26-1 · Caucasus"
    )

    # /server start offers it by name as the member types.
    await page.select_option("#command", "server start")
    await page.locator("#option-mission").fill("26")
    suggestion = page.locator(".suggestions li").first
    await expect(suggestion).to_have_text("Red Flag 26-1")

    # Olga, rr's operator, grants the squadron credit; Mia starts a server with the mission.
    assert app.sandbox is not None
    olga = Actor(user_id=str(app.sandbox.world.operator.id), guild_id=None, is_operator=True)
    await app.services.squadrons.grant(olga, _squadron_id(app), 1000, "sandbox credit")
    await suggestion.click()
    await page.locator("#option-duration").fill("1h")
    await page.click("#send")
    quote = message(page, "Start a server now")
    await quote.get_by_role("button", name="Start server").click()
    await open_place(page, "# reminders")
    await expect(message(page, "is ready at")).to_contain_text("Red Flag 26-1")

    # A pilot joins on the stand-in servers page; then Mia stops the server.
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="Stand-in servers").click()
    servers = await opened.value
    card = servers.locator("section.server").first
    await card.get_by_label("Pilot name").fill("Viper 1")
    await card.get_by_label("Side").select_option(label="Blue")
    await card.get_by_role("button", name="Add pilot").click()
    await expect(card.locator(".heard")).to_contain_text("1 pilot(s) online")
    await servers.close()
    await run(page, "server stop")
    await message(page, "Stop this server now?").get_by_role("button", name="Stop server").click()

    # The stand-in DCS ends its mission, the server's agent uploads its Tacview recording and
    # log, and the debrief names the pilot with a link to each file.
    debrief = message(page, "the debrief of")
    await expect(debrief.locator(".embed")).to_contain_text("Pilots: Viper 1.")
    await expect(debrief.locator(".embed")).to_contain_text("Links expire on")
    await screenshot(page, "10-debrief")
    tacview = debrief.locator(".embed-field", has_text="Tacview").get_by_role("link")
    href = await tacview.get_attribute("href")
    assert href is not None
    recording = await page.context.request.get(href)
    assert recording.ok
    text = (await recording.body()).decode()
    assert text.startswith("FileType=text/acmi/tacview\nFileVersion=2.2\n")
    assert "Pilot=Viper 1" in text


def _squadron_id(app: App) -> str:
    assert app.discord is not None
    [squadron] = [g for g in app.discord.guilds if g.name == "Sandbox Squadron"]
    return str(squadron.id)
