"""The plugin end to end on generated checks: every outcome, exit status, options, waivers, xdist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHECKS = """
import time
import pytest
from readiness.core.expect import CheckError

@pytest.mark.requirement("K8S-STORAGECLASS")          # required
def test_pass(expect, params):
    expect.equal("default StorageClass present", True, params["require_default"], evidence={"where": "here"})

@pytest.mark.requirement("K8S-NODE-COUNT")            # recommended -> warn
def test_warn(expect, params):
    expect.at_least("Ready nodes", 2, params["min"], unit="nodes")

@pytest.mark.requirement("LB-ADDRESS")                # required -> fail
def test_fail(expect):
    expect.true("load balancer has an address", False, observed="pending", expected="an address")

@pytest.mark.requirement("TLS-CHAIN")                 # error with a cause
def test_error(expect):
    raise CheckError("connection to https://api.example.test refused (nothing listening?)")

@pytest.mark.requirement("DNS-CAA")                   # skip with a reason
def test_skip(expect):
    pytest.skip("no CAA lookup configured")

@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_writes(expect):
    expect.true("flow run completed", True)

@pytest.mark.requirement("PG-CAPACITY")               # recommended, bug in the check -> error, no crash
def test_bug(expect):
    {}["missing"]
"""


def _run(
    pytester: pytest.Pytester, *args: str, checks: str = CHECKS, out: str = "out"
) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(test_checks=checks)
    result = pytester.runpytest(
        "-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile", "aws", "--report-dir", out, *args
    )
    latest = pytester.path / out / "latest" / "conformance.json"
    report = json.loads(latest.read_text()) if latest.exists() else {}
    return result, report


def _outcomes(report: dict) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in report["results"]}


def test_every_outcome_is_reachable_and_the_run_fails(pytester):
    result, report = _run(pytester)
    outcomes = _outcomes(report)
    assert outcomes["K8S-STORAGECLASS"] == "pass"
    assert outcomes["K8S-NODE-COUNT"] == "warn"
    assert outcomes["LB-ADDRESS"] == "fail"
    assert outcomes["TLS-CHAIN"] == "error"
    assert outcomes["DNS-CAA"] == "skip"
    assert outcomes["PG-CAPACITY"] == "error"
    assert result.ret == 1
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["K8S-NODE-COUNT"]["observed_value"] == 2
    assert by_id["K8S-NODE-COUNT"]["expected_value"] == 3
    assert by_id["K8S-NODE-COUNT"]["unit"] == "nodes"
    assert by_id["K8S-STORAGECLASS"]["evidence"]["where"] == "here"
    assert "at" in by_id["K8S-STORAGECLASS"]["evidence"]
    assert by_id["TLS-CHAIN"]["message"] == "connection to https://api.example.test refused (nothing listening?)"
    assert "KeyError" in by_id["PG-CAPACITY"]["message"]
    assert by_id["DNS-CAA"]["message"] == "no CAA lookup configured"
    # requirements with no check are reported, never hidden
    assert outcomes["SMTP-TLS"] == "skip"
    assert "no check ran" in by_id["SMTP-TLS"]["message"]
    from readiness.core.profile import load_profile

    assert report["summary"]["total"] == len(report["results"]) == len(load_profile("aws").requirements)
    # the terminal shows the per-component table and a WARN status
    out = result.stdout.str()
    assert "prefect-readiness" in out and "kubernetes" in out and "WARN" in out


def test_only_warnings_exit_zero_and_strict_turns_them_into_failure(pytester):
    checks = CHECKS.split('@pytest.mark.requirement("LB-ADDRESS")')[0]
    # the file as the path: only the requirements its checks name are in scope
    result, report = _run(pytester, "test_checks.py", checks=checks)
    assert _outcomes(report)["K8S-NODE-COUNT"] == "warn"
    assert result.ret == 0
    assert report["summary"]["verdict"] == "pass"
    strict, report = _run(pytester, "test_checks.py", "--strict", checks=checks)
    assert strict.ret == 1
    assert report["summary"]["verdict"] == "fail"


def test_read_only_skips_checks_that_write(pytester):
    _, report = _run(pytester, "--read-only")
    by_id = {r["id"]: r for r in report["results"]}
    # reported apart: a read-only run leaves write checks out on purpose
    assert "PREFECT-E2E-FLOW-RUN" not in by_id
    left_out = {r["id"]: r["reason"] for r in report["not_in_run"]}
    assert left_out == {"PREFECT-E2E-FLOW-RUN": "read-only run: its checks write or load"}
    assert by_id["K8S-STORAGECLASS"]["outcome"] == "pass"


def test_budget_exhausted_turns_remaining_checks_into_errors(pytester):
    checks = """
import time, pytest

@pytest.mark.requirement("K8S-NODE-COUNT")
def test_slow(expect):
    time.sleep(5)

@pytest.mark.requirement("K8S-NODE-SIZE")
def test_after(expect):
    expect.true("ran", True)
"""
    result, report = _run(pytester, "--budget", "0.5", checks=checks)
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["K8S-NODE-COUNT"]["outcome"] == "error"
    assert "budget exhausted" in by_id["K8S-NODE-COUNT"]["message"]
    assert by_id["K8S-NODE-SIZE"]["outcome"] == "error"
    assert "budget exhausted" in by_id["K8S-NODE-SIZE"]["message"]
    assert report["run"]["duration_s"] < 4


def test_per_check_timeout_comes_from_the_profile(pytester):
    pytester.makefile(
        ".yaml",
        quick=f"name: quick\nextends: {Path(__file__).parents[2] / 'profiles' / 'aws.yaml'}\n"
        "requirements:\n  K8S-NODE-COUNT:\n    timeout: 0.3\n",
    )
    pytester.makepyfile(
        test_t="""
import time, pytest
@pytest.mark.requirement("K8S-NODE-COUNT")
def test_hangs(expect):
    time.sleep(10)
"""
    )
    result = pytester.runpytest(
        "-p", "readiness.plugin", "--profile", str(pytester.path / "quick.yaml"), "--report-dir", "out"
    )
    report = json.loads((pytester.path / "out" / "latest" / "conformance.json").read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["K8S-NODE-COUNT"]["outcome"] == "error"
    assert by_id["K8S-NODE-COUNT"]["message"] == "timed out after 0.3 s (the requirement's timeout)"
    assert result.ret == 1


def test_no_profile_with_checks_is_a_usage_error(pytester):
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("-p", "readiness.plugin")
    assert result.ret == 4
    assert "--profile" in result.stderr.str()


def test_unknown_requirement_in_a_marker_is_a_usage_error(pytester):
    checks = 'import pytest\n@pytest.mark.requirement("K8S-NOPE")\ndef test_x(expect):\n    pass\n'
    result, _ = _run(pytester, checks=checks)
    assert result.ret == 4
    assert "'K8S-NOPE' is not in profile 'aws'" in result.stderr.str()


def test_collect_only_lists_checks_without_running_them(pytester):
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("-p", "readiness.plugin", "--profile", "aws", "--collect-only", "-q")
    assert result.ret == 0
    assert "test_checks.py::test_pass" in result.stdout.str()


def test_xdist_gives_the_same_report_as_a_serial_run(pytester):
    serial_run, serial = _run(pytester, out="serial")
    parallel_run, parallel = _run(pytester, "-n", "2", out="parallel")
    assert parallel_run.ret == serial_run.ret == 1
    assert "INTERNALERROR" not in parallel_run.stdout.str() + parallel_run.stderr.str()
    assert parallel["run"]["id"] != serial["run"]["id"]
    assert _outcomes(parallel) == _outcomes(serial)
    strip = ("duration_s", "evidence", "checks")
    assert [{k: v for k, v in r.items() if k not in strip} for r in parallel["results"]] == [
        {k: v for k, v in r.items() if k not in strip} for r in serial["results"]
    ]
    assert parallel["summary"] == serial["summary"]
    assert "WARN" in parallel_run.stdout.str()


def test_all_four_report_files_and_latest_link(pytester):
    _run(pytester)
    run_dirs = [p for p in (pytester.path / "out").iterdir() if p.name != "latest"]
    assert len(run_dirs) == 1
    assert sorted(p.name for p in run_dirs[0].iterdir()) == [
        "conformance.html",
        "conformance.json",
        "conformance.md",
        "conformance.prom",
        "junit.xml",
    ]
    assert (pytester.path / "out" / "latest").resolve() == run_dirs[0].resolve()


def test_the_plugin_registers_every_hook_and_fixture_of_its_job_modules():
    """The hooks and fixtures live in readiness/engine/<job>.py and are registered as attributes of the plugin
    module: one defined there but not wired in would silently never run."""
    import importlib

    from readiness.engine import plugin

    for job in plugin.JOB_MODULES:
        module = importlib.import_module(f"readiness.engine.{job}")
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            is_fixture = type(value).__name__ == "FixtureFunctionDefinition"
            if (name.startswith("pytest_") and callable(value) and defined_here) or is_fixture:
                assert getattr(plugin, name, None) is value, f"readiness.engine.{job}.{name} is not in plugin.py"
