"""DCS servers on AWS EC2: one instance per launch attempt, tagged, idempotent, with a backstop.

Every boto3 call runs in a worker thread; the clients use botocore's standard retry mode, so
what reaches this module has already been retried.

A launch is idempotent twice over: EC2 honours the ``ClientToken`` (the session's attempt
token), and before launching the provider looks for an instance already tagged with the same
session and attempt — the one mechanism that also works where the token is not honoured
(moto), and the way a restarted bot adopts an instance it launched just before a crash. A
launch call that fails is followed by the same look-up, because a call whose answer was lost
(a timeout after EC2 accepted it) may have started the instance all the same.
"""

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bot.cloud.base import (
    InstanceInfo,
    InstanceState,
    LaunchError,
    LaunchRequest,
    tcp_port_open,
)
from bot.cloud.ec2.backstop import Backstop
from bot.cloud.ec2.errors import NOT_FOUND_CODES, error_code, launch_error
from bot.cloud.userdata import ServerBoot, ServerLayout, build_user_data
from bot.config import Ec2Settings

log = logging.getLogger("rr.cloud.ec2")

TAG_DEPLOYMENT = "rr:deployment"
TAG_SESSION = "rr:mission"
"""The session's id; the key is the one servers were tagged with before sessions were called
sessions, kept so that a restarted bot still finds and adopts the servers they launched."""
TAG_GUILD = "rr:guild"
TAG_ATTEMPT = "rr:attempt"
LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
_STATES: dict[str, InstanceState] = {
    "pending": "pending",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopping",
    "shutting-down": "terminated",
    "terminated": "terminated",
}
"""EC2's state names in the contract's words. Shutting down counts as terminated: the
termination cannot be undone, the server no longer runs and AWS no longer bills it."""
NO_AGENT_MESSAGE = (
    "rr gave this server no agent credential, so it could not fetch its settings; "
    "start it again, and tell rr's operators if this keeps happening."
)
"""An EC2 server gets its files only through its agent: a launch without one is refused."""
METADATA_OPTIONS = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
"""IMDSv2 only, one hop: the user data holds the launch's credential, so the metadata service
answers only processes on the instance itself (not containers, not a forwarded request)."""
_NEVER = datetime.min.replace(tzinfo=UTC)
_TRANSITION_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")
"""The time in a StateTransitionReason such as "User initiated (2026-11-28 20:15:00 GMT)"."""


class Ec2Provider:
    """Launches and manages one deployment's DCS servers in one region."""

    name = "ec2"

    def __init__(
        self,
        ec2: Any,
        backstop: Backstop,
        settings: Ec2Settings,
        *,
        deployment: str,
        region: str,
    ) -> None:
        self._ec2 = ec2
        self._backstop = backstop
        self._settings = settings
        self._deployment = deployment
        self._region = region
        self._layout = ServerLayout(
            write_folder=settings.write_folder,
            dcs_install_dir=settings.dcs_install_dir,
            srs_server_exe=settings.srs_server_exe,
            login_helper=settings.login_helper,
        )

    @property
    def region(self) -> str:
        return self._region

    async def launch(self, request: LaunchRequest) -> InstanceInfo:
        instance_type = self._instance_type(request)
        if request.agent is None:
            raise LaunchError("config", NO_AGENT_MESSAGE)
        user_data = build_user_data(
            ServerBoot(
                session_id=request.session_id,
                attempt=request.attempt,
                agent=request.agent,
                login_parameter=request.login_ref,
                region=self._region,
            ),
            self._layout,
        )
        try:
            info = await self._find(request.session_id, request.attempt, live_only=True)
            if info is None:
                info = await self._run(request, instance_type, user_data)
            else:
                self._log_adopted(request, info)
        except (ClientError, BotoCoreError) as error:
            info = await self._started_anyway(request)
            if info is None:
                raise self._refusal(error, request, instance_type) from error
            self._log_adopted(request, info)
        await self._arm_backstop(info.instance_id, request)
        return info

    async def describe(self, instance_id: str) -> InstanceInfo:
        try:
            reply = await asyncio.to_thread(self._ec2.describe_instances, InstanceIds=[instance_id])
        except ClientError as error:
            if error_code(error) in NOT_FOUND_CODES:
                return InstanceInfo.gone(instance_id)
            raise
        instances = list(_instances(reply))
        return _info(instances[0]) if instances else InstanceInfo.gone(instance_id)

    async def find_launch(self, session_id: str, attempt: int) -> InstanceInfo | None:
        return await self._find(session_id, attempt, live_only=False)

    async def list_managed(self) -> list[InstanceInfo]:
        found = await self._describe_tagged({TAG_DEPLOYMENT: self._deployment}, states=LIVE_STATES)
        managed = [info for info in found if info.state != "terminated"]
        return sorted(managed, key=lambda info: info.launched_at or _NEVER)

    async def terminate(self, instance_id: str) -> None:
        """Terminate the instance, then delete its backstop. A backstop that cannot be deleted
        is left to fire on a terminated instance, which does nothing, and delete itself; it
        does not hold up the end of the session (and its bill)."""
        try:
            await asyncio.to_thread(self._ec2.terminate_instances, InstanceIds=[instance_id])
        except ClientError as error:
            if error_code(error) not in NOT_FOUND_CODES:
                raise
        log.info("ec2 terminated", extra={"instance_id": instance_id})
        try:
            await self._backstop.delete(instance_id)
        except (ClientError, BotoCoreError) as error:
            log.warning(
                "ec2 backstop not deleted; it will fire on the terminated instance",
                extra={"instance_id": instance_id, "error": str(error)},
            )

    async def move_backstop(self, instance_id: str, terminate_at: datetime) -> bool:
        changed = await self._backstop.ensure(instance_id, terminate_at)
        if changed:
            log.info(
                "ec2 backstop set",
                extra={"instance_id": instance_id, "terminate_at": terminate_at.isoformat()},
            )
        return changed

    async def game_port_open(self, address: str, port: int) -> bool:
        return await tcp_port_open(address, port)

    def _instance_type(self, request: LaunchRequest) -> str:
        if request.region != self._region:
            raise LaunchError(
                "config",
                f"rr runs servers only in {self._region}; have a squadron manager set the "
                f"squadron's region to {self._region}, then start again.",
            )
        instance_type = self._settings.instance_types.get(request.size)
        if instance_type is None:
            sizes = ", ".join(self._settings.instance_types)
            raise LaunchError(
                "config", f"There is no {request.size!r} server size; pick one of {sizes}."
            )
        return instance_type

    async def _started_anyway(self, request: LaunchRequest) -> InstanceInfo | None:
        """The instance a failed launch started regardless, if EC2 can say; if it cannot,
        reconciliation terminates any such instance once the failure is recorded."""
        try:
            return await self._find(request.session_id, request.attempt, live_only=True)
        except (ClientError, BotoCoreError):
            return None

    def _log_adopted(self, request: LaunchRequest, info: InstanceInfo) -> None:
        log.info(
            "ec2 launch adopted",
            extra={
                "session_id": request.session_id,
                "attempt": request.attempt,
                "instance_id": info.instance_id,
            },
        )

    async def _run(
        self, request: LaunchRequest, instance_type: str, user_data: str
    ) -> InstanceInfo:
        reply = await asyncio.to_thread(
            self._ec2.run_instances, **self.run_parameters(request, instance_type, user_data)
        )
        info = _info(reply["Instances"][0])
        log.info(
            "ec2 launched",
            extra={
                "session_id": request.session_id,
                "guild_id": request.guild_id,
                "attempt": request.attempt,
                "instance_id": info.instance_id,
                "instance_type": instance_type,
            },
        )
        return info

    def run_parameters(
        self, request: LaunchRequest, instance_type: str, user_data: str
    ) -> dict[str, Any]:
        """RunInstances' parameters for a launch (the preflight dry-runs them too)."""
        settings = self._settings
        tags = [
            {"Key": "Name", "Value": f"rr-{self._deployment}-{request.session_id}"},
            {"Key": TAG_DEPLOYMENT, "Value": self._deployment},
            {"Key": TAG_SESSION, "Value": request.session_id},
            {"Key": TAG_GUILD, "Value": request.guild_id},
            {"Key": TAG_ATTEMPT, "Value": str(request.attempt)},
        ]
        parameters: dict[str, Any] = {
            "MinCount": 1,
            "MaxCount": 1,
            "ClientToken": request.client_token,
            "InstanceType": instance_type,
            "UserData": user_data,
            "InstanceInitiatedShutdownBehavior": "terminate",
            "MetadataOptions": dict(METADATA_OPTIONS),
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tags},
                {"ResourceType": "volume", "Tags": tags},
            ],
        }
        if settings.launch_template_id is not None:
            parameters["LaunchTemplate"] = {
                "LaunchTemplateId": settings.launch_template_id,
                "Version": settings.launch_template_version,
            }
        elif settings.launch_template_name is not None:
            parameters["LaunchTemplate"] = {
                "LaunchTemplateName": settings.launch_template_name,
                "Version": settings.launch_template_version,
            }
        if settings.image_id is not None:
            parameters["ImageId"] = settings.image_id
        if settings.subnet_id is not None:
            parameters["SubnetId"] = settings.subnet_id
        if settings.security_group_ids:
            parameters["SecurityGroupIds"] = list(settings.security_group_ids)
        if settings.key_name is not None:
            parameters["KeyName"] = settings.key_name
        if settings.instance_profile is not None:
            key = "Arn" if settings.instance_profile.startswith("arn:") else "Name"
            parameters["IamInstanceProfile"] = {key: settings.instance_profile}
        if settings.spot:
            parameters["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "one-time",
                    "InstanceInterruptionBehavior": "terminate",
                },
            }
        return parameters

    async def _arm_backstop(self, instance_id: str, request: LaunchRequest) -> None:
        """Set the backstop. A failure does not undo the launch: the server is started and is
        recorded, the bot stops it at its end, and reconciliation sets the missing backstop."""
        try:
            await self._backstop.set(instance_id, request.terminate_at)
        except (ClientError, BotoCoreError) as error:
            log.error(
                "ec2 backstop not set; reconciliation will set it",
                extra={
                    "session_id": request.session_id,
                    "instance_id": instance_id,
                    "error": str(error),
                },
            )

    def _refusal(
        self, error: ClientError | BotoCoreError, request: LaunchRequest, instance_type: str
    ) -> LaunchError:
        refusal = launch_error(error, instance_type, self._region)
        log.warning(
            "ec2 launch refused",
            extra={
                "session_id": request.session_id,
                "guild_id": request.guild_id,
                "attempt": request.attempt,
                "reason": refusal.reason,
                "error": str(error),
            },
        )
        return refusal

    async def _find(self, session_id: str, attempt: int, *, live_only: bool) -> InstanceInfo | None:
        tags = {
            TAG_DEPLOYMENT: self._deployment,
            TAG_SESSION: session_id,
            TAG_ATTEMPT: str(attempt),
        }
        found = await self._describe_tagged(tags, states=LIVE_STATES if live_only else None)
        if not found:
            return None
        live = [info for info in found if info.state != "terminated"]
        return _latest(live or found)

    async def _describe_tagged(
        self, tags: Mapping[str, str], *, states: Iterable[str] | None
    ) -> list[InstanceInfo]:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        if states is not None:
            filters.append({"Name": "instance-state-name", "Values": list(states)})

        def describe() -> list[dict[str, Any]]:
            paginator = self._ec2.get_paginator("describe_instances")
            return [
                instance
                for page in paginator.paginate(Filters=filters)
                for instance in _instances(page)
            ]

        return [_info(instance) for instance in await asyncio.to_thread(describe)]


def _instances(reply: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for reservation in reply.get("Reservations", []):
        yield from reservation.get("Instances", [])


def _latest(found: list[InstanceInfo]) -> InstanceInfo:
    return max(found, key=lambda info: info.launched_at or _NEVER)


def _info(instance: Mapping[str, Any]) -> InstanceInfo:
    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
    state = _STATES.get(instance["State"]["Name"], "stopping")
    attempt = tags.get(TAG_ATTEMPT, "")
    launched_at = instance.get("LaunchTime")
    return InstanceInfo(
        instance_id=instance["InstanceId"],
        session_id=tags.get(TAG_SESSION),
        attempt=int(attempt) if attempt.isdigit() else None,
        state=state,
        address=instance.get("PublicIpAddress") if state == "running" else None,
        launched_at=launched_at.astimezone(UTC) if launched_at is not None else None,
        stopped_at=_stopped_at(instance) if state in ("stopping", "terminated") else None,
    )


def _stopped_at(instance: Mapping[str, Any]) -> datetime | None:
    """When EC2 says the instance left the running state, from its StateTransitionReason."""
    found = _TRANSITION_TIME.search(instance.get("StateTransitionReason") or "")
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
