"""The termination backstop: an EventBridge Scheduler one-time schedule per instance.

At the booked end plus a grace period, EventBridge Scheduler calls EC2's TerminateInstances for
the instance (universal target, with a role it assumes), whether or not any bot process is
alive; the schedule deletes itself once it has run. Extending a session moves it, and
reconciliation makes sure it is there and right; a normal end deletes it. Each schedule is named
from the deployment and the instance id, so every process finds it without keeping any record
of it.
"""

import asyncio
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bot.cloud.ec2.errors import error_code

TERMINATE_TARGET = "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances"
MIN_LEAD = timedelta(minutes=1)
"""A backstop due in the past (a late launch or a restart) is set this far ahead instead."""


class Backstop:
    def __init__(
        self,
        scheduler: Any,
        *,
        deployment: str,
        role_arn: str,
        now: Callable[[], datetime],
    ) -> None:
        self._scheduler = scheduler
        self._deployment = deployment
        self._role_arn = role_arn
        self._now = now

    def schedule_name(self, instance_id: str) -> str:
        return f"rr-{self._deployment}-{instance_id}"

    async def set(self, instance_id: str, terminate_at: datetime) -> None:
        """Create the instance's schedule, or move it if it exists."""
        await self._put(self._definition(instance_id, terminate_at), exists=False)

    async def ensure(self, instance_id: str, terminate_at: datetime) -> bool:
        """Make the instance's schedule terminate it at ``terminate_at``: create it if it is
        missing, move it if it is set otherwise. Whether it had to be created or moved."""
        definition = self._definition(instance_id, terminate_at)
        current = await self._get(instance_id)
        if current is not None and _matches(current, definition):
            return False
        await self._put(definition, exists=current is not None)
        return True

    async def delete(self, instance_id: str) -> None:
        """Remove the instance's schedule; one already gone (it ran, or was deleted) is fine."""
        try:
            await asyncio.to_thread(
                self._scheduler.delete_schedule, Name=self.schedule_name(instance_id)
            )
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise

    async def _get(self, instance_id: str) -> dict[str, Any] | None:
        try:
            schedule: dict[str, Any] = await asyncio.to_thread(
                self._scheduler.get_schedule, Name=self.schedule_name(instance_id)
            )
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            return None
        return schedule

    async def _put(self, definition: dict[str, Any], *, exists: bool) -> None:
        """Update the schedule if it ``exists``, else create it; if it turns out otherwise (a
        process created it, or it ran, meanwhile), the other."""
        create, update = self._scheduler.create_schedule, self._scheduler.update_schedule
        first, then, surprise = (
            (update, create, "ResourceNotFoundException")
            if exists
            else (create, update, "ConflictException")
        )
        try:
            await asyncio.to_thread(first, **definition)
        except ClientError as error:
            if error_code(error) != surprise:
                raise
            await asyncio.to_thread(then, **definition)

    def _definition(self, instance_id: str, terminate_at: datetime) -> dict[str, Any]:
        when = max(terminate_at.astimezone(UTC), self._now().astimezone(UTC) + MIN_LEAD)
        when = _whole_second_after(when)
        return {
            "Name": self.schedule_name(instance_id),
            "Description": f"rr {self._deployment}: terminate {instance_id} if the bot has not",
            "ScheduleExpression": f"at({when:%Y-%m-%dT%H:%M:%S})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": TERMINATE_TARGET,
                "RoleArn": self._role_arn,
                "Input": json.dumps({"InstanceIds": [instance_id]}),
            },
        }


def _matches(schedule: dict[str, Any], definition: dict[str, Any]) -> bool:
    """Whether an existing schedule terminates the same instance at the same time, as rr's."""
    target, wanted = schedule.get("Target", {}), definition["Target"]
    return (
        schedule.get("State", "ENABLED") == "ENABLED"
        and schedule.get("ScheduleExpression") == definition["ScheduleExpression"]
        and schedule.get("ScheduleExpressionTimezone") == definition["ScheduleExpressionTimezone"]
        and schedule.get("ActionAfterCompletion") == definition["ActionAfterCompletion"]
        and target.get("Arn") == wanted["Arn"]
        and target.get("RoleArn") == wanted["RoleArn"]
        and json.loads(target.get("Input") or "null") == json.loads(wanted["Input"])
    )


def _whole_second_after(when: datetime) -> datetime:
    """``when`` rounded up to a whole second, as ``at()`` takes no fractions."""
    seconds = math.ceil(when.timestamp())
    return datetime.fromtimestamp(seconds, UTC)
