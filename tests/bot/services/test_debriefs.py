"""The debrief after a session: who flew (from the agent's heartbeats), what it cost, and links
to the files the server sent back; recorded before it is sent, sent until delivered."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import aiohttp
import pytest

from bot.agentapi import Grant
from bot.agentapi.events import agent_stream
from bot.agentapi.schemas import Heartbeat, Player, Uploaded
from bot.domain.mission_quota import BYTES_PER_MB
from bot.domain.session import SessionState
from bot.files.store import LocalObjectStore, ObjectKey
from bot.notify import DebriefNotice
from tests.bot.services.harness import GUILD, MINUTE, BotProcess, member

TACVIEW = b"FileType=text/acmi/tacview\nFileVersion=2.2\n0,ReferenceTime=2026-11-28T18:00:00Z\n"
DAYS = timedelta(days=7)


async def flown(bot: BotProcess, objects: LocalObjectStore) -> SessionState:
    """A session that became ready, whose agent reported two pilots and uploaded a Tacview."""
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    session_id = started.session_id
    ready = await bot.services.sessions.check_ready(session_id)
    assert ready.ready_at is not None
    agents = bot.services.agents
    await agents.credentials.mint(session_id, ready.attempt)
    grant = Grant(session_id, ready.attempt)
    flights = [["Viper 1-1"], ["Viper 1-1", "Hornet *2-1*"], []]
    for seq, names in enumerate(flights, start=1):
        players = [Player(id=i + 2, name=n, side=2, slot=str(i)) for i, n in enumerate(names)]
        state = "running" if names else "stopped"  # the mission ended: no graceful end needed
        beat = Heartbeat(seq=seq, state=state, mission="Op", players=players, acked=[])
        await agents.heartbeats.accept(grant, beat)
    key = ObjectKey.debrief(GUILD, session_id, "tacview-1")
    objects.path(key).parent.mkdir(parents=True)
    objects.path(key).write_bytes(TACVIEW)
    uploaded = Uploaded(
        kind="tacview",
        name="Tacview-Op.acmi",
        size=len(TACVIEW),
        sha256=hashlib.sha256(TACVIEW).hexdigest(),
        key=key,
    )
    await agents.transfers.accept_uploaded(grant, [uploaded])
    await bot.clock.advance(45 * MINUTE)
    return ready


async def test_after_the_end_one_debrief_names_the_pilots_the_cost_and_working_links(
    bot: BotProcess, objects: LocalObjectStore
) -> None:
    session = await flown(bot, objects)

    ended = await bot.services.sessions.terminate(session.session_id, "stopped_by_user")
    debrief = await bot.notifier.wait_for(DebriefNotice)
    await bot.services.background.drain()

    assert debrief.pilots == ("Viper 1-1", "Hornet *2-1*")
    assert (debrief.session.billed_minutes, debrief.session.charged_cents) == (
        ended.billed_minutes,
        ended.charged_cents,
    )
    assert ended.ended_at is not None and debrief.expires_at == ended.ended_at + DAYS
    [file] = debrief.files
    assert (file.kind, file.name, file.size) == ("tacview", "Tacview-Op.acmi", len(TACVIEW))
    async with aiohttp.ClientSession() as http, http.get(file.url) as reply:
        assert await reply.read() == TACVIEW
        assert "Tacview-Op.acmi" in reply.headers["Content-Disposition"]
    types = await bot.types(agent_stream(session.session_id))
    assert types[-2:] == ["DebriefPostRecorded", "DebriefPostDelivered"]
    assert file.url not in repr(debrief)

    await bot.services.debriefs.post(ended)
    assert len(bot.notifier.of_type(DebriefNotice)) == 1


async def test_a_debrief_not_delivered_is_sent_again_later_with_links_to_the_same_expiry(
    bot: BotProcess, objects: LocalObjectStore
) -> None:
    session = await flown(bot, objects)
    bot.notifier.failing = 1

    ended = await bot.services.sessions.terminate(session.session_id, "stopped_by_user")
    await bot.services.background.drain()
    assert bot.notifier.of_type(DebriefNotice) == []
    assert (await bot.types(agent_stream(session.session_id)))[-1] == "DebriefPostRecorded"

    await bot.clock.advance(MINUTE)
    [debrief] = bot.notifier.of_type(DebriefNotice)
    assert ended.ended_at is not None and debrief.expires_at == ended.ended_at + DAYS
    assert (await bot.types(agent_stream(session.session_id)))[-1] == "DebriefPostDelivered"


async def test_a_debrief_recorded_before_a_restart_is_sent_at_the_next_start(
    bot: BotProcess, objects: LocalObjectStore
) -> None:
    session = await flown(bot, objects)
    bot.notifier.failing = 10
    await bot.services.sessions.terminate(session.session_id, "stopped_by_user")
    await bot.services.background.drain()
    await bot.services.debriefs.aclose()  # the process stops before trying again

    again = BotProcess(bot.store, bot.clock, bot.provider)
    await again.start()
    try:
        again.services.agents.transfers.attach(objects)
        await again.services.debriefs.resume()
        await again.services.background.drain()
        [debrief] = again.notifier.of_type(DebriefNotice)
        assert debrief.pilots == ("Viper 1-1", "Hornet *2-1*")
        assert [f.name for f in debrief.files] == ["Tacview-Op.acmi"]
    finally:
        await again.stop()


async def test_a_session_that_never_became_ready_gets_no_debrief(
    bot: BotProcess, objects: LocalObjectStore
) -> None:
    await bot.fund(1_000)
    bot.provider.port_open = False  # type: ignore[attr-defined]
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    await bot.services.sessions.terminate(started.session_id, "stopped_by_user")
    await bot.services.background.drain()

    assert bot.notifier.of_type(DebriefNotice) == []
    assert "DebriefPostRecorded" not in await bot.types(agent_stream(started.session_id))


async def test_the_upload_is_asked_once_and_done_when_acknowledged(
    bot: BotProcess, objects: LocalObjectStore
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    debriefs, instructions = bot.services.debriefs, bot.services.agents.instructions

    await debriefs.request_upload(started)
    await debriefs.request_upload(started)

    [upload] = instructions.pending(started.session_id)
    assert upload.kind == "upload" and upload.uploads is not None
    assert [(t.kind, t.pattern, len(t.links)) for t in upload.uploads] == [
        ("tacview", "Tracks/Tacview/*.acmi", 4),
        ("track", "Tracks/*.trk", 2),
        ("log", "Logs/dcs.log", 1),
    ]
    assert all(t.max_bytes == 500 * BYTES_PER_MB for t in upload.uploads)
    assert not debriefs.upload_done(started.session_id)
    instructions.acknowledge(started.session_id, [upload.id])
    assert debriefs.upload_done(started.session_id)


async def test_without_an_object_store_no_upload_is_asked_and_the_end_does_not_wait(
    bot: BotProcess, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()

    await bot.services.debriefs.request_upload(started)

    assert bot.services.agents.instructions.pending(started.session_id) == []
    assert bot.services.debriefs.upload_done(started.session_id)
    assert "could not be asked for" in caplog.text


async def test_the_graceful_end_waits_for_the_debrief_upload_then_terminates_and_posts_it(
    bot: BotProcess, objects: LocalObjectStore
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    ready = await bot.services.sessions.check_ready(started.session_id)
    agents = bot.services.agents
    grant = Grant(ready.session_id, ready.attempt)
    pilot = [Player(id=2, name="Viper 1-1", side=2, slot="1")]

    async def beat(state: str, acked: list[str], uploaded: tuple[Uploaded, ...] = ()) -> None:
        seq = agents.heartbeats.last_seq(grant) + 1
        heartbeat = Heartbeat(
            seq=seq, state=state, mission="Op", players=pilot, acked=acked, uploaded=list(uploaded)
        )
        await agents.heartbeats.accept(grant, heartbeat)
        await agents.transfers.accept_uploaded(grant, heartbeat.uploaded)
        agents.instructions.acknowledge(grant.session_id, heartbeat.acked)
        await bot.services.background.drain()

    await beat("running", [])
    await bot.clock.advance(30 * MINUTE)
    stopping = await bot.services.sessions.stop(member(), ready.session_id)
    end_mission, upload = agents.instructions.pending(ready.session_id)[-2:]
    assert (end_mission.kind, upload.kind) == ("end_mission", "upload")
    assert upload.uploads is not None

    await beat("stopped", [end_mission.id])
    assert (await bot.services.sessions.get(stopping.session_id)).status.value == "terminating"

    form = upload.uploads[0].links[0]
    objects.path(ObjectKey(form.key)).parent.mkdir(parents=True, exist_ok=True)
    objects.path(ObjectKey(form.key)).write_bytes(TACVIEW)
    uploaded = Uploaded(
        kind="tacview",
        name="Tacview-Op.acmi",
        size=len(TACVIEW),
        sha256=hashlib.sha256(TACVIEW).hexdigest(),
        key=form.key,
    )
    await beat("stopped", [upload.id], (uploaded,))
    await beat("stopped", [])  # the next heartbeat hears the upload done: terminated

    ended = await bot.services.sessions.get(stopping.session_id)
    assert ended.status.value == "ended" and ended.billed_minutes == 30
    debrief = await bot.notifier.wait_for(DebriefNotice)
    assert debrief.pilots == ("Viper 1-1",)
    assert [(f.kind, f.name) for f in debrief.files] == [("tacview", "Tacview-Op.acmi")]


async def test_without_an_object_store_a_debrief_without_files_is_still_posted(
    bot: BotProcess,
) -> None:
    await bot.fund(1_000)
    started = await bot.services.sessions.start(member(), duration_minutes=60)
    await bot.services.background.drain()
    ready = await bot.services.sessions.check_ready(started.session_id)

    await bot.services.sessions.terminate(ready.session_id, "stopped_by_user")
    await bot.services.background.drain()

    [debrief] = bot.notifier.of_type(DebriefNotice)
    assert (debrief.pilots, debrief.files) == ((), ())
