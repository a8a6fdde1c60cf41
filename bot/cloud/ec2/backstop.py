"""The termination backstop: an EventBridge Scheduler one-time schedule per instance.

At the booked end plus a grace period, EventBridge Scheduler calls EC2's TerminateInstances for
the instance (universal target, with a role it assumes), whether or not any bot process is
alive; the schedule deletes itself once it has run. Extending a mission moves it; a normal end
deletes it. Each schedule is named from the deployment and the instance id, so every process
finds it without keeping any record of it.
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
        definition = self._definition(instance_id, terminate_at)
        try:
            await asyncio.to_thread(self._scheduler.create_schedule, **definition)
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            await asyncio.to_thread(self._scheduler.update_schedule, **definition)

    async def move(self, instance_id: str, terminate_at: datetime) -> None:
        """Move the instance's schedule, creating it if it is missing."""
        definition = self._definition(instance_id, terminate_at)
        try:
            await asyncio.to_thread(self._scheduler.update_schedule, **definition)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            await asyncio.to_thread(self._scheduler.create_schedule, **definition)

    async def delete(self, instance_id: str) -> None:
        """Remove the instance's schedule; one already gone (it ran, or was deleted) is fine."""
        try:
            await asyncio.to_thread(
                self._scheduler.delete_schedule, Name=self.schedule_name(instance_id)
            )
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise

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


def _whole_second_after(when: datetime) -> datetime:
    """``when`` rounded up to a whole second, as ``at()`` takes no fractions."""
    seconds = math.ceil(when.timestamp())
    return datetime.fromtimestamp(seconds, UTC)
