"""The CLI as people who live in the AWS CLI expect it (issue 15): one exit-code scheme, --output
json|table|text with --query, --debug, --no-color, --endpoint-url, progress that reaches its end,
Ctrl-C without a traceback, every argument checked, "did you mean", and ASCII terminals.

Through the real entry point: ``main()`` in-process (the console script's own function), and
the installed console script in a subprocess where a process is what is tested (Ctrl-C, the
terminal's encoding).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import BUCKET, REGION, Runner, Stack

SCRIPT = Path(sys.executable).parent / "bulk-deployer"
FAST_WAIT = ("--poll-seconds", "0.05", "--timeout", "20")


def _objects(stack: Stack) -> list[str]:
    return [o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])]


# -- 2: one exit-code scheme ------------------------------------------------------------------------


def test_a_record_greengrass_did_not_deploy_is_named_and_exits_1(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    (a, (av,)), (b, (bv,)) = stack.group(), stack.group()
    path = stack.input_file(tmp_path / "f.jsonl", [(a, av), ("ghost-group", "v1"), (b, bv)])
    with runner:
        code, _, err = stack.cli("submit", str(path), "--key", "f.jsonl", "--wait", *FAST_WAIT)
    assert code == 1
    assert "finished: Completed; groups: Success 2" in err
    assert "records not deployed (1):" in err and "line 2: group ghost-group: not deployed" in err
    code, text, _ = stack.cli("report", "f.jsonl")
    assert code == 1 and "line 2: group ghost-group: not deployed" in text
    code, report = stack.cli_json("report", "f.jsonl")
    assert code == 1 and report["succeeded"] is False and report["not_deployed_total"] == 1
    assert report["not_deployed"][0] | {"reason": ""} == {
        "line": 2,
        "group_id": "ghost-group",
        "version_id": "v1",
        "reason": "",
    }


def test_a_stopped_deployment_names_the_records_it_never_deployed(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    stack.emulator.configure(record_seconds=0.8)  # stopped long before its end
    groups = [stack.group() for _ in range(6)]
    path = stack.input_file(tmp_path / "six.jsonl", [(g, v) for g, (v,) in groups])
    assert stack.cli("submit", str(path), "--key", "six.jsonl")[0] == 0
    runner.step()
    bulk_id = stack.cli_json("status", "six.jsonl")[1]["file"]["bulk_deployment_id"]
    assert stack.cli("stop", bulk_id, "--yes")[0] == 0
    with runner:
        code, _, err = stack.cli("status", "six.jsonl", "--wait", *FAST_WAIT)
    assert code == 1, err
    code, report = stack.cli_json("report", "six.jsonl")
    assert code == 1 and report["bulk_status"] == "Stopped"
    assert report["not_deployed_total"] >= 1
    assert report["not_deployed"][-1]["line"] == 6
    assert "never deployed: the bulk deployment ended Stopped" in report["not_deployed"][0]["reason"]


@pytest.mark.parametrize(
    "argv", [("list",), ("queue",), ("doctor",), ("status", "a.jsonl"), ("report", "a.jsonl")]
)
def test_an_unreachable_endpoint_is_exit_2_for_every_command(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
) -> None:
    unreachable = json.loads(stack.env_file.read_text())
    unreachable["environment"]["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    path = tmp_path / "down.json"
    path.write_text(json.dumps(unreachable))
    monkeypatch.setenv("BULK_DEPLOYER_LOCAL_ENV", str(path))
    code, out, err = stack.cli(*argv)
    assert code == 2, err
    assert "cannot reach the endpoint http://127.0.0.1:9" in out + err  # doctor: in its check list


def test_status_wait_times_out_with_exit_3_and_says_how_to_follow_again(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    stack.cli("pause")
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / "a.jsonl", [(group, version)])
    token = stack.cli_json("submit", str(path), "--key", "a.jsonl")[1]["token"]
    runner.step()  # queued behind the pause
    code, _, err = stack.cli("status", "a.jsonl", "--wait", "--poll-seconds", "0.05", "--timeout", "0.2")
    assert code == 3
    assert f"it carries on: follow it again with `bulk-deployer --local status --token {token} --wait`" in err


# -- 3: --output, --query, --json, --debug, --no-color, --endpoint-url ------------------------------


def test_output_is_a_format_and_save_writes_the_file(
    stack: Stack, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / "one.jsonl", [(group, version)])
    with runner:
        assert stack.cli("submit", str(path), "--key", "one.jsonl", "--wait", *FAST_WAIT)[0] == 0
    monkeypatch.chdir(tmp_path)
    code, out, _ = stack.cli("report", "one.jsonl", "--output", "json")
    assert code == 0 and json.loads(out)["group_counts"] == {"Success": 1}
    assert not (tmp_path / "json").exists()
    code, out, _ = stack.cli("--json", "report", "one.jsonl")  # --json: before the command too
    assert json.loads(out)["group_counts"] == {"Success": 1}
    code, out, _ = stack.cli("list", "--output", "text", "--query", "[].[key, state]")
    assert (code, out) == (0, "incoming/one.jsonl\tFINISHED\n")
    code, out, _ = stack.cli("report", "one.jsonl", "--query", "group_counts", "--output", "json")
    assert json.loads(out) == {"Success": 1}
    code, out, _ = stack.cli("report", "one.jsonl", "--save", "saved.csv")
    assert code == 0 and (tmp_path / "saved.csv").read_text().startswith("group_id,")
    code, _, err = stack.cli("list", "--query", "[?")
    assert code == 2 and "JMESPath" in err


def test_doctor_query_and_colours(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = stack.cli("doctor", "--output", "json", "--query", "checks[?ok==`false`].name")
    assert (code, json.loads(out)) == (0, [])
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in stack.cli("doctor")[1]
    assert "\x1b[" not in stack.cli("doctor", "--no-color")[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in stack.cli("doctor")[1]


def test_debug_prints_the_traceback_and_botocores_log(stack: Stack) -> None:
    code, _, err = stack.cli("status", "no-such.jsonl")
    assert code == 2 and err.count("\n") == 1
    code, _, err = stack.cli("status", "no-such.jsonl", "--debug")
    assert code == 2 and "Traceback" in err and "botocore" in err and "DEBUG" in err
    assert err.rstrip().endswith("no ledger entry for 'no-such.jsonl' (a key under incoming/, or a token)")


def test_endpoint_url_sends_every_call_there(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.deploy_to_cloudformation("Fleet-Prod")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    deployed = ("--stack", "Fleet-Prod", "--region", REGION)
    code, out, err = stack.cli("queue", "--json", *deployed, "--endpoint-url", stack.moto_url, local=False)
    assert code == 0, err
    assert json.loads(out)["queued"] == []


# -- 4: progress ------------------------------------------------------------------------------------


def test_piped_progress_reaches_its_end_with_elapsed_time(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    """Polled once a second, the file goes from uploaded to finished between two polls: the
    progress line still ends at every record processed."""
    groups = [stack.group() for _ in range(3)]
    path = stack.input_file(tmp_path / "f.jsonl", [(g, v) for g, (v,) in groups])
    with runner:
        code, _, err = stack.cli("submit", str(path), "--wait", "--poll-seconds", "1", "--timeout", "20")
    assert code == 0, err
    (last,) = [line for line in err.splitlines() if "3/3 (100%) records processed" in line]
    assert "Completed" in last and ", elapsed 0:00:" in last


def test_json_progress_is_json_lines_on_stderr(stack: Stack, runner: Runner, tmp_path: Path) -> None:
    groups = [stack.group() for _ in range(2)]
    path = stack.input_file(tmp_path / "f.jsonl", [(g, v) for g, (v,) in groups])
    with runner:
        code, out, err = stack.cli(
            "submit", str(path), "--wait", "--output", "json", "--progress-seconds", "0.01", *FAST_WAIT
        )
    assert code == 0 and json.loads(out)["outcome"] == "succeeded"
    events = [json.loads(line) for line in err.splitlines()]
    assert {e["event"] for e in events} == {"stage", "records"}
    last = [e for e in events if e["event"] == "records"][-1]
    assert (last["done"], last["total"]) == (2, 2) and "elapsed_seconds" in last


def test_on_a_terminal_a_live_bar_shows_every_record_and_the_elapsed_time(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    """The console script with its stderr on a pseudo-terminal: Rich's bar, completed."""
    import pty

    groups = [stack.group() for _ in range(3)]
    path = stack.input_file(tmp_path / "f.jsonl", [(g, v) for g, (v,) in groups])
    with runner:
        assert stack.cli("submit", str(path), "--key", "f.jsonl", "--wait", *FAST_WAIT)[0] == 0
    main_fd, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(SCRIPT), "--local", "status", "f.jsonl", "--wait"],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "150"},
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the terminal's last writer is gone
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main_fd)
    assert process.wait(timeout=30) == 0
    screen = drawn.decode("utf-8", errors="replace")
    assert "3/3" in screen and "0:00:0" in screen and "Completed" in screen, screen


def test_the_terminal_bar_reaches_its_end() -> None:
    import io

    from bulk_deployer_cli.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(screen)
    progress.records(78, 80, "Running")
    progress.records(80, 80, "Completed", "groups: Success 80")
    progress.close()
    assert progress.mode == "bar"
    assert "80/80" in screen.getvalue() and "Completed" in screen.getvalue()


# -- 5: Ctrl-C --------------------------------------------------------------------------------------


def _script(*argv: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SCRIPT), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_ctrl_c_while_following_says_it_carries_on_and_how_to_follow_again(
    stack: Stack, runner: Runner, tmp_path: Path
) -> None:
    stack.cli("pause")
    group, (version,) = stack.group()
    token = json.loads(
        stack.cli("submit", str(stack.input_file(tmp_path / "a.jsonl", [(group, version)])), "--json")[1]
    )["token"]
    runner.step()  # queued; paused: it waits
    process = _script("--local", "status", "--token", token, "--wait", "--poll-seconds", "0.1")
    assert process.stderr is not None
    assert "queued" in process.stderr.readline()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert (
        f"the file carries on; follow it again with `bulk-deployer --local status --token {token} --wait`"
        in err
    )


def _loaded(process: subprocess.Popen[str], library: str) -> bool:
    """Whether the process has loaded this C extension yet (its imports are under way)."""
    deadline = time.monotonic() + 30
    maps = Path(f"/proc/{process.pid}/maps")
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if library in maps.read_text():
                return True
        except OSError:
            return False
        time.sleep(0.001)
    return False


@pytest.mark.parametrize(
    ("library", "then"),
    [("_ssl", 0.0), ("_decimal", 0.0), ("_decimal", 0.3)],
    ids=["importing botocore", "importing the functions' package", "after the imports"],
)
def test_ctrl_c_at_any_moment_of_the_start_is_one_line(stack: Stack, library: str, then: float) -> None:
    """Ctrl-C while the CLI imports botocore (``_ssl``, loaded by urllib3), later ones
    (``_decimal``), or just after: one line, never a traceback. The moment is found in the
    process's memory map, so a slow machine moves it without missing it."""
    process = _script("--local", "list")
    assert _loaded(process, library), "the CLI never got there"
    time.sleep(then)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert process.returncode in (0, 130), err
    if process.returncode == 130:
        assert err.strip().startswith("bulk-deployer: interrupted")


# -- 7: every argument checked ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--timeout", "-5", "--wait"), "greater than 0"),
        (("--key", "a/b/../c.jsonl"), "'..' is not allowed"),
        (("--key", "a//c.jsonl"), "an empty segment"),
        (("--key", ""), "must not be empty"),
    ],
)
def test_submit_refuses_bad_arguments_before_uploading(
    stack: Stack, tmp_path: Path, argv: tuple[str, ...], says: str
) -> None:
    group, (version,) = stack.group()
    path = stack.input_file(tmp_path / "f.jsonl", [(group, version)])
    code, out, err = stack.cli("submit", str(path), *argv)
    assert (code, out) == (2, "") and says in err
    assert _objects(stack) == []


def test_other_arguments_are_checked(stack: Stack) -> None:
    code, _, err = stack.cli("reconcile", "--lookback-days", "0")
    assert code == 2 and "at least 1" in err
    code, _, err = stack.cli("list", "--limit", "0")
    assert code == 2 and "at least 1" in err
    code, _, err = stack.cli("make-input", "--name-regex", "(")
    assert code == 2 and "not a regular expression" in err
    stack.group("east-1")
    code, _, err = stack.cli("make-input", "--name-regex", "^zzz")
    assert code == 2 and "no group matches ^zzz (of 1 group(s)" in err


# -- 8: did you mean --------------------------------------------------------------------------------


def test_a_mistyped_command_gets_a_suggestion(stack: Stack) -> None:
    code, _, err = stack.cli("sumbit", "f.jsonl")
    assert code == 2 and "Did you mean 'submit'?" in err


# -- 9: a terminal that cannot print the symbols ----------------------------------------------------


def test_doctor_on_an_ascii_terminal(stack: Stack) -> None:
    result = subprocess.run(
        [str(SCRIPT), "--local", "doctor"],
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    out, err = result.stdout.decode("ascii"), result.stderr.decode("ascii")
    assert result.returncode == 0, err
    assert "OK stack: CliTest (local stand-ins)" in out and "Traceback" not in err
