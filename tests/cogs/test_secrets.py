"""Squadron passwords in the running bot: sealed in the store, and forgotten by an operator."""

import json

import pytest

from bot.leadership import FencedStore
from bot.secrets import SealingStore
from tests.cogs.conftest import World

pytestmark = pytest.mark.e2e

PASSWORD = "sealed-server-pass"


async def test_an_operator_forgets_a_squadrons_passwords_and_the_squadron_is_told(
    world: World,
) -> None:
    w = world
    options = {"setting": "password", "value": PASSWORD}
    await (await w.emu.invoke(w.guild, w.admin, "config set", options)).message()
    fenced = w.app.services.store
    assert isinstance(fenced, FencedStore)
    store = fenced.inner
    assert isinstance(store, SealingStore)
    raw = [json.dumps(event.data) async for event in store.inner.read_all()]
    assert raw, "the raw store holds the settings change"
    assert all(PASSWORD not in data for data in raw)
    assert (await w.app.services.squadrons.get(w.guild_id)).settings.password == PASSWORD

    reply = await (
        await w.emu.invoke(w.ops_guild, w.operator, "admin forget-secrets", {"guild": w.guild_id})
    ).message()
    assert reply.content == (
        f"Deleted the key of guild `{w.guild_id}`; its passwords are blank and must be set again."
    )
    assert (await w.app.services.squadrons.get(w.guild_id)).settings.password == ""
    shown = await (await w.emu.invoke(w.guild, w.admin, "config show", {})).message()
    assert "passwords were forgotten" in shown.embeds[0]["description"]
    first = [event async for event in store.read(f"squadron#{w.guild_id}")][0]  # noqa: RUF015
    assert first.data["settings"]["password"] == "", "the first change's box no longer opens"
    assert first.data["secrets_forgotten"] is True
