"""The agent API inside the whole app: its routes on rr's web app, credentials that expire
when the view says the session has ended."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.domain.events import (
    InstanceLaunchRequested,
    SessionBooked,
    SessionCancelled,
    to_new_event,
)
from bot.domain.session import session_stream
from bot.entrypoints.app import App
from bot.services.server_files import RenderedFiles

pytestmark = pytest.mark.e2e

SESSION = "5d1f0c3a-8e2b-4f6d-9a7c-1b3e5d7f9a20"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("RR_", "DISCORD_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RR_EVENT_STORE", "memory://")
    monkeypatch.setenv("RR_WEB_PORT", "0")
    monkeypatch.setenv("RR_LOCAL_INSTANCES_DIR", str(tmp_path / "instances"))
    yield


async def test_credentials_work_while_the_view_knows_the_session_as_active(
    environment: None,
) -> None:
    app = App(Settings())
    await app.start()
    try:
        api, services = app.agent_api, app.services
        assert api is not None and isinstance(api.files, RenderedFiles)
        booked = SessionBooked(
            session_id=SESSION,
            guild_id="g1",
            booked_by="u1",
            size="small",
            region="eu-west-1",
            # Booked days ahead, on the app's real clock: nothing falls due (a start now would
            # be launched a minute after its start), so the stream stays as the test wrote it.
            start_at=datetime.now(UTC) + timedelta(days=3),
            duration_minutes=60,
            rate_cents_per_hour=600,
            immediate=False,
            mission_name=None,
        )
        launching = InstanceLaunchRequested(
            attempt=1, client_token="token-1", size="small", region="eu-west-1", login_ref=None
        )
        stored = await services.store.append_many(
            [(session_stream(SESSION), 0, [to_new_event(booked, {}), to_new_event(launching, {})])]
        )
        services.view.publish(stored)
        token = await api.credentials.mint(SESSION, 1)
        url = f"{app.base_url}/agent/v1/sessions/{SESSION}/files"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers=headers) as response:
                assert response.status == 200
                paths = {file["path"] for file in (await response.json())["files"]}
                assert "Config/serverSettings.lua" in paths
            cancelled = SessionCancelled(reason="cancelled")
            stored = await services.store.append_many(
                [(session_stream(SESSION), 2, [to_new_event(cancelled, {})])]
            )
            services.view.publish(stored)
            async with http.get(url, headers=headers) as response:
                assert response.status == 401
    finally:
        await app.stop()
