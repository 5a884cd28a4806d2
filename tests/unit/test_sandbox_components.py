"""Component.after is honoured: the registry starts every component after the ones it needs, and
`--only NAME` brings NAME's dependencies along."""

from __future__ import annotations

import pytest

from readiness.sandbox import Sandbox, SandboxContext, SandboxError
from readiness.sandbox.registry import component_classes


def test_the_start_order_puts_every_component_after_what_it_needs():
    order = [cls.name for cls in component_classes()]
    for cls in component_classes():
        for dependency in cls.after:
            assert dependency in order, f"{cls.name} needs {dependency}, which is not registered"
            assert order.index(dependency) < order.index(cls.name), f"{cls.name} starts before {dependency}"


def test_only_prefect_starts_its_database_and_redis_and_their_pki(tmp_path):
    sandbox = Sandbox(SandboxContext(tmp_path), only=["prefect"])
    assert [c.name for c in sandbox.components] == ["pki", "postgres", "redis", "prefect"]


def test_only_a_component_without_dependencies_starts_alone(tmp_path):
    assert [c.name for c in Sandbox(SandboxContext(tmp_path), only=["pki"]).components] == ["pki"]


def test_an_unknown_component_is_refused(tmp_path):
    with pytest.raises(SandboxError, match="unknown component"):
        Sandbox(SandboxContext(tmp_path), only=["nope"])


# -- processes: only the process the sandbox started is ever signalled ----------------------------
def test_stop_signals_the_process_the_sandbox_started(tmp_path):
    import time

    from readiness.sandbox.base import _pid_alive, process_start_time

    ctx = SandboxContext(tmp_path)
    pid = ctx.spawn("sleeper", ["sleep", "60"])
    assert ctx.is_running("sleeper")
    assert (tmp_path / "run" / "sleeper.pid").read_text() == f"{pid} {process_start_time(pid)}"
    ctx.stop("sleeper", timeout=5)
    deadline = time.monotonic() + 5
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(pid) and ctx.pid("sleeper") is None


def test_a_reused_pid_is_not_the_sandboxs_process_and_is_left_alone(tmp_path):
    """After a reboot or PID reuse the PID file names someone else's process (group): down must not kill it."""
    import subprocess

    from readiness.sandbox.base import _pid_alive, process_start_time

    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        ctx = SandboxContext(tmp_path)
        started = int(process_start_time(stranger.pid))
        ctx._pid_file("postgres").write_text(f"{stranger.pid} {started - 100}")  # same PID, another process
        assert not ctx.is_running("postgres")
        ctx.stop("postgres", timeout=1)
        Sandbox(ctx, only=["pki"]).down()
        assert _pid_alive(stranger.pid) and stranger.poll() is None
        assert ctx.pid("postgres") is None  # the stale file is gone
    finally:
        stranger.kill()
        stranger.wait()
