"""Input that is refused clearly, through the unmodified bot and the Discord emulator: digits,
ranges, weekdays, daylight-saving changes, time zones, and the squadrons operators may credit."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.actor import Actor
from discord_emulator import Guild, User
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e


async def refused(
    w: World, user: User, command: str, options: dict[str, Any], guild: Guild | None = None
) -> str:
    """Run a command that must be refused; return the reply after checking nothing was recorded."""
    before = len(await w.events())
    handle = await w.emu.invoke(guild or w.guild, user, command, options)
    reply = await handle.message()
    assert reply.ephemeral, reply.content
    assert "error id" not in reply.content
    assert len(await w.events()) == before
    return reply.content


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("server start", {"duration": "²"}, '"²" is not a duration; write it like 90m'),
        ("server start", {"duration": "٢h"}, "is not a duration; write it like 90m"),
        (
            "server start",
            {"duration": "99999h"},
            "A session lasts from 30 minutes to 12 hours; pick a duration in that range.",
        ),
        (
            "server schedule",
            {"start": "tomorrow 20:00", "duration": "99999h"},
            "from 30 minutes to 12 hours",
        ),
        (
            "server schedule",
            {"start": "tomorrow 20:00", "duration": "9" * 38 + "h"},
            "from 30 minutes to 12 hours",
        ),
        ("credits buy", {"amount": "²"}, "is not an amount; write it like 25 or 12.50."),
        ("credits buy", {"amount": "1000000"}, "The largest single purchase is $500.00"),
    ],
)
async def test_odd_digits_and_numbers_out_of_range_get_one_sentence_naming_the_rule(
    world: World, command: str, options: dict[str, str], expected: str
) -> None:
    w = world
    await w.fund(5000)
    assert expected in await refused(w, w.manager, command, options)


async def test_extending_beyond_the_longest_session_names_what_is_left(world: World) -> None:
    w = world
    await w.fund(5000)
    options = {"start": "tomorrow 20:00", "duration": "1h"}
    booking = await w.emu.invoke(w.guild, w.manager, "server schedule", options)
    await booking.message()
    await (await booking.click("confirm")).response()
    await w.emu.until(
        lambda: next((m for m in booking.messages if "Server booked" in m.content), None),
        "the booking",
    )
    text = await refused(w, w.manager, "server extend", {"duration": "99999h"})
    assert text == "A session can last at most 12 hours; extend this one by at most 11 hours."


def _quoted_start(content_embeds: list[dict[str, Any]]) -> datetime:
    [starts] = [f["value"] for f in content_embeds[0]["fields"] if f["name"] == "Starts"]
    match = re.match(r"<t:(\d+):f>", starts)
    assert match is not None, starts
    return datetime.fromtimestamp(int(match[1]), UTC)


async def test_a_weekday_typed_on_that_day_is_today_before_its_time_and_next_week_after(
    world: World,
) -> None:
    w = world
    await w.fund(50_000)
    now = w.clock.now()
    saturday = datetime.combine(now.date(), datetime.min.time(), UTC) + timedelta(
        days=(5 - now.weekday()) % 7, hours=15
    )
    await w.clock.set(saturday if saturday > now else saturday + timedelta(days=7))
    today = w.clock.now().replace(hour=20)

    async def quoted(start: str) -> datetime:
        options = {"start": start, "duration": "1h", "timezone": "UTC"}
        handle = await w.emu.invoke(w.guild, w.manager, "server schedule", options)
        return _quoted_start((await handle.message()).embeds)

    assert await quoted("sat 20:00") == today
    await w.advance(timedelta(hours=5, minutes=30))
    assert await quoted("saturday 20:00") == today + timedelta(days=7)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (
            "2027-03-28 01:30",
            "01:30 does not exist on Sunday 28 March 2027 in Europe/London: the clocks jump "
            "from 01:00 to 02:00; pick a time outside that gap.",
        ),
        (
            "2027-10-31 01:30",
            "01:30 happens twice on Sunday 31 October 2027 in Europe/London, because the clocks "
            "go back then; add the UTC offset to say which, e.g. 2027-10-31 01:30+01:00 for the "
            "first or 2027-10-31 01:30+00:00 for the second.",
        ),
    ],
)
async def test_a_local_time_a_daylight_saving_change_skips_or_repeats_is_refused(
    world: World, start: str, expected: str
) -> None:
    w = world
    await w.fund(5000)
    options = {"start": start, "duration": "1h", "timezone": "Europe/London"}
    assert await refused(w, w.manager, "server schedule", options) == expected


async def test_bookings_and_the_setting_accept_the_same_time_zones(world: World) -> None:
    w = world
    await w.fund(5000)
    booking = {"start": "tomorrow 20:00", "duration": "1h"}
    for name in ("localtime", "Factory"):
        text = await refused(w, w.manager, "server schedule", {**booking, "timezone": name})
        assert f'"{name}" is not a time zone I know' in text
        text = await refused(w, w.admin, "config timezone", {"timezone": name})
        assert "timezone must be an IANA time zone name" in text
    quote = await (
        await w.emu.invoke(
            w.guild, w.manager, "server schedule", {**booking, "timezone": "europe/london"}
        )
    ).message()
    assert quote.embeds[0]["title"] == "Book a server"
    changed = await (
        await w.emu.invoke(w.guild, w.admin, "config timezone", {"timezone": "europe/london"})
    ).message()
    assert "`timezone` is now Europe/London" in changed.content


async def test_operators_grant_and_refund_only_to_squadrons_rr_knows(world: World) -> None:
    w = world
    typo = str(int(w.guild_id) + 1)
    for command in ("admin grant", "admin refund"):
        options = {"guild": typo, "amount": "10", "reason": "goodwill"}
        text = await refused(w, w.operator, command, options, w.ops_guild)
        assert text.startswith(f'rr has no squadron "{typo}"; pick one from the list')
    assert await w.app.services.admin.squadrons() == [w.guild_id]
    too_much = {"guild": w.guild_id, "amount": "1000000", "reason": "goodwill"}
    text = await refused(w, w.operator, "admin grant", too_much, w.ops_guild)
    assert text == (
        "An operator can grant or refund at most $999,999.99 at a time; enter a smaller amount."
    )
    by_name = {"guild": "jolly rogers", "amount": "12.50", "reason": "goodwill"}
    granted = await (await w.emu.invoke(w.ops_guild, w.operator, "admin grant", by_name)).message()
    assert granted.content == f"Granted $12.50 to guild `{w.guild_id}`."


async def test_the_squadron_autocomplete_shows_guild_names_to_operators_only(world: World) -> None:
    w = world
    unnamed = "123456789"
    operator = Actor(user_id=str(w.operator.id), guild_id=None, is_operator=True)
    await w.app.services.squadrons.grant(operator, unnamed, 100, "a guild the bot has left")
    choices = await w.emu.autocomplete(
        w.ops_guild, w.operator, "admin refund", {"guild": ""}, focused="guild"
    )
    assert choices == [
        {"name": unnamed, "value": unnamed},
        {"name": f"Jolly Rogers ({w.guild_id})", "value": w.guild_id},
    ]
    typed = await w.emu.autocomplete(
        w.ops_guild, w.operator, "admin grant", {"guild": "jolly"}, focused="guild"
    )
    assert [choice["value"] for choice in typed] == [w.guild_id]
    w.ops_guild.add_member(w.pilot)
    hidden = await w.emu.autocomplete(
        w.ops_guild, w.pilot, "admin grant", {"guild": ""}, focused="guild"
    )
    assert hidden == []
