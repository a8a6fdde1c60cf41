"""Both object stores, ready for the same tests: the local one behind rr's real web app, the S3
one against a moto server (with S3's presigned-request rules, `tests.fakes.s3_presigned`)."""

import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from bot.entrypoints.web import WebServer, create_web_app
from bot.files.store import ObjectStore, open_object_store
from tests.fakes.clock import FakeClock
from tests.fakes.moto_server import FAKE_AWS_ENV, _free_port, _OneRequestAtATime
from tests.fakes.s3_presigned import AwsTime, PresignedRules

REGION = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]
SIGNING_KEY = b"k" * 32


@dataclass
class S3Server:
    endpoint: str
    time: AwsTime


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto server that refuses what S3 refuses of presigned requests, for the session."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        time = AwsTime()
        moto = DomainDispatcherApplication(create_backend_app)
        app = PresignedRules(_OneRequestAtATime(moto), FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"], time)
        port = _free_port()
        server = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield S3Server(f"http://127.0.0.1:{port}", time)
        finally:
            server.shutdown()
            thread.join()


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Server]:
    """The server, its clock put back to real time after the test."""
    yield s3_server
    s3_server.time.offset = timedelta(0)


def make_bucket(s3: S3Server) -> str:
    bucket = f"rr-files-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", region_name=REGION, endpoint_url=s3.endpoint)
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.close()
    return bucket


@dataclass
class Backend:
    """A store under test, and how to move the clock its links expire by."""

    name: str
    store: ObjectStore
    advance: Callable[[timedelta], Awaitable[None]]
    root: Path | None = None
    """The local store's folder."""


@pytest.fixture
async def local_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    web = WebServer("127.0.0.1", 0)
    root = tmp_path / "files"
    store = await open_object_store(
        f"file://{root}",
        clock=clock,
        base_url=f"http://127.0.0.1:{web.port}",
        signing_key=SIGNING_KEY,
    )
    await web.start(create_web_app(health={}, routes=store.web_routes()))
    try:
        yield Backend("local", store, clock.advance, root)
    finally:
        await store.close()
        await web.stop()


@pytest.fixture
async def s3_backend(s3: S3Server) -> AsyncIterator[Backend]:
    bucket = make_bucket(s3)
    store = await open_object_store(
        f"s3://{bucket}/rr/test?region={REGION}&endpoint_url={s3.endpoint}",
        clock=FakeClock(datetime.now(UTC)),
        base_url="http://unused.invalid",
    )

    async def advance(delta: timedelta) -> None:
        s3.time.advance(delta)

    try:
        yield Backend("s3", store, advance)
    finally:
        await store.close()


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")
