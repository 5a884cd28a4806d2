"""A `pytest --profile sandbox` run stopped by SIGTERM in the middle of a write check against the real
sandbox Prefect API: the check ends as `error: interrupted (SIGTERM)`, the object it made (tagged with the
run ID) is removed, and the report is written with `interrupted: true`.

The write check is a small test-only one in a temporary suite folder: it creates a tagged flow through
the Prefect REST API, sleeps, and deletes the flow in a `finally`, as every write check must.
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

from readiness.sandbox import Sandbox
from readiness.sandbox.services.prefect import PrefectComponent
from tests.suite_run import ROOT

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

WRITE_CHECK = """
import os, pathlib, time
import httpx
import pytest

OUT = pathlib.Path(__file__).parent

@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_makes_a_tagged_flow_and_waits(run_id, probe_timeout):
    user, _, password = os.environ["PREFECT_API_AUTH_STRING"].partition(":")
    api = httpx.Client(base_url=os.environ["READINESS_PREFECT_INTERNAL_URL"], auth=(user, password),
                       timeout=probe_timeout)
    flow = api.post("/flows/", json={"name": f"readiness-{run_id}", "tags": [f"readiness-run:{run_id}"]})
    flow.raise_for_status()
    try:
        (OUT / "started").write_text(run_id)
        time.sleep(120)
    finally:
        api.delete(f"/flows/{flow.json()['id']}").raise_for_status()
"""


def _flows_named(sandbox: Sandbox, name: str) -> list[dict]:
    with PrefectComponent(sandbox.ctx)._client() as api:
        found = api.post("/flows/filter", json={"flows": {"name": {"any_": [name]}}})
        found.raise_for_status()
        return found.json()


def test_sigterm_in_a_prefect_write_check_removes_the_tagged_flow_and_writes_the_report(sandbox, tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_write.py").write_text(WRITE_CHECK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_"))}
    env.update(sandbox.env())
    env["PREFECT_HOME"] = str(tmp_path / "client-home")
    report_dir = tmp_path / "reports"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT), "--profile=sandbox",
            f"--report-dir={report_dir}", str(suite / "test_write.py")]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (suite / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.1)
    run_id = (suite / "started").read_text()
    assert len(_flows_named(sandbox, f"readiness-{run_id}")) == 1  # it is there while the check runs
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=90)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    report = json.loads((report_dir / "latest" / "conformance.json").read_text())
    assert report["run"]["id"] == run_id
    assert report["run"]["interrupted"] is True and report["run"]["interrupted_by"] == "SIGTERM"
    result = {r["id"]: r for r in report["results"]}["PREFECT-E2E-FLOW-RUN"]
    assert result["outcome"] == "error" and result["message"] == "interrupted (SIGTERM)"
    assert report["summary"]["verdict"] != "pass"
    assert _flows_named(sandbox, f"readiness-{run_id}") == []  # nothing tagged with the run ID is left


def _locust_children(parent: int) -> dict[int, dict]:
    """Locust processes started by `parent`, with the load config their environment names."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = dict(
                e.split("=", 1)
                for e in (proc / "environ").read_bytes().decode(errors="replace").split("\0")
                if "=" in e
            )
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if ppid == parent and b"locust" in cmdline and "READINESS_LOAD_CONFIG" in environ:
            found[int(proc.name)] = json.loads(Path(environ["READINESS_LOAD_CONFIG"]).read_text())
    return found


def test_sigterm_during_the_load_run_stops_locust_and_removes_what_it_made(sandbox, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "KUBECONFIG"))}
    env.update(sandbox.user_env())
    env["PREFECT_HOME"] = str(tmp_path / "client-home")
    report_dir = tmp_path / "reports"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT), "--profile=sandbox",
            f"--report-dir={report_dir}", str(ROOT / "suites" / "load")]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while not (locust := _locust_children(proc.pid)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.2)
    tag = next(iter(locust.values()))["tag"]
    time.sleep(3)  # under load now
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    report = json.loads((report_dir / "latest" / "conformance.json").read_text())
    assert report["run"]["id"] == tag and report["run"]["interrupted"] is True
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["LOAD-LATENCY"]["message"] == "interrupted (SIGTERM)", by_id["LOAD-LATENCY"]
    assert report["summary"]["verdict"] != "pass"
    assert [pid for pid in locust if Path(f"/proc/{pid}").exists()] == []  # no Locust process left
    with PrefectComponent(sandbox.ctx)._client() as api:
        flows = api.post("/flows/filter", json={"flows": {"tags": {"all_": [tag]}}}).json()
        runs = api.post("/flow_runs/filter", json={"flow_runs": {"tags": {"all_": [tag]}}}).json()
        pool = api.get(f"/work_pools/readiness-load-{tag}")
    assert flows == [] and runs == [] and pool.status_code == 404
