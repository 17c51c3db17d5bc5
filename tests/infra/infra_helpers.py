"""Helpers for reading a synthesized template: logical ids, intrinsics, IAM statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, CfnElement, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.stack import BulkDeployerStack, build_app


@dataclass
class Synth:
    app: App
    stack: BulkDeployerStack
    outdir: Path
    template: dict[str, Any]
    assertions: Template
    ids: dict[str, str]

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    def props(self, name: str) -> dict[str, Any]:
        return dict(self.resources[self.ids[name]]["Properties"])

    def arn(self, name: str) -> str:
        return f"${{{self.ids[name]}.Arn}}"

    def statements_of_role(self, role: str) -> list[dict[str, Any]]:
        """Every statement of every AWS::IAM::Policy attached to the role (by logical id name)."""
        found = []
        for resource in self.resources.values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            if {"Ref": self.ids[role]} in resource["Properties"]["Roles"]:
                found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
        return found

    def grants(self, role: str) -> dict[str, set[str]]:
        """action -> rendered resources, over the role's Allow statements."""
        result: dict[str, set[str]] = {}
        for statement in self.statements_of_role(role):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                result.setdefault(action, set()).update(render(r) for r in as_list(statement["Resource"]))
        return result

    def statement_granting(self, role: str, action: str) -> dict[str, Any]:
        matches = [s for s in self.statements_of_role(role) if action in as_list(s["Action"])]
        assert len(matches) == 1, f"{action} is granted by {len(matches)} statements"
        return matches[0]


def logical_id(construct: IConstruct) -> str:
    cfn = construct.node.default_child if not isinstance(construct, CfnElement) else construct
    assert isinstance(cfn, CfnElement)
    stack = Stack.of(cfn)
    return str(stack.resolve(stack.get_logical_id(cfn)))


def synthesize(context: dict[str, Any], outdir: Path) -> Synth:
    app, stack = build_app(context=context, outdir=str(outdir))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    ids = {
        "bucket": logical_id(stack.storage.bucket),
        "bucket_policy": logical_id(stack.storage.bucket.policy.node.default_child),  # type: ignore[union-attr]
        "log_bucket": logical_id(stack.storage.access_log_bucket),
        "ledger": logical_id(stack.storage.ledger),
        "queue": logical_id(stack.intake.queue),
        "dlq": logical_id(stack.intake.dead_letter_queue),
        "event_dlq": logical_id(stack.intake.event_dead_letter_queue),
        "rule": logical_id(stack.intake.rule),
        "starter_role": logical_id(stack.starter.role),
        "function": logical_id(stack.starter.function),
        "log_group": logical_id(stack.starter.log_group),
        "tracker_role": logical_id(stack.tracker.role),
        "tracker_function": logical_id(stack.tracker.function),
        "tracker_log_group": logical_id(stack.tracker.log_group),
        "schedule": logical_id(stack.tracker.schedule),
        "key": logical_id(stack.notifications.key),
        "outcomes_topic": logical_id(stack.notifications.outcomes_topic),
        "alarm_topic": logical_id(stack.notifications.alarm_topic),
    }
    if stack.execution_role is not None:  # a Greengrass V2 stack has none
        ids["execution_role"] = logical_id(stack.execution_role.role)
    return Synth(app, stack, outdir, template, Template.from_json(template), ids)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """An intrinsic as readable text: ${Id.Arn}, ${Id}, joins concatenated, Fn::Sub verbatim."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::GetAtt":
            return f"${{{arg[0]}.{arg[1]}}}"
        if key == "Ref":
            return f"${{{arg}}}"
        if key == "Fn::Join":
            return str(arg[0]).join(render(part) for part in arg[1])
        if key == "Fn::Sub" and isinstance(arg, str):
            return arg
    raise AssertionError(f"cannot render {json.dumps(value)}")


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, property, document) for every IAM policy document in the template."""
    for logical, resource in template["Resources"].items():
        for key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if key in resource.get("Properties", {}):
                yield logical, key, resource["Properties"][key]


_ACCOUNT = "123456789012"
_REGION = "eu-west-1"
_PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": _REGION,
    "AWS::AccountId": _ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


def concrete(value: Any, template: dict[str, Any]) -> Any:
    """The document with intrinsics replaced by plausible concrete ARNs (for parliament)."""
    resources = template["Resources"]

    def arn_of(logical: str) -> str:
        resource = resources[logical]
        name = logical.lower()
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue" and resource["Properties"].get("FifoQueue"):
            name += ".fifo"
        return {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{_REGION}:{_ACCOUNT}:table/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{_ACCOUNT}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{_REGION}:{_ACCOUNT}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:aws:events:{_REGION}:{_ACCOUNT}:rule/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{_REGION}:{_ACCOUNT}:key/{name}",
        }[kind]

    def ref_of(logical: str) -> str:
        if logical in _PSEUDO:
            return _PSEUDO[logical]
        if resources.get(logical, {}).get("Type") == "AWS::SNS::Topic":  # Ref of a topic is its ARN
            return f"arn:aws:sns:{_REGION}:{_ACCOUNT}:{logical.lower()}"
        return logical.lower()

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::GetAtt":
                assert arg[1] == "Arn", arg
                return arn_of(arg[0])
            if key == "Ref":
                return ref_of(str(arg))
            if key == "Fn::Join":
                return str(arg[0]).join(walk(part) for part in arg[1])
            if key == "Fn::Sub":
                text = str(arg)
                for name, replacement in _PSEUDO.items():
                    text = text.replace(f"${{{name}}}", replacement)
                assert "${" not in text, text
                return text
        return {key: walk(item) for key, item in node.items()}

    return walk(value)
