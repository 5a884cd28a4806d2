"""Child processes that die with the run: own process group, and a parent-death signal (Linux prctl).

A CD system stops a job with SIGTERM, then SIGKILL. Whatever the run started (the pytest child of
`readiness sandbox check`, the sandbox's servers during `check`, Locust master and workers, probe servers)
must not outlive it: each child gets its own process group (so the run can stop the whole group, and a
signal meant for the run is not delivered to it twice) and PR_SET_PDEATHSIG (so the kernel signals it
when the run dies, even by SIGKILL).

Limits, by design of the kernel: the parent-death signal fires when the *thread* that started the child
ends (start children from the main thread), is not inherited by the child's own children (a server that
forks workers must stop them when it is signalled: nginx, PostgreSQL and stunnel do), and is cleared when
the child executes a set-user-ID binary.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` that asks the kernel to send `sig` to the child when its parent dies."""
    parent = os.getpid()

    def _in_child() -> None:
        _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os.kill(os.getpid(), sig)

    return _in_child


def popen_tied(argv: Sequence[str], *, death_signal: int = signal.SIGTERM, **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen` in a new session (own process group) that gets `death_signal` if we die."""
    return subprocess.Popen(list(argv), start_new_session=True, preexec_fn=die_with_parent(death_signal), **kwargs)


def stop_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> int | None:
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds; returns the exit status."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()
