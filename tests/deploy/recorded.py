"""A moto server that records the AWS requests it serves, and what IAM authorises for each.

The recording is taken at the HTTP level, so it holds exactly what rr's boto3 clients sent.
`authorisations` turns one recorded request into the IAM authorisations AWS makes for it (its
service authorization reference: e.g. RunInstances is authorised once per resource it touches,
tagging at launch needs ``ec2:CreateTags`` with ``ec2:CreateAction``, a transaction's puts are
``dynamodb:PutItem``, an instance profile or a schedule's role is ``iam:PassRole``). A request
it does not know raises, so a new AWS call in rr fails the least-privilege test until the
policy and this mapping both account for it.
"""

import io
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from tests.deploy.iam import IamRequest
from tests.fakes.moto_server import _OneRequestAtATime

_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@dataclass(frozen=True)
class Recorded:
    service: str
    region: str
    method: str
    path: str
    target: str
    body: bytes

    @property
    def operation(self) -> str:
        return self.target.rpartition(".")[2] if self.target else ""


class Recorder:
    """WSGI middleware that keeps every signed request while ``on``."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self.on = False
        self.requests: list[Recorded] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if self.on and scope is not None:
            self.requests.append(
                Recorded(
                    service=scope.group(2),
                    region=scope.group(1),
                    method=environ["REQUEST_METHOD"],
                    path=unquote(environ.get("PATH_INFO", "")),
                    target=environ.get("HTTP_X_AMZ_TARGET", ""),
                    body=body,
                )
            )
        return self._app(environ, start_response)


@contextmanager
def recording_server() -> Iterator[tuple[str, Recorder]]:
    """A moto server of its own (same in-process backends) with a recorder in front."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    recorder = Recorder(DomainDispatcherApplication(create_backend_app))
    app = _OneRequestAtATime(recorder)  # type: ignore[arg-type]
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        server.shutdown()
        thread.join()


@dataclass(frozen=True)
class Account:
    """What AWS knows when it authorises a request and the request does not say."""

    account_id: str
    partition: str
    instance_tags: Mapping[str, Mapping[str, str]]
    """{instance id: its tags}"""
    profile_roles: Mapping[str, str]
    """{instance profile ARN: its role's ARN}"""
    template_images: Mapping[str, str]
    """{launch template id: the image it launches}"""
    kms_aliases: Mapping[str, str]
    """{alias/NAME: the ARN of the key it names}"""

    def arn(self, service: str, region: str, resource: str, *, account: bool = True) -> str:
        owner = self.account_id if account else ""
        return f"arn:{self.partition}:{service}:{region}:{owner}:{resource}"


def authorisations(request: Recorded, account: Account) -> list[IamRequest]:
    handlers = {
        "ec2": _ec2,
        "dynamodb": _dynamodb,
        "kms": _kms,
        "s3": _s3,
        "ssm": _ssm,
        "scheduler": _scheduler,
    }
    handler = handlers.get(request.service)
    if handler is None:
        raise AssertionError(f"rr called {request.service}, which the mapping does not know")
    return handler(request, account)


def _ec2(request: Recorded, account: Account) -> list[IamRequest]:
    params = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    action = params["Action"]
    if action in ("DescribeInstances", "DescribeImages", "DescribeLaunchTemplateVersions"):
        return [IamRequest(f"ec2:{action}", "*")]
    if action == "TerminateInstances":
        ids = [v for k, v in params.items() if k.startswith("InstanceId.")]
        return [
            IamRequest(
                "ec2:TerminateInstances",
                account.arn("ec2", request.region, f"instance/{instance_id}"),
                _tags("aws:ResourceTag/", account.instance_tags.get(instance_id, {})),
            )
            for instance_id in ids
        ]
    if action == "RunInstances":
        return _run_instances(params, request.region, account)
    raise AssertionError(f"rr called ec2:{action}, which the mapping does not know")


def _run_instances(params: dict[str, str], region: str, account: Account) -> list[IamRequest]:
    def arn(resource: str) -> str:
        return account.arn("ec2", region, resource)

    tags = _tag_specifications(params)
    template = params.get("LaunchTemplate.LaunchTemplateId")
    if template is None:
        raise AssertionError("rr launched without the stack's launch template id")
    image = params.get("ImageId") or account.template_images[template]
    run = "ec2:RunInstances"
    found = [
        IamRequest(run, arn("instance/*"), _tags("aws:RequestTag/", tags.get("instance", {}))),
        IamRequest(run, arn("volume/*"), _tags("aws:RequestTag/", tags.get("volume", {}))),
        IamRequest(run, arn("network-interface/*")),
        IamRequest(run, arn(f"subnet/{params['SubnetId']}")),
        IamRequest(run, arn(f"launch-template/{template}")),
        IamRequest(run, account.arn("ec2", region, f"image/{image}", account=False)),
    ]
    found += [
        IamRequest(run, arn(f"security-group/{group}"))
        for key, group in params.items()
        if key.startswith("SecurityGroupId.")
    ]
    if params.get("InstanceMarketOptions.MarketType") == "spot":
        found.append(IamRequest(run, arn("spot-instances-request/*")))
    for kind, kind_tags in tags.items():
        context = {"ec2:CreateAction": "RunInstances", **_tags("aws:RequestTag/", kind_tags)}
        found.append(IamRequest("ec2:CreateTags", arn(f"{kind}/*"), context))
    profile = params.get("IamInstanceProfile.Arn")
    if profile is not None:
        context = {"iam:PassedToService": "ec2.amazonaws.com"}
        found.append(IamRequest("iam:PassRole", account.profile_roles[profile], context))
    return found


def _tag_specifications(params: dict[str, str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for key, kind in params.items():
        spec = re.fullmatch(r"TagSpecification\.([0-9]+)\.ResourceType", key)
        if spec is None:
            continue
        prefix = f"TagSpecification.{spec.group(1)}.Tag."
        keys = {k[len(prefix) :].split(".")[0] for k in params if k.startswith(prefix)}
        found[kind] = {params[f"{prefix}{n}.Key"]: params[f"{prefix}{n}.Value"] for n in keys}
    return found


def _tags(prefix: str, tags: Mapping[str, str]) -> dict[str, str]:
    return {f"{prefix}{key}": value for key, value in tags.items()}


_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _dynamodb(request: Recorded, account: Account) -> list[IamRequest]:
    body = json.loads(request.body)

    def table(name: str, index: str | None = None) -> str:
        suffix = f"/index/{index}" if index else ""
        return account.arn("dynamodb", request.region, f"table/{name}{suffix}")

    operation = request.operation
    if operation == "TransactWriteItems":
        return [
            IamRequest(_TRANSACT_ACTIONS[kind], table(item[kind]["TableName"]))
            for item in body["TransactItems"]
            for kind in item
        ]
    if operation in (
        "DeleteItem",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "UpdateItem",
    ):
        return [
            IamRequest(f"dynamodb:{operation}", table(body["TableName"], body.get("IndexName")))
        ]
    raise AssertionError(f"rr called dynamodb:{operation}, which the mapping does not know")


def _ssm(request: Recorded, account: Account) -> list[IamRequest]:
    if request.operation == "DescribeParameters":
        return [IamRequest("ssm:DescribeParameters", "*")]
    raise AssertionError(f"rr called ssm:{request.operation}, which the mapping does not know")


_SCHEDULE_ACTIONS = {
    "POST": "scheduler:CreateSchedule",
    "GET": "scheduler:GetSchedule",
    "PUT": "scheduler:UpdateSchedule",
    "DELETE": "scheduler:DeleteSchedule",
}


def _scheduler(request: Recorded, account: Account) -> list[IamRequest]:
    name = re.fullmatch(r"/schedules/([^/]+)", urlsplit(request.path).path)
    if name is None:
        raise AssertionError(f"rr called scheduler at {request.path}, unknown to the mapping")
    body = json.loads(request.body) if request.body else {}
    group = body.get("GroupName", "default")
    resource = account.arn("scheduler", request.region, f"schedule/{group}/{name.group(1)}")
    found = [IamRequest(_SCHEDULE_ACTIONS[request.method], resource)]
    role = body.get("Target", {}).get("RoleArn")
    if role is not None:
        context = {"iam:PassedToService": "scheduler.amazonaws.com"}
        found.append(IamRequest("iam:PassRole", role, context))
    return found


_OBJECT_ACTIONS = {
    "GET": "s3:GetObject",
    "HEAD": "s3:GetObject",
    "PUT": "s3:PutObject",
    "DELETE": "s3:DeleteObject",
}


def _s3(request: Recorded, account: Account) -> list[IamRequest]:
    """Path-style requests (rr addresses a custom endpoint by path): HeadBucket is authorised
    as ``s3:ListBucket``, HeadObject as ``s3:GetObject``."""
    bucket, _, key = urlsplit(request.path).path.lstrip("/").partition("/")
    if not key:
        if request.method == "HEAD":
            return [IamRequest("s3:ListBucket", f"arn:{account.partition}:s3:::{bucket}")]
        raise AssertionError(f"rr called S3 {request.method} on a bucket, unknown to the mapping")
    action = _OBJECT_ACTIONS.get(request.method)
    if action is None:
        raise AssertionError(f"rr called S3 {request.method} on an object, unknown to the mapping")
    return [IamRequest(action, f"arn:{account.partition}:s3:::{bucket}/{key}")]


def _kms(request: Recorded, account: Account) -> list[IamRequest]:
    """Authorised on the key itself, whether the call names it by alias, id or ARN."""
    if request.operation not in ("GenerateDataKey", "Decrypt"):
        raise AssertionError(f"rr called kms:{request.operation}, unknown to the mapping")
    key = json.loads(request.body)["KeyId"]
    if key.startswith("alias/"):
        key = account.kms_aliases[key]
    elif not key.startswith("arn:"):
        key = account.arn("kms", request.region, f"key/{key}")
    return [IamRequest(f"kms:{request.operation}", key)]
