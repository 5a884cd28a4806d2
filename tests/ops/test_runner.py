"""`readiness run` from an empty folder: the suites this installation carries, the report written there,
the previous report as the baseline (from the folder, or from the profile's S3 store), options passed to
pytest unchanged, and a file profile kept anywhere that extends a shipped one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from readiness.core.profile import load_profile
from tests.ops.test_upload import BUCKET, s3, s3_endpoint  # noqa: F401 - fixtures

FILES = {"conformance.json", "conformance.html", "conformance.md", "junit.xml", "conformance.prom"}
# The Prefect suite without a Prefect API configured: its checks skip at once (target not configured), no
# server needed, and the run is INCOMPLETE.
QUICK = ["--suite", "prefect"]


def readiness_run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "readiness", "run", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _report(run_dir: Path) -> dict:
    return json.loads((run_dir / "conformance.json").read_text())


@pytest.mark.slow
def test_from_an_empty_folder_the_report_lands_there_and_the_next_run_compares(tmp_path):
    first = readiness_run(tmp_path, "--profile", "sandbox", "--baseline", "previous", *QUICK)
    assert first.returncode == 101, first.stderr  # INCOMPLETE, pytest's status passed through
    assert "no previous report" in first.stderr
    runs = [p for p in (tmp_path / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1 and {p.name for p in runs[0].iterdir()} == FILES
    assert _report(runs[0])["drift"] is None

    second = readiness_run(tmp_path, "--profile", "sandbox", "--baseline", "previous", *QUICK)
    latest = (tmp_path / "reports" / "latest").resolve()
    assert latest != runs[0]
    drift = _report(latest)["drift"]
    assert drift["baseline_run"] == runs[0].name, second.stderr
    assert drift["new_failures"] == []


@pytest.mark.slow
def test_the_profile_store_keeps_each_run_and_gives_the_next_its_baseline(s3, s3_endpoint, tmp_path):  # noqa: F811
    profile = tmp_path / "config" / "audit.yaml"
    profile.parent.mkdir()
    # `extends: sandbox` from a folder that holds no sandbox.yaml: the shipped profile is found
    profile.write_text(f"name: audit\nextends: sandbox\nsettings:\n  report_store: s3://{BUCKET}/audits/sandbox\n")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"

    first = readiness_run(work, f"--profile={profile}", "--baseline", "previous", *QUICK, env=env)
    assert f"no previous report in s3://{BUCKET}/audits/sandbox" in first.stderr, first.stderr
    first_id = (work / "reports" / "latest").resolve().name
    # the second run starts in a fresh folder (a new pod): its baseline can only come from the store
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    second = readiness_run(fresh, f"--profile={profile}", "--baseline", "previous", *QUICK, env=env)
    second_dir = (fresh / "reports" / "latest").resolve()
    assert _report(second_dir)["drift"]["baseline_run"] == first_id, second.stderr

    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    for folder in (first_id, second_dir.name, "latest"):
        assert {f"audits/sandbox/{folder}/{name}" for name in FILES} <= keys
    latest = boto3.client("s3").get_object(Bucket=BUCKET, Key="audits/sandbox/latest/conformance.json")
    assert json.loads(latest["Body"].read())["run"]["id"] == second_dir.name


@pytest.mark.slow
def test_other_options_go_to_pytest_unchanged(tmp_path):
    result = readiness_run(tmp_path, "--profile", "sandbox", *QUICK, "-k", "version", "--read-only", "-q")
    report = _report((tmp_path / "reports" / "latest").resolve())
    ran = {c["nodeid"].split("::")[-1] for r in report["results"] for c in r["checks"]}
    assert ran == {"test_server_version_is_supported"}, result.stderr
    assert report["run"]["options"]["read_only"] is True


def test_a_bad_profile_is_one_line_and_pytest_usage_status(tmp_path):
    result = readiness_run(tmp_path, "--profile", "no-such-cloud")
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        next(line for line in result.stderr.splitlines() if "profile 'no-such-cloud' not found" in line)
    ]


def test_other_commands_still_refuse_unknown_options():
    result = subprocess.run([sys.executable, "-m", "readiness", "diff", "a", "b", "--bogus"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 2 and "unrecognized arguments: --bogus" in result.stderr


def test_a_profile_file_anywhere_extends_a_shipped_profile(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "name: mine\nextends: aws\nrequirements:\n  K8S-NODE-COUNT:\n    params: {min: 5}\n"
    )
    profile = load_profile(str(tmp_path / "mine.yaml"))
    assert profile.cloud == "aws" and profile.requirements["K8S-NODE-COUNT"].params["min"] == 5


@pytest.mark.parametrize("store", ["https://example/x", "s3:/bucket"])
def test_a_report_store_that_is_no_store_url_is_refused_with_the_key(tmp_path, store):
    (tmp_path / "p.yaml").write_text(f"name: p\nextends: aws\nsettings:\n  report_store: {store}\n")
    from readiness.core.profile import ProfileError

    with pytest.raises(ProfileError, match=r"p.yaml: settings.report_store: string should match"):
        load_profile(str(tmp_path / "p.yaml"))
