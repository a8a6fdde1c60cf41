"""One session on a deployed stack, run by rr's own parts built from the stack's outputs: the
DynamoDB store from RR_EVENT_STORE, the EC2 provider (and its backstop and login checks) from
the RR_EC2_* settings, the login pool, the services and the view. Whatever AWS calls rr makes
for a session, this makes them, with whichever credentials boto3 finds in the environment."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

import eventstore
from bot.cloud.ec2 import open_ec2_provider
from bot.cloud.logins import StoredLoginPool
from bot.config import Settings
from bot.domain.session import SessionState
from bot.files.store.keys import ObjectKey
from bot.files.store.open import open_object_store
from bot.secrets.open import open_keyring
from tests.bot.cloud.helpers import REGION, RR_URL
from tests.bot.services.harness import GUILD, BotProcess, member
from tests.fakes.clock import FakeClock

FUNDS = 10_000
RAN_FOR = timedelta(minutes=40)
EXTENDED_BY = 30
LINK_LIFETIME = timedelta(minutes=15)
LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionRun:
    launched: SessionState
    ended: SessionState


def use_stack_settings(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], moto_endpoint: str
) -> Settings:
    """rr's environment as the operator sets it from the outputs; boto3 aimed at moto."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    # S3 clients address buckets by host name unless told the endpoint; moto is one host.
    files = f"{settings['RR_FILES_STORE']}&endpoint_url={moto_endpoint}"
    monkeypatch.setenv("RR_FILES_STORE", files)
    return Settings(_env_file=None)  # type: ignore[call-arg]


async def use_store_and_secrets(settings: Settings, clock: FakeClock, key_table: Path) -> None:
    """The event store's other parts (the active process's lease, the view's checkpoints) and
    the squadrons' keys: one sealed under the master key, opened by a fresh key ring (KMS
    decrypts), then forgotten."""
    async with eventstore.open(settings.event_store, clock=clock.now) as store:
        lease = await store.acquire_lease("rr-active", "process-1", LEASE)
        assert lease is not None
        await store.release_lease(await store.renew_lease(lease, LEASE))
        await store.save_checkpoint("view", b"x" * 600_000)  # chunked: several items
        await store.save_checkpoint("view", b"smaller")  # the older chunks deleted
        loaded = await store.load_checkpoint("view")
        assert loaded is not None and loaded.data == b"smaller"
        sealing = await open_keyring(settings.secrets_key, store, key_table)
        key = await sealing.for_sealing(GUILD)
        opening = await open_keyring(settings.secrets_key, store, key_table)
        opened = await opening.for_opening(GUILD, key.key_id)
        assert opened is not None and opened.secret == key.secret
        assert await opening.table.delete(GUILD)


async def use_file_store(settings: Settings, clock: FakeClock) -> ObjectKey:
    """What rr does with squadrons' files on S3: opened (the bucket checked), a mission stored,
    read and linked, a debrief's upload link and look-up, a deletion. Returns the mission's key."""
    store = await open_object_store(settings.files.store, clock=clock, base_url="http://unused")
    try:
        stored = await store.put(GUILD, b"mission = {}")
        assert await store.get(stored.key) == b"mission = {}"
        await store.download_link(stored.key, LINK_LIFETIME, filename="training.miz")
        debrief = ObjectKey.debrief(GUILD, "session-1", "tacview.acmi")
        await store.upload_link(debrief, settings.files.debrief_max_mb * 10**6, LINK_LIFETIME)
        assert await store.head(debrief) is None
        kept = await store.put(GUILD, b"mission = {kept = true}")
        await store.delete(stored.key)
    finally:
        await store.close()
    return kept.key


async def run_session(
    settings: Settings,
    clock: FakeClock,
    while_running: Callable[[SessionState], None] = lambda _: None,
) -> SessionRun:
    """Start a session now, let its launch finish, look at it with ``while_running``, run it a
    while, extend it (which moves its backstop), stop it."""
    provider = await open_ec2_provider(settings, clock.now)
    async with eventstore.open(settings.event_store, clock=clock.now) as store:
        pool = StoredLoginPool(store, settings.ec2.login_parameters)
        bot = BotProcess(store, clock, provider, login_pool=pool, rr_url=RR_URL)
        await bot.start()
        try:
            await bot.fund(FUNDS)
            await bot.services.squadrons.change_settings(member(manager=True), {"region": REGION})
            started = await bot.services.sessions.start(member(), duration_minutes=60)
            await bot.services.background.drain()
            launched = await bot.services.sessions.get(started.session_id)
            assert launched.instance_id is not None, "the launch did not finish"
            while_running(launched)
            await clock.advance(RAN_FOR)
            await bot.services.sessions.extend(member(), started.session_id, EXTENDED_BY)
            await bot.services.background.drain()
            ended = await bot.services.sessions.stop(member(), started.session_id)
        finally:
            await bot.stop()
    return SessionRun(launched=launched, ended=ended)
