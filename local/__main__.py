"""`python -m local up|down|status|env|serve|sample`: the local pipeline from a shell.

- ``up`` / ``down``: start / stop the background pipeline (``make local-up`` / ``make local-down``);
  ``up --greengrass v2`` (``make local-up GREENGRASS=v2``) runs a Greengrass V2 stack;
- ``status``, ``env``: is it running, and the shell exports to reach it;
- ``sample --groups N``: create N Greengrass groups with versions in the running stand-in and
  print an input file naming them (redirect it to a file, then upload it to incoming/);
- ``serve``: the background process itself (``up`` starts it).
"""

from __future__ import annotations

import argparse
import sys
import uuid

import boto3
from bulk_deployer.settings_schema import GREENGRASS_VERSIONS

from local import daemon
from local.fleet import Fleet, input_file
from local.stack_config import FAKE_CREDENTIALS, REGION


def sample(groups: int) -> int:
    state = daemon.read_state()
    if state is None or not daemon.alive(int(state["pid"])):
        sys.stderr.write("the local pipeline is not running: `make local-up` first\n")
        return 1
    greengrass = boto3.client(
        "greengrass",
        endpoint_url=state["moto_url"],
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    account_id = str(state["environment"]["EXECUTION_ROLE_ARN"]).split(":")[4]
    fleet = Fleet(greengrass, account_id)
    batch = uuid.uuid4().hex[:6]
    made = fleet.groups(*(f"sample-{batch}-{n}" for n in range(1, groups + 1)))
    sys.stdout.write(input_file(made).decode("utf-8"))
    return 0


# Every command and its one help line (`python -m local --help`).
COMMANDS = {
    "up": "start the local pipeline in the background (make local-up) and print its exports",
    "down": "stop it (make local-down)",
    "status": "is it running, and at which endpoints",
    "env": "print its exports again (what local/.state/env.sh holds)",
    "sample": "create Greengrass V1 groups in it and print an input file naming them",
    "serve": "the background process itself, in the foreground (up starts it)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {
        name: commands.add_parser(name, help=purpose, description=purpose)
        for name, purpose in COMMANDS.items()
    }
    for name in ("up", "serve"):
        parsers[name].add_argument(
            "--greengrass",
            choices=GREENGRASS_VERSIONS,
            help="the stack's Greengrass version (cdk deploy -c greengrass=...); default: cdk.json's",
        )
    parsers["sample"].add_argument("--groups", type=int, default=3, help="how many groups (default 3)")
    args = parser.parse_args(argv)
    if args.command == "up":
        return daemon.up(greengrass=args.greengrass)
    if args.command == "down":
        return daemon.down()
    if args.command == "status":
        return daemon.status()
    if args.command == "serve":
        return daemon.serve(args.greengrass)
    if args.command == "sample":
        return sample(args.groups)
    state = daemon.read_state()
    if state is None:
        sys.stderr.write("the local pipeline is not running: `make local-up` first\n")
        return 1
    sys.stdout.write(daemon.exports(state["environment"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
