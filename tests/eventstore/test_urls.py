"""eventstore.open: each URL form, and a plain reason for each bad one."""

from pathlib import Path

import pytest

import eventstore
from eventstore import NewEvent
from eventstore.dynamodb import DynamoDBEventStore
from eventstore.memory import MemoryEventStore
from eventstore.sqlite import SqliteEventStore


async def test_each_url_form_opens_its_backend(tmp_path: Path) -> None:
    memory = eventstore.open("memory://")
    relative = eventstore.open("sqlite:///var/rr.db?synchronous=normal")
    absolute = eventstore.open(f"sqlite:///{tmp_path}/rr.db")
    dynamodb = eventstore.open(
        "dynamodb://rr-events?region=eu-central-1&endpoint_url=http://127.0.0.1:1&create=false"
    )

    assert isinstance(memory, MemoryEventStore)
    assert isinstance(relative, SqliteEventStore) and isinstance(absolute, SqliteEventStore)
    assert isinstance(dynamodb, DynamoDBEventStore)
    assert dynamodb.table == "rr-events"
    assert dynamodb.client.meta.region_name == "eu-central-1"
    assert dynamodb.client.meta.endpoint_url == "http://127.0.0.1:1"
    for store in (memory, relative, absolute, dynamodb):
        await store.close()


async def test_a_relative_sqlite_path_is_created_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    async with eventstore.open("sqlite:///var/data/rr.db") as store:
        await store.append("s", 0, [NewEvent("X", {})])

    assert (tmp_path / "var" / "data" / "rr.db").is_file()


async def test_sqlite_with_create_false_refuses_a_missing_file(tmp_path: Path) -> None:
    async with eventstore.open(f"sqlite:///{tmp_path}/missing.db?create=false") as store:
        with pytest.raises(ValueError, match="create=false"):
            await store.append("s", 0, [NewEvent("X", {})])

    assert not (tmp_path / "missing.db").exists()


async def test_dynamodb_with_create_false_refuses_a_missing_table(moto_endpoint: str) -> None:
    url = f"dynamodb://absent?region=eu-west-1&endpoint_url={moto_endpoint}&create=false"

    async with eventstore.open(url) as store:
        with pytest.raises(ValueError, match="does not exist"):
            await store.append("s", 0, [NewEvent("X", {})])


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "Unknown event store URL"),
        ("postgres://db/events", "Unknown event store URL"),
        ("memory://somewhere", "exactly 'memory://'"),
        ("sqlite://", "three slashes"),
        ("sqlite:///", "three slashes"),
        ("sqlite://host/file.db", "three slashes"),
        ("sqlite:///rr.db?synchronous=off", "synchronous must be full or normal"),
        ("sqlite:///rr.db?create=maybe", "create must be true or false"),
        ("sqlite:///rr.db?journal=wal", "Unknown option 'journal'"),
        ("sqlite:///rr.db?create=true&create=false", "given twice"),
        ("dynamodb://?region=eu-west-1", "names its table"),
        ("dynamodb://ab?region=eu-west-1", "names its table"),
        ("dynamodb://bad$name?region=eu-west-1", "names its table"),
        ("dynamodb://table/extra?region=eu-west-1", "names its table"),
        ("dynamodb://table?region=eu-west-1&overlap_seconds=-1", "overlap_seconds"),
        ("dynamodb://table?region=eu-west-1&overlap_seconds=1.5", "from 2 to"),
        ("dynamodb://table?region=eu-west-1&overlap_seconds=inf", "overlap_seconds"),
        ("dynamodb://table?region=eu-west-1&overlap_seconds=soon", "overlap_seconds"),
        ("dynamodb://table?region=eu-west-1&table=x", "Unknown option 'table'"),
    ],
)
def test_a_bad_url_raises_value_error_saying_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        eventstore.open(url)


def test_a_dynamodb_url_without_any_region_asks_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    with pytest.raises(ValueError, match=r"\?region=REGION"):
        eventstore.open("dynamodb://rr-events")
