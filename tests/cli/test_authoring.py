"""make-input (250 groups over several pages) and plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.greengrass.responses import GreengrassResponse

from tests.cli.conftest import ACCOUNT, REGION, ROLE_NAME, Stack, line


@pytest.fixture
def paged_list_groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """moto returns every group in one page; the service pages by MaxResults/NextToken. This
    makes the moto server (same process) page like the service, and counts the pages served.
    moto also gives every group an initial version; the service does not, so a group whose
    name ends in "no-version" is answered without one here."""
    pages: list[int] = []

    def list_groups(self: Any) -> str:
        groups = [g.to_dict() for g in self.greengrass_backend.list_groups()]
        for group in groups:
            if group["Name"].endswith("no-version"):
                group.pop("LatestVersion"), group.pop("LatestVersionArn")
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or 50)
        page = groups[start : start + size]
        pages.append(len(page))
        answer: dict[str, Any] = {"Groups": page}
        if start + size < len(groups):
            answer["NextToken"] = str(start + size)
        return json.dumps(answer)

    monkeypatch.setattr(GreengrassResponse, "list_groups", list_groups)
    return pages


def test_make_input_with_250_groups_over_several_pages(
    stack: Stack, paged_list_groups: list[int], tmp_path: Path
) -> None:
    made = [stack.group(f"site-{i:03}") for i in range(250)]
    bare = str(stack.client("greengrass").create_group(Name="site-no-version")["Id"])
    out_file = tmp_path / "all.jsonl"
    code, data = stack.cli_json("make-input", "--all", "--save", str(out_file))
    assert code == 0, data
    assert paged_list_groups == [100, 100, 51]
    assert data["records"] == 250 and data["skipped"] == [
        {"group_id": bare, "name": "site-no-version", "reason": "the group has no version"}
    ]
    lines = [json.loads(text) for text in out_file.read_text().splitlines()]
    assert {(r["GroupId"], r["GroupVersionId"]) for r in lines} == {(g, v[0]) for g, v in made}
    assert stack.cli("validate", str(out_file))[0] == 0


def test_make_input_selection_pins_and_errors(stack: Stack, tmp_path: Path) -> None:
    (a, (a1, a2)), (_b, (b1,)), (_c, _) = (
        stack.group("east-1", versions=2),
        stack.group("east-2"),
        stack.group("west"),
    )
    code, out, err = stack.cli("make-input", "--name-regex", "^east", "--version", f"{a}={a1}")
    assert code == 0 and "2 group(s)" in err
    assert [json.loads(t)["GroupVersionId"] for t in out.splitlines()] == [a1, b1]
    code, out, _ = stack.cli("make-input", "--group-id", a)
    assert code == 0 and json.loads(out)["GroupVersionId"] == a2
    code, _, err = stack.cli("make-input", "--group-id", "nope")
    assert code == 2 and "no such group(s)" in err and err.count("\n") == 1
    assert stack.cli("make-input")[0] == 2
    code, _, err = stack.cli("make-input", "--all", "--json")
    assert code == 2 and "--output json needs --save PATH" in err


def test_plan_shows_changes_unknown_groups_and_versions_and_permissions(stack: Stack, tmp_path: Path) -> None:
    (updated, (u1, u2)), (fresh, (f1,)), (same, (s1,)) = (
        stack.group("updated", versions=2),
        stack.group("fresh"),
        stack.group("same"),
    )
    denied, (d1,) = stack.group("denied")
    stack.deploy(updated, u1)
    stack.deploy(same, s1)
    path = tmp_path / "plan.jsonl"
    path.write_text(
        "\n".join(
            [line(updated, u2), line(fresh, f1), line(same, s1), line("ghost", "v"), line(fresh + "x", f1)]
        )
        + "\n"
        + line(denied, "missing-version")
        + "\n"
    )
    code, plan = stack.cli_json("plan", str(path))
    assert code == 1
    rows = {row["line"]: row for row in plan["lines"]}
    assert (rows[1]["name"], rows[1]["current_version"], rows[1]["new_version"], rows[1]["change"]) == (
        "updated", u1, u2, "update"
    )  # fmt: skip
    assert rows[2]["change"] == "new" and rows[3]["change"] == "none"
    assert (
        rows[4]["problem"] == "the group does not exist" and rows[5]["problem"] == "the group does not exist"
    )
    assert rows[6]["problem"] == "the version does not exist"
    assert plan["problems"] == 3 and plan["changes"] == 2

    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "greengrass:CreateDeployment",
                "Resource": f"arn:aws:greengrass:{REGION}:{ACCOUNT}:/greengrass/groups/{denied}",
            }
        ],
    }
    stack.client("iam").put_role_policy(
        RoleName=ROLE_NAME, PolicyName="deny", PolicyDocument=json.dumps(deny)
    )
    good = tmp_path / "good.jsonl"
    good.write_text(line(updated, u2) + "\n")
    code, text, _ = stack.cli("plan", str(good))
    assert code == 0 and "1 change(s), 0 problem(s)" in text
    good.write_text(line(updated, u2) + "\n" + line(denied, d1) + "\n")
    code, plan = stack.cli_json("plan", str(good))
    assert code == 1 and "may not deploy" in plan["lines"][1]["problem"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n")
    code, out, _ = stack.cli("plan", str(bad))
    assert code == 1 and "INVALID" in out
