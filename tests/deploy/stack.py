"""rr's CloudFormation template: read as written, and deployed into moto's CloudFormation."""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "cloudformation" / "rr.yaml"
STACK_REGION = "eu-west-1"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (``!Ref X`` is ``{"Ref": "X"}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return loaded


def resource(kind: str) -> dict[str, Any]:
    """The template's one resource of type ``kind``, as written."""
    found = [r for r in template()["Resources"].values() if r["Type"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@dataclass(frozen=True)
class Stack:
    name: str
    deployment: str
    image_id: str
    settings: dict[str, str]
    """The outputs: {environment variable: value}."""
    resources: dict[str, str]
    """{logical id: physical id}."""


def deploy(cloudformation: Any, ec2: Any, *, logins: tuple[str, ...] = ()) -> Stack:
    """Create the stack with a fresh deployment name and an image moto knows."""
    deployment = f"d{uuid.uuid4().hex[:10]}"
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    name = f"rr-{deployment}"
    parameters = {"Deployment": deployment, "ServerImageId": image_id}
    if logins:
        parameters["EdLoginParameters"] = ",".join(
            f"/rr/{deployment}/ed-login/{login}" for login in logins
        )
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    settings = {out["Description"]: out["OutputValue"] for out in described.get("Outputs", [])}
    listed = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed}
    return Stack(name, deployment, image_id, settings, resources)
