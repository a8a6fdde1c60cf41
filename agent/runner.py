"""The agent's life: boot (files, hook, programs), then heartbeats until the session is over.

rr being unreachable (or answering 5xx) is waited out with bounded back-off; a 429 waits as long
as rr asks; a 409 (rr already has a later heartbeat) carries on after rr's ``last_seq``; a 401
or 403 means the credential no longer works (the session is over), and the agent stops.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backoff import Backoff
from agent.clock import AgentClock
from agent.files import BadFiles, decode_files, write_files
from agent.hookfile import HOOK_PATH, hook_source
from agent.hooklink import HookLink, HookReport
from agent.programs import Programs, Starter, start_programs
from agent.rr import Refused, RrClient, Unreachable
from agent.transfers import (
    TransferFailed,
    UploadedFile,
    download,
    parse_downloads,
    unpack,
    upload_all,
)

log = logging.getLogger("rr.agent")

STALE_AFTER_SECONDS = 30.0
"""A hook silent this long is reported ``unresponsive`` (it reports every 5 s)."""
ENDED = (401, 403)
MAX_INSTRUCTIONS = 64
"""Kept until the hook reports them done; the oldest goes first (one the hook cannot do)."""
MAX_UPLOADED_PER_BEAT = 16
UPLOAD_SCRATCH = ".rr-upload"
"""Where a save folder is zipped before it is sent, under the write folder."""


@dataclass
class Agent:
    client: RrClient
    link: HookLink
    clock: AgentClock
    root: Path
    programs: Programs = field(default_factory=Programs)
    starter: Starter | None = None
    agent_port: int = 0
    interval: float = 5.0
    seq: int = 0
    beats: int = 0
    """Heartbeats rr accepted."""
    _backoff: Backoff = field(default_factory=Backoff)
    _instructions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Received from rr, not yet reported done by the hook."""
    _uploads: dict[str, asyncio.Task[list[UploadedFile]]] = field(default_factory=dict)
    """Upload instructions under way or done, by id, until rr hears they are done."""
    _collected: set[str] = field(default_factory=set)
    """Finished uploads whose files were moved to ``_uploaded``."""
    _uploaded: list[UploadedFile] = field(default_factory=list)
    """Stored, not yet reported in an accepted heartbeat."""

    async def run(self, max_beats: int | None = None) -> str:
        """Boot, then beat; returns why it stopped: "ended" or "done" (``max_beats`` reached)."""
        if not await self.boot():
            return "ended"
        return await self.beat_forever(max_beats)

    async def boot(self) -> bool:
        """Fetch and write the files and downloads, install the hook, start the programs; False
        if rr says the session is over. A download that fails or does not match is fetched
        again, with fresh links, after a back-off: DCS never starts on a wrong mission."""
        retry = Backoff()
        while True:
            reply = await self._call(self.client.files)
            if reply is None:
                return False
            files = decode_files(reply.get("files", []))
            try:
                await self._download(reply.get("downloads", []))
            except (BadFiles, TransferFailed) as error:
                delay = retry.next_delay()
                log.warning("%s Asking rr again in %g s.", error, delay)
                await self.clock.sleep(delay)
                continue
            break
        hook = hook_source(self.agent_port, self.link.hook_port)
        write_files(self.root, {**files, HOOK_PATH: hook})
        self.seq = int(reply.get("last_seq", 0))
        self.interval = float(reply.get("interval_seconds", self.interval))
        log.info("wrote %d server files under %s", len(files), self.root)
        start_programs(self.programs, self.root, files, self.starter)
        return True

    async def beat_forever(self, max_beats: int | None = None) -> str:
        while max_beats is None or self.beats < max_beats:
            reply = await self._call(self._beat)
            if reply is None:
                return "ended"
            self._take(reply)
            await self.clock.sleep(self.interval)
        return "done"

    async def _download(self, entries: Any) -> None:
        for spec in parse_downloads(entries):
            await asyncio.to_thread(download, self.root, spec)
            log.info("downloaded %s (%d bytes)", spec.path, spec.size)
            if spec.unpack_to is not None:
                count = await asyncio.to_thread(unpack, self.root, spec)
                log.info("unpacked %d saved files into %s", count, spec.unpack_to)

    def heartbeat(self) -> dict[str, Any]:
        """The next heartbeat, from the hook's latest report and the uploads finished."""
        report = self.link.latest
        done = set() if report is None else set(report.done)
        done.update(key for key, task in self._uploads.items() if task.done())
        beat: dict[str, Any] = {
            "seq": self.seq + 1,
            "state": self._state(report),
            "mission": "" if report is None else report.mission,
            "players": [] if report is None else report.players,
            "acked": sorted(done & self._instructions.keys()),
        }
        uploaded = self._uploaded[:MAX_UPLOADED_PER_BEAT]
        if uploaded:
            beat["uploaded"] = [item.report() for item in uploaded]
        if len(uploaded) < len(self._uploaded):
            # The rest go with the next beats; the instruction is done only after them.
            beat["acked"] = sorted(set(beat["acked"]) - self._uploads.keys())
        return beat

    async def _beat(self) -> dict[str, Any]:
        self._collect_uploads()
        beat = self.heartbeat()
        reply = await self.client.heartbeat(beat)
        self.seq = beat["seq"]
        self.beats += 1
        for acked in beat["acked"]:
            self._instructions.pop(acked, None)
            self._uploads.pop(acked, None)
            self._collected.discard(acked)
        del self._uploaded[: len(beat.get("uploaded", []))]
        return reply

    def _collect_uploads(self) -> None:
        """Move what finished uploads stored into the next report (once per upload)."""
        for instruction_id, task in self._uploads.items():
            if not task.done() or instruction_id in self._collected:
                continue
            self._collected.add(instruction_id)
            if task.exception() is not None:
                log.error("the debrief upload failed", exc_info=task.exception())
                continue
            self._uploaded.extend(task.result())

    def _start_upload(self, instruction: dict[str, Any]) -> None:
        scratch = self.root / UPLOAD_SCRATCH
        self._uploads[instruction["id"]] = asyncio.create_task(
            asyncio.to_thread(upload_all, self.root, instruction.get("uploads"), scratch),
            name=f"upload:{instruction['id']}",
        )

    async def uploads_finished(self) -> None:
        """Wait for the uploads under way (for a clean exit, and for tests)."""
        await asyncio.gather(*self._uploads.values())

    def _take(self, reply: dict[str, Any]) -> None:
        self.interval = float(reply.get("interval_seconds", self.interval))
        done = set() if self.link.latest is None else self.link.latest.done
        for instruction in reply.get("instructions", []):
            if isinstance(instruction, dict) and isinstance(instruction.get("id"), str):
                self._instructions[instruction["id"]] = instruction
        while len(self._instructions) > MAX_INSTRUCTIONS:
            del self._instructions[next(iter(self._instructions))]
        for instruction_id, instruction in self._instructions.items():
            if instruction.get("kind") == "upload":
                if instruction_id not in self._uploads and self._mission_over():
                    self._start_upload(instruction)
            elif instruction_id not in done:
                self.link.send(instruction)

    def _mission_over(self) -> bool:
        """Whether DCS has closed the mission's files (Tacview, the track): its mission
        stopped, or its hook is silent."""
        return self._state(self.link.latest) in ("starting", "stopped", "unresponsive")

    def _state(self, report: HookReport | None) -> str:
        if report is None:
            return "starting"
        if self.clock.now() - report.received_at > STALE_AFTER_SECONDS:
            return "unresponsive"
        return report.state

    async def _call(self, request: Any) -> dict[str, Any] | None:
        """``request()`` until rr answers; None once rr says the credential no longer works."""
        while True:
            try:
                reply: dict[str, Any] = await request()
            except Unreachable as error:
                delay = self._backoff.next_delay()
                log.warning("%s; trying again in %g s", error, delay)
                await self.clock.sleep(delay)
                continue
            except Refused as refused:
                if refused.status in ENDED:
                    log.info("rr refused the credential (%s); stopping", refused.error)
                    return None
                if refused.status == 409 and refused.last_seq is not None:
                    self.seq = refused.last_seq
                    continue
                delay = refused.retry_after or self._backoff.next_delay()
                log.warning("rr refused a request (%s); trying again in %g s", refused, delay)
                await self.clock.sleep(delay)
                continue
            self._backoff.reset()
            return reply
