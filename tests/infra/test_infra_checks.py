"""Real tools on the synthesized template: cdk-nag (AwsSolutions + Serverless), cfn-lint, parliament."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import parliament
import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cfnlint.api import REGIONS, ManualArgs, lint_file
from infra_helpers import Synth, concrete, policy_documents
from parliament import analyze_policy_string

from infra.nag import acknowledge, add_rule_packs

# ---------------------------------------------------------------- cdk-nag


# Every synthesized configuration: both Greengrass versions, defaults and every switch set.
VARIANTS = ["synth", "variant", "v2", "v2_variant"]
# The validation report also carries the constructs' own annotations (feature flag
# @aws-cdk/core:annotationsInValidationReport) as a plugin of this name.
ANNOTATIONS_REPORT = "Construct Annotations"


def _validation_report(synth: Synth) -> dict[str, Any]:
    return dict(json.loads((synth.outdir / "validation-report.json").read_text()))


def _nag_reports(synth: Synth) -> list[dict[str, Any]]:
    return [r for r in _validation_report(synth)["pluginReports"] if r["pluginName"] != ANNOTATIONS_REPORT]


@pytest.mark.parametrize("which", VARIANTS)
def test_cdk_nag_has_no_unacknowledged_findings(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    # Synthesis would have raised on any unacknowledged error or warning; the report agrees.
    reports = _nag_reports(synth)
    assert {r["pluginName"] for r in reports} == {"AwsSolutions", "Serverless"}
    for report in reports:
        assert (report["conclusion"], report["violations"]) == ("success", [])


NO_SUBSCRIBER = ("Annotation::bulk-deployer:alarm-topic-without-subscriber", "warning")


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        # cdk.json has no alarmEmail (a warning, test_infra_monitoring.py); the variants set one.
        ("synth", [NO_SUBSCRIBER]),
        ("variant", []),
        ("v2", [NO_SUBSCRIBER]),
        # The V2 variant sets deployableGroupIds, which only a V1 stack uses.
        ("v2_variant", [("Annotation::bulk-deployer:ignoredContextKey:deployableGroupIds", "warning")]),
    ],
)
def test_the_only_annotations_are_the_expected_warnings(
    which: str, expected: list[tuple[str, str]], request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(which)
    violations = [
        violation
        for report in _validation_report(synth)["pluginReports"]
        if report["pluginName"] == ANNOTATIONS_REPORT
        for violation in report["violations"]
    ]
    assert [(v["ruleName"], v["severity"]) for v in violations] == expected


@pytest.mark.parametrize("which", VARIANTS)
def test_every_acknowledgement_suppresses_a_real_finding(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    suppressed = {
        (s["acknowledgedAt"], s["acknowledgedId"])
        for report in _nag_reports(synth)
        for s in report["suppressedViolations"]
    }
    acknowledged = {(path, rule) for path, rule, _ in _acknowledgements(synth)}
    assert acknowledged == suppressed


def _acknowledgements(synth: Synth) -> list[tuple[str, str, str]]:
    found = []
    for construct in synth.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    found.append((construct.node.path, rule, reason))
    return found


@pytest.mark.parametrize("which", ["synth", "v2"])
def test_every_acknowledgement_has_a_specific_reason(which: str, request: pytest.FixtureRequest) -> None:
    acknowledgements = _acknowledgements(request.getfixturevalue(which))
    assert acknowledgements
    for path, rule, reason in acknowledgements:
        assert rule.startswith(("AwsSolutions::AwsSolutions-", "Serverless::Serverless-")), (path, rule)
        assert len(reason) >= 30, (path, rule, reason)
    reasons = [reason for _, rule, reason in acknowledgements if "IAM5" in rule]
    assert len(reasons) == len(set(reasons)), "each wildcard resource needs its own reason"


@pytest.mark.parametrize("which", ["synth", "v2"])
def test_every_remaining_wildcard_resource_is_acknowledged_individually(
    which: str, request: pytest.FixtureRequest
) -> None:
    rules = {rule for _, rule, _ in _acknowledgements(request.getfixturevalue(which))}
    # No blanket IAM5 acknowledgement: only findings for one named resource each.
    assert "AwsSolutions::AwsSolutions-IAM5" not in rules
    assert all("[Resource::" in rule for rule in rules if "IAM5" in rule)


@pytest.mark.parametrize("which", ["synth", "v2"])
def test_no_blanket_acknowledgement_on_the_stack_or_app(which: str, request: pytest.FixtureRequest) -> None:
    for path, rule, _ in _acknowledgements(request.getfixturevalue(which)):
        assert path.count("/") >= 2, f"{rule} acknowledged on {path}: too broad"


def _tiny_app(*, acknowledged: bool, outdir: Path) -> App:
    app = App(outdir=str(outdir))
    stack = Stack(app, "Tiny")
    queue = sqs.Queue(stack, "Queue", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED)
    if acknowledged:
        acknowledge(queue, "AwsSolutions-SQS3", "A queue without a DLQ, for this test of the helper only.")
        acknowledge(
            queue, "Serverless-SQSRedrivePolicy", "A queue without a DLQ, for this test of the helper."
        )
    add_rule_packs(app)
    return app


def test_rule_packs_fail_synthesis_on_a_finding(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="Serverless-SQSRedrivePolicy"):
        _tiny_app(acknowledged=False, outdir=tmp_path).synth()


def test_acknowledge_helper_silences_exactly_the_named_findings(tmp_path: Path) -> None:
    _tiny_app(acknowledged=True, outdir=tmp_path).synth()
    reports = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    suppressed = {s["acknowledgedId"] for r in reports for s in r["suppressedViolations"]}
    assert suppressed == {"AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"}


def test_acknowledge_helper_refuses_vague_reasons() -> None:
    stack = Stack(App(), "Vague")
    with pytest.raises(ValueError, match="specific reason"):
        acknowledge(stack, "AwsSolutions-SQS3", "ok")


# ---------------------------------------------------------------- cfn-lint


@pytest.mark.parametrize("which", VARIANTS)
def test_cfn_lint_reports_nothing(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    template = synth.outdir / f"{synth.stack.stack_name}.template.json"
    matches = lint_file(Path(template), config=ManualArgs(regions=list(REGIONS)))
    assert [str(m) for m in matches] == []


@pytest.mark.parametrize("which", ["synth", "v2"])
def test_cfn_lint_ignores_only_w3005_on_the_functions(which: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(which)
    ignored = {
        logical: resource["Metadata"]["cfn-lint"]
        for logical, resource in synth.resources.items()
        if "cfn-lint" in resource.get("Metadata", {})
    }
    w3005 = {"config": {"ignore_checks": ["W3005"]}}
    assert ignored == {synth.ids["function"]: w3005, synth.ids["tracker_function"]: w3005}


# ---------------------------------------------------------------- parliament

ALLOWLIST_PATH = Path(__file__).parent / "parliament_allowlist.json"
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class Finding:
    logical: str
    resource_type: str
    property: str
    issue: str
    severity: str
    detail: Any

    @property
    def actions(self) -> list[str]:
        if isinstance(self.detail, list) and all(isinstance(d, dict) for d in self.detail):
            return sorted({str(d["action"]) for d in self.detail if "action" in d})
        return []


def _allowlist() -> list[dict[str, Any]]:
    return list(json.loads(ALLOWLIST_PATH.read_text())["entries"])


def _matches(entry: dict[str, Any], finding: Finding) -> bool:
    return (
        (entry["resource_type"], entry["property"], entry["issue"])
        == (finding.resource_type, finding.property, finding.issue)
        and ("detail" not in entry or entry["detail"] == finding.detail)
        and ("actions" not in entry or sorted(entry["actions"]) == finding.actions)
    )


def _analyze(
    document: dict[str, Any], *, logical: str = "-", resource_type: str = "-", key: str = "-"
) -> list[Finding]:
    found = []
    for finding in analyze_policy_string(json.dumps(document)).findings:
        parliament.enhance_finding(finding)  # sets the severity from parliament's config.yaml
        found.append(Finding(logical, resource_type, key, finding.issue, finding.severity, finding.detail))
    return found


def _findings(template: dict[str, Any]) -> list[Finding]:
    found = []
    for logical, key, document in policy_documents(template):
        kind = template["Resources"][logical]["Type"]
        found.extend(_analyze(concrete(document, template), logical=logical, resource_type=kind, key=key))
    return found


def not_allowed_above_low(findings: list[Finding], allowlist: list[dict[str, Any]]) -> list[Finding]:
    """The gate: findings of severity MEDIUM or above that no allow-list entry justifies."""
    return [
        f
        for f in findings
        if SEVERITIES.index(f.severity) > 0 and not any(_matches(entry, f) for entry in allowlist)
    ]


@pytest.fixture(scope="module")
def parliament_findings(request: pytest.FixtureRequest) -> dict[str, list[Finding]]:
    return {which: _findings(request.getfixturevalue(which).template) for which in VARIANTS}


def test_parliament_sees_every_policy_document(request: pytest.FixtureRequest, variant: Synth) -> None:
    expected = {
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::KMS::Key",
    }
    for which in (request.getfixturevalue(name) for name in VARIANTS):
        assert {
            which.resources[logical]["Type"] for logical, _, _ in policy_documents(which.template)
        } == expected
    # The variant's bucket policy holds the uploader Deny (aws:PrincipalArn): it is analysed too.
    assert "aws:PrincipalArn" in json.dumps(variant.props("bucket_policy"))


@pytest.mark.parametrize("which", VARIANTS)
def test_parliament_knows_every_action(which: str, parliament_findings: dict[str, list[Finding]]) -> None:
    unknown = [f for f in parliament_findings[which] if f.issue.startswith("UNKNOWN")]
    assert unknown == []


@pytest.mark.parametrize("which", VARIANTS)
def test_parliament_finds_nothing_above_low_that_is_not_justified(
    which: str, parliament_findings: dict[str, list[Finding]]
) -> None:
    assert not_allowed_above_low(parliament_findings[which], _allowlist()) == []


@pytest.mark.parametrize("which", VARIANTS)
def test_parliament_reports_nothing_beyond_the_allowlist(
    which: str, parliament_findings: dict[str, list[Finding]]
) -> None:
    # Stricter than the gate: a new LOW finding is looked at too, and justified or fixed.
    allowlist = _allowlist()
    assert [f for f in parliament_findings[which] if not any(_matches(e, f) for e in allowlist)] == []


def test_every_allowlist_entry_is_justified_current_and_used(
    parliament_findings: dict[str, list[Finding]],
) -> None:
    everything = [finding for which in VARIANTS for finding in parliament_findings[which]]
    for entry in _allowlist():
        assert len(entry["reason"]) >= 40, entry
        assert entry["severity"] == parliament.config[entry["issue"]]["severity"], entry
        assert any(_matches(entry, f) for f in everything), f"stale allow-list entry: {entry}"


def test_the_gate_fails_on_an_unjustified_medium_finding() -> None:
    # s3:GetObject on a bucket ARN matches no object: RESOURCE_MISMATCH, severity MEDIUM.
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"}],
    }
    findings = _analyze(document, resource_type="AWS::IAM::Policy", key="PolicyDocument")
    assert [(f.issue, f.severity) for f in not_allowed_above_low(findings, _allowlist())] == [
        ("RESOURCE_MISMATCH", "MEDIUM")
    ]


def test_parliament_would_catch_a_misspelt_action() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "greengrass:StartBulkDeployments", "Resource": "*"}],
    }
    issues = {f.issue for f in analyze_policy_string(json.dumps(document)).findings}
    assert "UNKNOWN_ACTION" in issues
