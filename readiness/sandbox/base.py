"""The sandbox framework: a state folder, managed processes and pluggable components.

A component (Kubernetes, PostgreSQL, Redis, ...) is a subclass of :class:`Component` registered in
``readiness.sandbox.registry``. The framework gives it a :class:`SandboxContext` with the state folder,
stable loopback ports, generated secrets and a process supervisor whose processes outlive the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _secrets
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from readiness.core.cache import CACHE_ROOT  # noqa: F401  (the sandbox's components import it from here)
from readiness.core.process import die_with_parent


class SandboxError(RuntimeError):
    """A sandbox step failed; the message says what and where the log is."""


@dataclass
class ProcessStatus:
    name: str
    pid: int | None
    running: bool
    log: Path


@dataclass
class ComponentStatus:
    name: str
    healthy: bool
    detail: str = ""
    processes: list[ProcessStatus] = field(default_factory=list)


def default_state_dir() -> Path:
    return Path(os.environ.get("READINESS_SANDBOX_DIR", Path.cwd() / ".sandbox")).resolve()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): read its state.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the PID it
    names one process, across PID reuse; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (the command) is in parentheses and may hold spaces: count from after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    hint = f" (see {log})" if log else ""
    raise SandboxError(f"{what} not ready after {timeout:.0f} s{hint}")


class SandboxContext:
    """State shared by every component: one folder, persisted ports and secrets, managed processes."""

    def __init__(self, state_dir: Path | None = None, tied: bool = False) -> None:
        #: processes started from now on die with this process (PR_SET_PDEATHSIG): set by `sandbox check`
        #: and test sessions, whose sandbox must not outlive them; `sandbox up` leaves it off on purpose
        self.tied = tied
        self.root = (state_dir or default_state_dir()).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("logs", "run", "secrets", "data"):
            (self.root / sub).mkdir(exist_ok=True)
        (self.root / "secrets").chmod(0o700)
        self._state_file = self.root / "state.json"

    # -- persisted state -------------------------------------------------------------------------
    def _load(self) -> dict:
        if self._state_file.exists():
            return json.loads(self._state_file.read_text())
        return {}

    def _save(self, state: dict) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self._state_file)

    def get(self, key: str, default: object = None) -> object:
        return self._load().get(key, default)

    def set(self, key: str, value: object) -> None:
        state = self._load()
        state[key] = value
        self._save(state)

    def active_scenarios(self) -> list[str]:
        return list(self.get("scenarios", []))  # type: ignore[arg-type]

    def port(self, name: str) -> int:
        """A loopback port for `name`, chosen once and kept for the life of the state folder."""
        ports: dict[str, int] = dict(self.get("ports", {}))  # type: ignore[arg-type]
        if name not in ports:
            taken = set(ports.values())
            while True:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    candidate = s.getsockname()[1]
                if candidate not in taken:
                    break
            ports[name] = candidate
            self.set("ports", ports)
        return ports[name]

    def secret(self, name: str, nbytes: int = 18) -> str:
        """A generated secret kept in secrets/<name> (mode 0600), made once per sandbox."""
        path = self.secret_path(name)
        if not path.exists():
            path.write_text(_secrets.token_urlsafe(nbytes))
            path.chmod(0o600)
        return path.read_text().strip()

    def secret_path(self, name: str) -> Path:
        return self.root / "secrets" / name

    def data_dir(self, name: str) -> Path:
        path = self.root / "data" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # -- processes -------------------------------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def _recorded(self, name: str) -> tuple[int, str | None] | None:
        """(pid, start time) from run/<name>.pid; the start time is None in files written before it was kept."""
        path = self._pid_file(name)
        try:
            fields = path.read_text().split()
            return int(fields[0]), (fields[1] if len(fields) > 1 else None)
        except (OSError, ValueError, IndexError):
            return None

    def pid(self, name: str) -> int | None:
        recorded = self._recorded(name)
        return recorded[0] if recorded else None

    def is_running(self, name: str) -> bool:
        """Is the process this sandbox started as `name` still running? A PID alone is not enough: after a
        reboot or PID reuse it can name an unrelated process, so its start time must match too."""
        recorded = self._recorded(name)
        if recorded is None:
            return False
        pid, started = recorded
        if not _pid_alive(pid):
            return False
        return started is None or process_start_time(pid) == started

    def spawn(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        """Start `argv` detached (own session), output to logs/<name>.log; no-op if already running."""
        if self.is_running(name):
            return self.pid(name)  # type: ignore[return-value]
        log = self.log_path(name)
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        with open(log, "ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start {name}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                [os.fspath(a) for a in argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
                user=user,
                preexec_fn=die_with_parent(signal.SIGTERM) if self.tied else None,
            )
        self._pid_file(name).write_text(f"{proc.pid} {process_start_time(proc.pid) or ''}".strip())
        return proc.pid

    def stop(self, name: str, timeout: float = 10.0) -> None:
        """Stop process `name` and its process group: SIGTERM, then SIGKILL after `timeout`. Only a process
        this sandbox started (same PID and start time) is signalled; a stale PID file is just removed."""
        pid = self.pid(name)
        if pid is not None and self.is_running(name):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                while _pid_alive(pid) and time.monotonic() < deadline + 5:
                    time.sleep(0.05)
            # Reap if it was our child (only when the CLI process started it in this run).
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        self._pid_file(name).unlink(missing_ok=True)

    def managed(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "run").glob("*.pid"))

    def process_status(self, name: str) -> ProcessStatus:
        return ProcessStatus(name, self.pid(name), self.is_running(name), self.log_path(name))


class Component(ABC):
    """One piece of the sandbox. Subclasses set `name`, `scenarios` and implement the hooks."""

    name: ClassVar[str]
    #: scenario name -> one-line description of the single thing it breaks
    scenarios: ClassVar[dict[str, str]] = {}
    #: components that must be up before this one
    after: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Build or locate binaries (slow, cached); called before `up`."""

    @abstractmethod
    def up(self) -> None:
        """Bring the conformant component up; safe to call when it is already up."""

    def finish(self) -> None:  # noqa: B027 - optional hook
        """Optional second phase, called after every component's `up`: wait for what `up` only launched.

        A component whose server takes long to become ready may launch it in `up` and wait here, so the
        components after it start meanwhile.
        """

    @abstractmethod
    def down(self) -> None:
        """Stop every process this component started."""

    @abstractmethod
    def status(self) -> ComponentStatus: ...

    def env(self) -> dict[str, str]:
        """Variables the sandbox's own tests use to reach this component."""
        return {}

    def targets(self) -> dict[str, object]:
        """This component's part of the sandbox targets file (readiness/targets/model.py's shape): where a
        suite finds it, secrets as `*_file` references."""
        return {}

    def scenario_layout(self, scenario: str) -> str | None:
        """The sandbox layout `scenario` needs (`helm`: the objects it breaks exist only there), None for any."""
        return None

    def apply(self, scenario: str) -> None:
        """Break the one thing `scenario` names, in place on the running component.

        The orchestrator has already recorded `scenario` in ctx.active_scenarios() (and drops it before
        `revert`), so configuration rendered from that list describes the target state. By default that is
        all a fault needs: `reconfigure()` renders the configuration again and reloads.
        """
        self._known(scenario)
        self.reconfigure()

    def revert(self, scenario: str) -> None:
        """Undo `apply(scenario)`, restoring the conformant state in place."""
        self._known(scenario)
        self.reconfigure()

    def reconfigure(self) -> None:
        """Render the configuration from ctx.active_scenarios() and make the running server use it."""
        raise SandboxError(f"{self.name}: its scenarios are not implemented")

    def _known(self, scenario: str) -> None:
        if scenario not in self.scenarios:
            raise SandboxError(f"{self.name}: scenario {scenario!r} is not implemented")
