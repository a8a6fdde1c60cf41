"""An in-memory compute provider (a fake of the cloud) for the services' unit tests."""

import asyncio
import itertools
from dataclasses import dataclass, replace
from datetime import datetime

from bot.clock import Clock
from bot.cloud.base import InstanceInfo, InstanceState, LaunchError, LaunchRequest

ADDRESS = "203.0.113.7"


@dataclass
class FakeInstance:
    request: LaunchRequest
    info: InstanceInfo
    terminate_at: datetime


class FakeProvider:
    name = "fake"

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self.instances: dict[str, FakeInstance] = {}
        self.launch_calls: list[LaunchRequest] = []
        self.terminated: list[str] = []
        self.fail_next_launch: LaunchError | None = None
        self.boots_to: InstanceState = "running"
        """The state a new instance is in when launched (``"pending"``: still booting)."""
        self.port_open = True
        self.hold_launches: asyncio.Event | None = None
        """When set, a launch creates its instance, then waits for the event before answering."""
        self.lose_next_answer = False
        """The next launch creates its instance but its answer is lost (a crash, a timeout)."""
        self.crash_next_launch = False
        """The next launch fails before it reaches the cloud (the bot crashed just before)."""
        self.fail_next_terminate = False

    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        self.launch_calls.append(request)
        if self.fail_next_launch is not None:
            error, self.fail_next_launch = self.fail_next_launch, None
            raise error
        if self.crash_next_launch:
            self.crash_next_launch = False
            raise ConnectionError("the bot stopped before the launch reached the cloud")
        for instance in self.instances.values():
            if instance.request.client_token == request.client_token:
                return instance.info
        instance_id = f"i-{next(self._ids):04d}"
        info = InstanceInfo(
            instance_id=instance_id,
            session_id=request.session_id,
            attempt=request.attempt,
            state=self.boots_to,
            address=ADDRESS if self.boots_to == "running" else None,
            launched_at=self._clock.now(),
        )
        self.instances[instance_id] = FakeInstance(request, info, request.terminate_at)
        if self.hold_launches is not None:
            await self.hold_launches.wait()
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ConnectionError("the launch's answer was lost")
        return info

    async def describe(self, instance_id: str) -> InstanceInfo:
        instance = self.instances.get(instance_id)
        if instance is None:
            return InstanceInfo(instance_id, None, None, "gone", None, None)
        return instance.info

    async def find_launch(self, session_id: str, attempt: int) -> InstanceInfo | None:
        for instance in self.instances.values():
            if (instance.info.session_id, instance.info.attempt) == (session_id, attempt):
                return instance.info
        return None

    async def list_managed(self) -> list[InstanceInfo]:
        return [i.info for i in self.instances.values() if i.info.state != "terminated"]

    async def terminate(self, instance_id: str) -> None:
        if self.fail_next_terminate:
            self.fail_next_terminate = False
            raise ConnectionError("the cloud did not answer")
        self.terminated.append(instance_id)
        instance = self.instances.get(instance_id)
        if instance is not None:
            instance.info = replace(instance.info, state="terminated", address=None)

    async def move_backstop(self, instance_id: str, terminate_at: datetime) -> bool:
        instance = self.instances[instance_id]
        changed = instance.terminate_at != terminate_at
        instance.terminate_at = terminate_at
        return changed

    async def game_port_open(self, address: str, port: int) -> bool:
        return self.port_open

    def finish_booting(self, instance_id: str) -> None:
        instance = self.instances[instance_id]
        instance.info = replace(instance.info, state="running", address=ADDRESS)

    def vanish(self, instance_id: str) -> None:
        """The cloud lost the instance (a spot reclaim, a manual termination)."""
        del self.instances[instance_id]

    def running(self) -> list[str]:
        return [i for i, instance in self.instances.items() if instance.info.state == "running"]
