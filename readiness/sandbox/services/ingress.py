"""The TLS ingress: Debian nginx in front of Prefect for the ``api.`` and ``app.`` names.

It serves the full chain (leaf + intermediate) from the sandbox PKI, TLS 1.2+ only, an HSTS header,
and redirects its plain-HTTP port to HTTPS. Its own config, pid file and temp folders live in the
state folder; scenarios rewrite the config and reload nginx in place (``nginx -s reload``):
``tls-expired``, ``tls-no-intermediate``, ``tls-wrong-host``, ``tls-weak`` (TLS 1.0/1.1 on),
``tls-weak-key`` (RSA 1024 leaf), ``tls-expiring-soon`` (a leaf with days left), ``no-hsts``,
``ingress-no-websocket`` and ``ingress-idle-timeout``.

The HTTPS port is the default server, so ``https://127.0.0.1:<port>`` reaches the API too (the leaf
names 127.0.0.1 and localhost as well); the ``api.``/``app.`` names resolve through the sandbox DNS.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from readiness.sandbox.base import Component, ComponentStatus, SandboxError, port_is_open, wait_until
from readiness.sandbox.services.common import API_HOST, APP_HOST, LOOPBACK, ca_bundle, cert_paths, system_dir

HSTS = "max-age=31536000; includeSubDomains"
MODERN_PROTOCOLS = "TLSv1.2 TLSv1.3"
WORKER_USER = "www-data"
WEAK_PROTOCOLS = "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"
IDLE_TIMEOUT_S = 3  # ingress-idle-timeout; the sandbox profile's websocket idle gap is longer
#: sandbox state key: the idle timeout ingress-idle-timeout applies, when a test sets a longer one than
#: IDLE_TIMEOUT_S (on a busy machine the round trip before the idle gap may itself take that long)
IDLE_TIMEOUT_KEY = "ingress_idle_timeout_s"


class IngressComponent(Component):
    name = "ingress"
    after = ("pki", "prefect")
    scenarios = {
        "tls-expired": "the ingress serves an expired leaf certificate",
        "tls-no-intermediate": "the ingress serves the leaf without the intermediate CA",
        "tls-wrong-host": "the ingress certificate names other hosts, not api./app.",
        "tls-weak": "TLS 1.0 and 1.1 are accepted besides 1.2/1.3",
        "tls-weak-key": "the leaf certificate has a 1024-bit RSA key",
        "no-hsts": "no Strict-Transport-Security header",
        "ingress-no-websocket": "the ingress drops the Upgrade/Connection headers (websocket handshakes fail)",
        "ingress-idle-timeout": f"the ingress closes proxied connections idle for {IDLE_TIMEOUT_S} s",
        "tls-expiring-soon": "the ingress serves a leaf that expires in 10 days (inside the renewal headroom)",
    }

    @property
    def https_port(self) -> int:
        return self.ctx.port("ingress-https")

    @property
    def http_port(self) -> int:
        return self.ctx.port("ingress-http")

    @property
    def dir(self) -> Path:
        return self.ctx.data_dir("ingress")

    def _tmp(self) -> Path:
        """Where nginx workers (www-data) buffer large request bodies: must be theirs."""
        if not hasattr(self, "_tmp_dir"):
            self._tmp_dir = system_dir(self.ctx, "ingress-tmp", [WORKER_USER])
            shutil.chown(self._tmp_dir, WORKER_USER, WORKER_USER)
        return self._tmp_dir

    @property
    def conf(self) -> Path:
        return self.dir / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.dir / "nginx.pid"

    def prepare(self) -> None:
        if not shutil.which("nginx"):
            raise SandboxError("nginx not found; install Debian nginx (apt-get install nginx)")

    def _upstream(self) -> int:
        port = self.ctx.get("prefect_upstream_port")
        return int(port) if port else self.ctx.port("prefect")  # type: ignore[arg-type]

    def _render(self) -> str:
        active = set(self.ctx.active_scenarios())
        leaf = "ingress"
        if "tls-expired" in active:
            leaf = "ingress-expired"
        elif "tls-wrong-host" in active:
            leaf = "ingress-wronghost"
        elif "tls-weak-key" in active:
            leaf = "ingress-weakkey"
        elif "tls-expiring-soon" in active:
            leaf = "ingress-expiring"
        cert, chain, key = cert_paths(self.ctx, leaf)
        served = cert if "tls-no-intermediate" in active else chain
        protocols = WEAK_PROTOCOLS if "tls-weak" in active else MODERN_PROTOCOLS
        if "tls-weak" in active:
            ciphers = "DEFAULT:@SECLEVEL=0"
        elif "tls-weak-key" in active:
            ciphers = "DEFAULT:@SECLEVEL=1"  # OpenSSL's default level 2 refuses to load an RSA-1024 key
        else:
            ciphers = "HIGH:!aNULL:!MD5:!RC4:!3DES"
        hsts = "" if "no-hsts" in active else f'add_header Strict-Transport-Security "{HSTS}" always;'
        tmp = self._tmp()
        tls = f"""
        ssl_certificate {served};
        ssl_certificate_key {key};
        ssl_protocols {protocols};
        ssl_ciphers {ciphers};
        ssl_prefer_server_ciphers on;
        ssl_session_cache shared:sandbox:1m;
        {hsts}"""
        # Plain requests reuse upstream connections (Connection ""); the websocket routes get a fresh
        # upstream connection each, with Upgrade/Connection passed on (ingress-no-websocket drops them).
        # Sharing the keepalive pool with upgrades left about one handshake in 20 unanswered.
        upgrade = (
            'proxy_set_header Upgrade "";\n            proxy_set_header Connection "";'
            if "ingress-no-websocket" in active
            else "proxy_set_header Upgrade $http_upgrade;\n            proxy_set_header Connection $connection_upgrade;"
        )
        idle_timeout = int(self.ctx.get(IDLE_TIMEOUT_KEY, IDLE_TIMEOUT_S))  # type: ignore[call-overload]
        idle = f"{idle_timeout}s" if "ingress-idle-timeout" in active else "3600s"
        common = f"""
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_read_timeout {idle};
            proxy_send_timeout {idle};
            proxy_buffering off;"""
        locations = f"""
        location / {{
            proxy_pass http://prefect;{common}
            proxy_set_header Connection "";
        }}
        location /api/events/ {{
            proxy_pass http://prefect_websocket;{common}
            {upgrade}
        }}"""
        label = ", ".join(sorted(active)) or "none"
        return f"""# written by the prefect-readiness sandbox; scenarios: {label}
daemon off;
master_process on;
user {WORKER_USER};
worker_processes 1;
pid {self.pid_file};
error_log {self.ctx.log_path("ingress-error")} notice;
events {{ worker_connections 1024; }}
http {{
    access_log {self.ctx.log_path("ingress-access")};
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server_tokens off;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream prefect {{ server {LOOPBACK}:{self._upstream()}; keepalive 32; }}
    upstream prefect_websocket {{ server {LOOPBACK}:{self._upstream()}; }}

    server {{
        listen {LOOPBACK}:{self.http_port} default_server;
        server_name _;
        location / {{ return 301 https://$host:{self.https_port}$request_uri; }}
    }}
    server {{
        listen {LOOPBACK}:{self.https_port} ssl http2 default_server;
        server_name {API_HOST} localhost {LOOPBACK};{tls}{locations}
    }}
    server {{
        listen {LOOPBACK}:{self.https_port} ssl http2;
        server_name {APP_HOST};{tls}{locations}
    }}
}}
"""

    def _write(self) -> None:
        self.conf.write_text(self._render())
        proc = subprocess.run(["nginx", "-t", "-q", "-c", str(self.conf)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SandboxError(f"nginx rejected {self.conf}: {proc.stderr.strip()[-600:]}")

    def running(self) -> bool:
        return self.ctx.is_running("ingress")

    def _serving(self) -> bool:
        return port_is_open(self.https_port) and port_is_open(self.http_port)

    def reconfigure(self) -> None:
        """Write the config for the active scenarios and reload nginx in place."""
        self._write()
        pid = self.ctx.pid("ingress")
        if pid is None or not self.running():
            raise SandboxError("ingress is not running")
        before = self._worker_pids(pid)
        proc = subprocess.run(
            ["nginx", "-c", str(self.conf), "-s", "reload"], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            import os

            os.kill(pid, signal.SIGHUP)
        # reloaded when the old workers are gone and a new one serves
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = self._worker_pids(pid)
            if now and not (now & before):
                break
            time.sleep(0.05)

    @staticmethod
    def _worker_pids(master: int) -> set[int]:
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            return set()
        return {int(c) for c in children}

    def up(self) -> None:
        self._write()
        if self.running() and self._serving():
            self.reconfigure()
            return
        self.ctx.stop("ingress")
        self.ctx.spawn("ingress", ["nginx", "-c", self.conf])
        wait_until(self._serving, 15, "nginx ingress", self.ctx.log_path("ingress"))

    def down(self) -> None:
        self.ctx.stop("ingress")

    def status(self) -> ComponentStatus:
        healthy = self.running() and self._serving()
        return ComponentStatus(
            self.name,
            healthy,
            f"https://{API_HOST}:{self.https_port} (and app.), http redirect on {self.http_port}",
            [self.ctx.process_status("ingress")],
        )

    def targets(self) -> dict[str, object]:
        # The Prefect client goes to the ingress by address (the leaf names 127.0.0.1 too); the public
        # names resolve through the sandbox DNS, so TLS and DNS checks connect to edge.address.
        return {
            "prefect": {
                "api_url": f"https://{LOOPBACK}:{self.https_port}/api",
                "ui_url": f"https://{APP_HOST}:{self.https_port}/",
            },
            "edge": {
                "api_host": API_HOST,
                "ui_host": APP_HOST,
                "port": self.https_port,
                "http_port": self.http_port,
                "address": LOOPBACK,
                "lb_address": LOOPBACK,
            },
        }

    def env(self) -> dict[str, str]:
        api = f"https://{API_HOST}:{self.https_port}/api"
        return {
            # what the Prefect client and the suite use: the ingress by address (the leaf names 127.0.0.1)
            "PREFECT_API_URL": f"https://{LOOPBACK}:{self.https_port}/api",
            "PREFECT_API_SSL_CERT_FILE": str(ca_bundle(self.ctx)),
            # the same API by name, resolvable through the sandbox DNS (READINESS_DNS_SERVER)
            "READINESS_API_URL": api,
            "READINESS_UI_URL": f"https://{APP_HOST}:{self.https_port}/",
            "READINESS_API_HOST": API_HOST,
            "READINESS_APP_HOST": APP_HOST,
            "READINESS_INGRESS_ADDRESS": LOOPBACK,
            "READINESS_INGRESS_HTTPS_PORT": str(self.https_port),
            "READINESS_INGRESS_HTTP_PORT": str(self.http_port),
        }
