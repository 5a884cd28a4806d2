"""SIGTERM stops a `pytest --profile` run in order: the running check ends as `error: interrupted
(SIGTERM)`, its cleanup and every fixture's teardown run, the rest are not started, and the report is
written with `interrupted: true` and a verdict that is never PASS. A second SIGTERM exits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHECKS = """
import pathlib, time
import pytest

OUT = pathlib.Path(__file__).parent

@pytest.fixture
def tagged(run_id):
    made = OUT / f"fixture-{run_id}"
    made.write_text("made by a fixture")
    yield made
    time.sleep(0.3)                    # a teardown that takes a moment
    made.unlink()

@pytest.mark.requirement("K8S-STORAGECLASS")
def test_a_read_check_before(expect):
    expect.true("ran", True)

@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_writes_then_waits(run_id, tagged):
    made = OUT / f"object-{run_id}"
    made.write_text("a tagged object")
    try:
        (OUT / "started").write_text(run_id)
        time.sleep({sleep})
    finally:
        time.sleep({cleanup})          # the cleanup is not cut short, not even by a SIGTERM inside it
        made.unlink()

@pytest.mark.requirement("K8S-NODE-COUNT")
def test_after(expect):
    (OUT / "after-ran").write_text("should not have started")
"""


def _start(tmp_path: Path, sleep: float = 60, cleanup: float = 0.5, *extra: str) -> subprocess.Popen[str]:
    (tmp_path / "test_stop.py").write_text(CHECKS.replace("{sleep}", str(sleep)).replace("{cleanup}", str(cleanup)))
    argv = [sys.executable, "-m", "pytest", "-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile=aws",
            "--report-dir=out", "--rootdir", str(tmp_path), "test_stop.py", *extra]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_sigterm_in_a_write_check_ends_it_cleans_up_and_writes_the_report(tmp_path):
    proc = _start(tmp_path)
    _wait_for(tmp_path / "started")
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    report = json.loads((tmp_path / "out" / "latest" / "conformance.json").read_text())
    assert report["run"]["interrupted"] is True and report["run"]["interrupted_by"] == "SIGTERM"
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["PREFECT-E2E-FLOW-RUN"]["outcome"] == "error"
    assert by_id["PREFECT-E2E-FLOW-RUN"]["message"] == "interrupted (SIGTERM)"
    assert by_id["K8S-STORAGECLASS"]["outcome"] == "pass"
    assert by_id["K8S-NODE-COUNT"]["outcome"] == "skip"
    assert "stopped (SIGTERM) before a check of this requirement started" in by_id["K8S-NODE-COUNT"]["message"]
    assert not (tmp_path / "after-ran").exists()
    assert report["summary"]["verdict"] == "fail"  # never pass: the interrupted check is an error
    assert list(tmp_path.glob("object-*")) == [] and list(tmp_path.glob("fixture-*")) == []
    assert "readiness: SIGTERM: stopping in order" in output


def test_sigterm_during_the_cleanup_lets_it_finish(tmp_path):
    proc = _start(tmp_path, 0.1, 2.0)
    _wait_for(tmp_path / "started")
    time.sleep(0.8)  # the check is in its two-second cleanup now
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    report = json.loads((tmp_path / "out" / "latest" / "conformance.json").read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["PREFECT-E2E-FLOW-RUN"]["message"] == "interrupted (SIGTERM)"
    assert list(tmp_path.glob("object-*")) == [] and list(tmp_path.glob("fixture-*")) == []
    assert not (tmp_path / "after-ran").exists()


TEARDOWN = """
import pathlib, time
import pytest

OUT = pathlib.Path(__file__).parent

@pytest.fixture
def mailbox_message(run_id):
    made = OUT / f"message-{run_id}"
    made.write_text("a tagged test e-mail")
    yield made
    (OUT / "teardown-started").write_text(run_id)
    time.sleep(1.5)
    made.unlink()

@pytest.mark.requirement("SMTP-DELIVERY", effect="write")
def test_delivers(expect, mailbox_message):
    expect.true("message delivered", True)

@pytest.mark.requirement("K8S-STORAGECLASS")
def test_after(expect):
    (OUT / "after-ran").write_text("should not have started")
"""


def test_sigterm_during_a_teardown_lets_it_finish_and_the_verdict_is_incomplete_not_pass(tmp_path):
    (tmp_path / "test_teardown.py").write_text(TEARDOWN)
    argv = [sys.executable, "-m", "pytest", "-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile=aws",
            "--report-dir=out", "--rootdir", str(tmp_path), "test_teardown.py"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(tmp_path / "teardown-started")
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    report = json.loads((tmp_path / "out" / "latest" / "conformance.json").read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["SMTP-DELIVERY"]["outcome"] == "pass"
    assert by_id["K8S-STORAGECLASS"]["outcome"] == "skip" and not (tmp_path / "after-ran").exists()
    assert list(tmp_path.glob("message-*")) == []
    assert report["summary"]["verdict"] == "incomplete"
    assert report["summary"]["verdict_reason"] == "the run was interrupted (SIGTERM) before every check ran"


def test_a_second_sigterm_exits_at_once(tmp_path):
    proc = _start(tmp_path, 60, 30)
    _wait_for(tmp_path / "started")
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)  # the check is in its thirty-second cleanup (and past the duplicate window)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=20)[0]
    assert time.monotonic() - started < 5
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "second SIGTERM: exiting at once" in output


def test_the_grace_period_passing_exits_at_once(tmp_path):
    proc = _start(tmp_path, 60, 30, "--grace=1")
    _wait_for(tmp_path / "started")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=20)[0]
    assert 0.9 < time.monotonic() - started < 10
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert "1 s grace after SIGTERM passed: exiting at once" in output


XDIST = """
import pathlib, time
import pytest

OUT = pathlib.Path(__file__).parent

def _write_and_wait(name, run_id):
    made = OUT / f"object-{name}-{run_id}"
    made.write_text("a tagged object")
    try:
        (OUT / f"started-{name}").write_text(run_id)
        time.sleep(60)
    finally:
        made.unlink()

@pytest.mark.requirement("PREFECT-E2E-FLOW-RUN", effect="write")
def test_a(run_id):
    _write_and_wait("a", run_id)

@pytest.mark.requirement("SMTP-DELIVERY", effect="write")
def test_b(run_id):
    _write_and_wait("b", run_id)

@pytest.mark.requirement("K8S-NODE-COUNT")
def test_c(expect):
    (OUT / "c-ran").write_text("should not have started")
"""


@pytest.mark.parametrize("to", ["the process group", "the controller only"])
def test_sigterm_under_xdist_stops_every_worker_in_order(tmp_path, to):
    (tmp_path / "test_x.py").write_text(XDIST)
    argv = [sys.executable, "-m", "pytest", "-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile=aws",
            "--report-dir=out", "--rootdir", str(tmp_path), "test_x.py", "-n", "2"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    _wait_for(tmp_path / "started-a")
    _wait_for(tmp_path / "started-b")
    if to == "the process group":  # a CD runner killing the job: a worker gets it twice (group + forwarded)
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "exiting at once" not in output
    report = json.loads((tmp_path / "out" / "latest" / "conformance.json").read_text())
    assert report["run"]["interrupted_by"] == "SIGTERM"
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["PREFECT-E2E-FLOW-RUN"]["message"] == by_id["SMTP-DELIVERY"]["message"] == "interrupted (SIGTERM)"
    assert by_id["K8S-NODE-COUNT"]["outcome"] == "skip" and not (tmp_path / "c-ran").exists()
    assert list(tmp_path.glob("object-*")) == []


SETUP = '''
import pathlib, subprocess, sys
import pytest
from readiness.core.process import popen_tied, stop_group

OUT = pathlib.Path(__file__).parent

@pytest.fixture(scope="session")
def workload(run_id):
    """Like the load suite's Locust run: set up once, in child processes, for as long as it runs."""
    made = OUT / f"object-{run_id}"
    made.write_text("a tagged object")
    child = popen_tied([sys.executable, "-c", "import time; time.sleep(120)"])
    (OUT / "child").write_text(str(child.pid))
    try:
        child.wait(120)
    finally:
        stop_group(child, grace=5)
        made.unlink()
    return "done"

@pytest.mark.requirement("LOAD-LATENCY", effect="load")
def test_latency(workload):
    pass

@pytest.mark.requirement("LOAD-ERRORS", effect="load")
def test_errors(workload):
    pass
'''


def test_sigterm_while_a_load_fixture_sets_up_stops_its_children_and_cleans_up(tmp_path):
    (tmp_path / "test_setup.py").write_text(SETUP)
    argv = [sys.executable, "-m", "pytest", "-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile=aws",
            "--report-dir=out", "--rootdir", str(tmp_path), "test_setup.py"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(tmp_path / "child")
    child = int((tmp_path / "child").read_text())
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    report = json.loads((tmp_path / "out" / "latest" / "conformance.json").read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["LOAD-LATENCY"]["outcome"] == "error"
    assert by_id["LOAD-LATENCY"]["message"] == "interrupted (SIGTERM)"
    assert "stopped (SIGTERM) before a check of this requirement started" in by_id["LOAD-ERRORS"]["message"]
    assert list(tmp_path.glob("object-*")) == []
    assert not Path(f"/proc/{child}").exists()


def test_a_child_started_with_popen_tied_dies_when_the_run_is_killed(tmp_path):
    (tmp_path / "test_setup.py").write_text(SETUP)
    argv = [sys.executable, "-m", "pytest", "-p", "readiness.plugin", "-p", "no:cacheprovider", "--profile=aws",
            "--report-dir=out", "--rootdir", str(tmp_path), "test_setup.py"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(tmp_path / "child")
    child = int((tmp_path / "child").read_text())
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists(), "the child outlived the SIGKILLed run"
