"""`readiness sandbox check` stopped by a CD system: SIGTERM takes everything down in order (the running
check ends and cleans up, the report is written, the sandbox goes down); SIGKILL leaves nothing running
either, because every child it started has a parent-death signal.

The sandbox here is PKI + Redis (`--only redis`): quick to start, and the same spawn path as every
component. The check is a small write check in a temporary folder that makes a tagged object, sleeps, and
removes the object in a `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from readiness.sandbox.base import _pid_alive, port_is_open

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

if not shutil.which("stunnel4") and not os.environ.get("CI"):
    pytestmark.append(pytest.mark.skip(reason="stunnel4 missing (tools/bootstrap.sh)"))

PROBE = """
import pathlib, time
import pytest

OUT = pathlib.Path(__file__).parent

@pytest.mark.requirement("SMTP-DELIVERY", effect="write")
def test_sigterm_probe(run_id):
    made = OUT / f"object-{run_id}"
    made.write_text("tagged with the run id")
    try:
        (OUT / "started").write_text(run_id)
        time.sleep(120)
    finally:
        made.unlink()
"""


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    (probe_dir / "test_probe.py").write_text(PROBE)
    state = tmp_path / "sandbox"
    probe = str(probe_dir / "test_probe.py")
    argv = [sys.executable, "-m", "readiness", "sandbox", "--state-dir", str(state), "--only", "redis", "check",
            "--report-dir", str(tmp_path / "reports"), "--", probe, "-k", "sigterm_probe"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 180
    while not (probe_dir / "started").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the check never started (exit {proc.poll()}):\n{proc.communicate()[0][-3000:]}")
        time.sleep(0.1)
    return proc, state, probe_dir


def _sandbox_processes(state: Path) -> tuple[dict[str, int], dict[str, int]]:
    pids = {p.stem: int(p.read_text().split()[0]) for p in (state / "run").glob("*.pid")}
    ports = json.loads((state / "state.json").read_text())["ports"]
    return pids, ports


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _gone(pids: dict[str, int], ports: dict[str, int], timeout: float = 30) -> tuple[list[str], list[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [f"{name} (pid {pid})" for name, pid in pids.items() if _pid_alive(pid)]
        listening = [f"{name} port {port}" for name, port in ports.items() if port_is_open(port)]
        if not alive and not listening:
            break
        time.sleep(0.2)
    return alive, listening


def test_sigterm_to_sandbox_check_cleans_up_reports_and_takes_the_sandbox_down(tmp_path):
    proc, state, probe_dir = _start(tmp_path)
    pids, ports = _sandbox_processes(state)
    assert {"redis", "redis-tls"} <= set(pids)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert "stopping the checks and taking the sandbox down" in output and "sandbox down" in output
    alive, listening = _gone(pids, ports, timeout=5)
    assert alive == [] and listening == [], output[-3000:]
    report = json.loads((tmp_path / "reports" / "latest" / "conformance.json").read_text())
    assert report["run"]["interrupted"] is True and report["run"]["interrupted_by"] == "SIGTERM"
    assert {r["id"]: r for r in report["results"]}["SMTP-DELIVERY"]["message"] == "interrupted (SIGTERM)"
    assert list(probe_dir.glob("object-*")) == []


def test_sigkill_to_sandbox_check_leaves_no_child_running(tmp_path):
    proc, state, probe_dir = _start(tmp_path)
    pids, ports = _sandbox_processes(state)
    (pytest_run,) = [pid for pid in _children(proc.pid) if pid not in pids.values()]
    pids["pytest run"] = pytest_run
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    alive, listening = _gone(pids, ports)
    assert alive == [] and listening == []
    # the pytest run got SIGTERM from the kernel when its parent died: it stopped in order
    report = json.loads((tmp_path / "reports" / "latest" / "conformance.json").read_text())
    assert report["run"]["interrupted_by"] == "SIGTERM"
    assert list(probe_dir.glob("object-*")) == []


SESSION = """
import os, pathlib, time
import pytest
from readiness.sandbox import Sandbox, SandboxContext

@pytest.fixture(scope="session")
def sandbox():
    sandbox = Sandbox(SandboxContext(pathlib.Path(os.environ["STATE"]), tied=True), only=["redis"])
    try:
        sandbox.up(progress=False)
        yield sandbox
    finally:
        sandbox.down()

def test_uses_the_sandbox(sandbox):
    (pathlib.Path(__file__).parent / "started").write_text("up")
    time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_self_test_session_takes_its_sandbox_down_on_a_stop_signal(tmp_path, sig):
    """tests/conftest.py turns SIGTERM and SIGHUP into Ctrl-C: session fixtures (the sandboxes) are torn down."""
    (tmp_path / "test_session.py").write_text(SESSION)
    state = tmp_path / "sandbox"
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "--rootdir",
            str(tmp_path), str(tmp_path / "test_session.py")]  # fmt: skip
    env = {**os.environ, "STATE": str(state)}
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.1)
    pids, ports = _sandbox_processes(state)
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    alive, listening = _gone(pids, ports, timeout=5)
    assert alive == [] and listening == []
    assert list((state / "run").glob("*.pid")) == []  # taken down by the fixture, not just killed


def test_sigterm_during_sandbox_up_takes_down_what_was_started(tmp_path):
    state = tmp_path / "sandbox"
    argv = [sys.executable, "-m", "readiness", "sandbox", "--state-dir", str(state), "--only", "prefect", "up"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 180
    while not (state / "run").is_dir() or not any((state / "run").glob("postgres*.pid")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.1)
    pids, ports = _sandbox_processes(state)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output[-3000:]
    assert "interrupted; taking the sandbox down" in output and "sandbox down" in output
    pids.update({p.stem: int(p.read_text().split()[0]) for p in (state / "run").glob("*.pid")})
    alive, listening = _gone(pids, ports, timeout=10)
    assert alive == [] and listening == [], output[-3000:]
