from datetime import UTC, datetime

from discord_emulator.events import EventBus
from discord_emulator.snowflakes import DISCORD_EPOCH_MS, SnowflakeFactory
from discord_emulator.state import World


def test_ids_follow_the_clock_and_never_repeat() -> None:
    ids = SnowflakeFactory()
    issued = [ids.next() for _ in range(1000)]
    assert issued == sorted(set(issued))
    created_ms = (issued[0] >> 22) + DISCORD_EPOCH_MS
    assert abs(created_ms / 1000 - datetime.now(UTC).timestamp()) < 60


def test_ids_from_a_fixed_epoch_are_the_same_every_time() -> None:
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = SnowflakeFactory(epoch), SnowflakeFactory(epoch)
    issued = [first.next() for _ in range(100)]
    assert issued == [second.next() for _ in range(100)]
    assert issued == sorted(set(issued))
    assert (issued[0] >> 22) + DISCORD_EPOCH_MS == int(epoch.timestamp() * 1000)


def test_a_world_with_stable_place_ids_still_numbers_what_happens_by_the_clock() -> None:
    """Guilds and members keep their ids across runs; interactions and messages do not, as a bot
    may use an interaction's id as an idempotency key."""
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    worlds = [
        World(
            ids=SnowflakeFactory(), place_ids=SnowflakeFactory(epoch), bus=EventBus(), bot_name="rr"
        )
        for _ in range(2)
    ]
    places = [(w.application_id, w.bot.id, w.add_guild("Wing", None).id) for w in worlds]
    assert places[0] == places[1]
    happening = worlds[0].ids.next()
    assert abs(((happening >> 22) + DISCORD_EPOCH_MS) / 1000 - datetime.now(UTC).timestamp()) < 60
