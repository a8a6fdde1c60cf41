"""Secret settings in the event history: sealed in the raw store, opened on reading, blank once
the squadron's key is deleted. SQLite with a local key file; DynamoDB with AWS KMS, both
through boto3 against the moto server on loopback."""

import stat
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

import eventstore
from bot.domain import squadron as sq
from bot.domain.actor import Actor
from bot.domain.events import SquadronSettingsChanged, from_stored, to_data
from bot.domain.squadron import squadron_stream
from bot.secrets import DataKey, KeyRing, SealingStore, open_keyring, open_master_key
from bot.secrets.cipher import CannotOpen, new_key
from bot.secrets.sealing import open_settings, seal_settings
from bot.services.streams import decide_squadron
from eventstore import EventStore, NewEvent

GUILD = "900000000000000001"
OTHER_GUILD = "900000000000000002"
PASSWORDS = {
    "password": "hunter2-server",
    "lotatc.blue_password": "lotatc-blue-x",
    "srs.blue_password": "srs-blue-xyz",
    "tacview.remote_control_password": "tacview-rc-q",
}
CHANGES = {**PASSWORDS, "lotatc.enabled": "yes", "server_name": "Visible Name"}
MANAGER = Actor("43", GUILD, is_manager=True)

OpenSealed = Callable[[], Awaitable[SealingStore]]


async def change_settings(store: EventStore, guild_id: str = GUILD) -> None:
    state = sq.initial_squadron
    events = decide_squadron(sq.ChangeSettings(actor=MANAGER, changes=CHANGES), state)
    await store.append(squadron_stream(guild_id), 0, events)


async def read_settings(store: EventStore, guild_id: str = GUILD) -> SquadronSettingsChanged:
    [stored] = [event async for event in store.read(squadron_stream(guild_id))]
    event = from_stored(stored)
    assert isinstance(event, SquadronSettingsChanged)
    return event


def raw_files(folder: Path, pattern: str) -> bytes:
    """The bytes of every file matching ``pattern``: the database with its WAL, as stored."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob(pattern)))


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_opened(event: SquadronSettingsChanged) -> None:
    for key, value in PASSWORDS.items():
        assert event.settings.value(key) == value
    assert event.settings.lotatc.enabled
    assert not event.secrets_forgotten


def assert_forgotten(event: SquadronSettingsChanged) -> None:
    for key in PASSWORDS:
        assert event.settings.value(key) == ""
    assert not event.settings.lotatc.enabled, "LotAtc needs a password: off without one"
    assert event.settings.server_name == "Visible Name"
    assert event.secrets_forgotten


# --- SQLite, local key file ---------------------------------------------------------------------


@pytest.fixture
async def sqlite_sealed(tmp_path: Path) -> AsyncIterator[OpenSealed]:
    """Opens the same SQLite file and key files afresh, as a restarted bot does."""
    opened: list[EventStore] = []

    async def open_() -> SealingStore:
        store = eventstore.open(f"sqlite:///{tmp_path}/rr.db")
        keys = await open_keyring(
            f"file://{tmp_path}/secrets.key", store, tmp_path / "squadron-keys.json"
        )
        opened.append(store)
        return SealingStore(store, keys)

    yield open_
    for store in opened:
        await store.close()


async def test_sqlite_file_holds_no_password_and_reads_back(
    sqlite_sealed: OpenSealed, tmp_path: Path
) -> None:
    store = await sqlite_sealed()
    await change_settings(store)
    raw = raw_files(tmp_path, "rr.db*")
    assert b"Visible Name" in raw, "the raw store is where this test looks"
    for password in PASSWORDS.values():
        assert password.encode() not in raw
    assert_opened(await read_settings(store))
    assert_opened(await read_settings(await sqlite_sealed()))  # after a restart
    assert file_mode(tmp_path / "secrets.key") == 0o600
    for password in PASSWORDS.values():
        assert password.encode() not in raw_files(tmp_path, "squadron-keys.json")


async def test_the_raw_event_is_version_3_with_one_sealed_box(sqlite_sealed: OpenSealed) -> None:
    store = await sqlite_sealed()
    await change_settings(store)
    [raw] = [event async for event in store.inner.read(squadron_stream(GUILD))]
    assert raw.schema_version == 3
    assert set(raw.data["sealed"]) == {"key", "box"}
    assert "password" not in raw.data["settings"]
    assert "blue_password" not in raw.data["settings"]["lotatc"]


async def test_leases_fences_and_checkpoints_pass_through_the_sealing_store(
    sqlite_sealed: OpenSealed,
) -> None:
    store = await sqlite_sealed()
    lease = await store.acquire_lease("scheduler", "process-a", timedelta(seconds=30))
    assert lease is not None
    assert await store.acquire_lease("scheduler", "process-b", timedelta(seconds=30)) is None
    await store.append("test#fenced", 0, [NewEvent("Noted", {})], fence=lease)
    await store.release_lease(lease)
    taken = await store.acquire_lease("scheduler", "process-b", timedelta(seconds=30))
    assert taken is not None and taken.token > lease.token
    with pytest.raises(eventstore.LeaseLost):
        await store.append("test#fenced", 1, [NewEvent("Noted", {})], fence=lease)
    assert await store.save_checkpoint("view", b"state") == 1
    checkpoint = await store.load_checkpoint("view")
    assert checkpoint is not None and checkpoint.data == b"state"


async def test_forgetting_the_key_blanks_the_secrets_never_fails(
    sqlite_sealed: OpenSealed,
) -> None:
    store = await sqlite_sealed()
    await change_settings(store)
    assert await store.keys.forget(GUILD)
    assert_forgotten(await read_settings(store))
    assert_forgotten(await read_settings(await sqlite_sealed()))
    assert not await store.keys.forget(GUILD), "nothing left to forget"


async def test_one_squadrons_forgotten_key_leaves_anothers_secrets(
    sqlite_sealed: OpenSealed,
) -> None:
    store = await sqlite_sealed()
    await change_settings(store, GUILD)
    await change_settings(store, OTHER_GUILD)
    await store.keys.forget(GUILD)
    assert_forgotten(await read_settings(store, GUILD))
    assert_opened(await read_settings(store, OTHER_GUILD))


def test_a_box_sealed_for_one_squadron_does_not_open_for_another() -> None:
    """The guild id is the associated data: the same key does not open a box moved elsewhere."""
    key = DataKey("k1", new_key())
    change = sq.ChangeSettings(actor=MANAGER, changes=CHANGES)
    [event] = decide_squadron(change, sq.initial_squadron)
    sealed = seal_settings(event.data, key, GUILD)
    assert open_settings(sealed, key, GUILD)["settings"]["password"] == PASSWORDS["password"]
    elsewhere = open_settings(sealed, key, OTHER_GUILD)
    assert elsewhere["settings"]["password"] == ""
    assert elsewhere["secrets_forgotten"] is True


async def test_old_plaintext_events_still_read(sqlite_sealed: OpenSealed) -> None:
    """Version 2 events stay as they were written, passwords in plain text, until the store is
    compacted; they read as before, with nothing forgotten."""
    store = await sqlite_sealed()
    [new] = decide_squadron(sq.ChangeSettings(actor=MANAGER, changes=CHANGES), sq.initial_squadron)
    v2 = {key: value for key, value in new.data.items() if key != "secrets_forgotten"}
    await store.inner.append(squadron_stream(GUILD), 0, [NewEvent(new.type, v2, schema_version=2)])
    assert_opened(await read_settings(store))


async def test_appended_events_come_back_opened(sqlite_sealed: OpenSealed) -> None:
    """What an append returns is published to the view: it must be the domain's event."""
    store = await sqlite_sealed()
    events = decide_squadron(sq.ChangeSettings(actor=MANAGER, changes=CHANGES), sq.initial_squadron)
    [stored] = await store.append_many([(squadron_stream(GUILD), 0, events)])
    event = from_stored(stored)
    assert isinstance(event, SquadronSettingsChanged)
    assert_opened(event)
    assert stored.data == to_data(event)


# --- DynamoDB, AWS KMS ----------------------------------------------------------------------------


@pytest.fixture
async def kms_sealed(moto_endpoint: str) -> AsyncIterator[tuple[OpenSealed, str]]:
    kms = boto3.client("kms", region_name="eu-west-1", endpoint_url=moto_endpoint)
    key_id = kms.create_key(Description="rr secrets test")["KeyMetadata"]["KeyId"]
    alias = f"alias/rr-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    table = f"events-{uuid.uuid4().hex}"
    options = f"region=eu-west-1&endpoint_url={moto_endpoint}"
    opened: list[EventStore] = []

    async def open_() -> SealingStore:
        store = eventstore.open(f"dynamodb://{table}?{options}")
        keys = await open_keyring(f"kms://{alias}?{options}", store, Path("unused"))
        opened.append(store)
        return SealingStore(store, keys)

    yield open_, table
    for store in opened:
        await store.close()


async def test_dynamodb_items_hold_no_password_and_kms_unwraps_the_key(
    kms_sealed: tuple[OpenSealed, str], moto_endpoint: str
) -> None:
    open_, table = kms_sealed
    store = await open_()
    await change_settings(store)
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=moto_endpoint)
    items = dynamodb.scan(TableName=table)["Items"]
    raw = repr(items)
    assert "Visible Name" in raw
    for password in PASSWORDS.values():
        assert password not in raw
    assert any(item["pk"]["S"] == f"key#{GUILD}" for item in items), "the wrapped key item"
    assert_opened(await read_settings(await open_()))  # a new process: KMS Decrypt

    assert await store.keys.forget(GUILD)
    items = dynamodb.scan(TableName=table)["Items"]
    assert not any(item["pk"]["S"].startswith("key#") for item in items)
    assert_forgotten(await read_settings(await open_()))


async def test_a_wrong_master_key_reads_secrets_as_forgotten(tmp_path: Path) -> None:
    """A key table whose keys the master key did not wrap: blank secrets, not a crash."""
    store = eventstore.open(f"sqlite:///{tmp_path}/rr.db")
    table = tmp_path / "squadron-keys.json"
    first = await open_keyring(f"file://{tmp_path}/one.key", store, table)
    await change_settings(SealingStore(store, first))
    second: KeyRing = await open_keyring(f"file://{tmp_path}/two.key", store, table)
    assert_forgotten(await read_settings(SealingStore(store, second)))
    await store.close()


async def test_kms_unwraps_a_data_key_only_for_its_squadron(moto_endpoint: str) -> None:
    kms = boto3.client("kms", region_name="eu-west-1", endpoint_url=moto_endpoint)
    key_id = kms.create_key(Description="rr secrets test")["KeyMetadata"]["KeyId"]
    master = await open_master_key(f"kms://{key_id}?region=eu-west-1&endpoint_url={moto_endpoint}")
    made = await master.new_data_key(GUILD)
    assert len(made.plaintext) == 32
    assert made.plaintext not in made.wrapped
    assert await master.unwrap(GUILD, made.wrapped) == made.plaintext
    with pytest.raises(CannotOpen):
        await master.unwrap(OTHER_GUILD, made.wrapped)


async def test_a_master_key_url_must_name_a_key() -> None:
    for url in ("file://", "kms://", "kms://alias/x?colour=red", "s3://bucket", "file://x?a=b"):
        with pytest.raises(ValueError, match="names no master key"):
            await open_master_key(url)
