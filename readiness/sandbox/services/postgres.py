"""PostgreSQL 15 (Debian) with TLS from the sandbox CA, hostssl-only TCP and a non-superuser `prefect` role.

The server runs as the `postgres` system user straight from ``postgres -D`` (so the sandbox tracks its
PID). Administration goes over the Unix socket with peer authentication (root and postgres map to the
`postgres` role). Scenarios change the running server in place:

- ``pg-no-tls``: ``ssl = off`` and plain TCP accepted (reload);
- ``pg-few-connections``: ``max_connections = 20`` (restart);
- ``pg-untested-major``: a real PostgreSQL 16 (PyPI ``pgserver``) takes the same port with a copy of the
  data. That build has no OpenSSL, so PostgreSQL 16 speaks plain TCP only (scram password still required);
- ``pg-busy``: a helper process holds idle connections until more than the profile's headroom limit of
  max_connections is in use;
- ``pg-schema-behind``: Prefect's ``alembic_version`` row is set back one migration (as if the migration
  Job of an upgrade never ran); reverted to the revision it had.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from readiness.sandbox.base import Component, ComponentStatus, SandboxError, port_is_open, wait_until
from readiness.sandbox.services.common import (
    LOOPBACK,
    POSTGRES_HOST,
    ca_bundle,
    cert_paths,
    check_traversable,
    chown_tree,
    run,
    system_dir,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
ROLE = "prefect"
DATABASE = "prefect"
MAX_CONNECTIONS = 100
FEW_CONNECTIONS = 20
#: client connections in use under pg-busy (the profile's headroom limit is 80% of max_connections);
#: the helper holds what Prefect and others leave, so Prefect's open pool keeps working
BUSY_CONNECTIONS = 85
SCHEMA_KEY = "postgres_schema_revision"

HOLDER = '''\
"""pg-busy: hold idle connections to PostgreSQL until stopped."""
import sys, time
import psycopg

socket_dir, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = [psycopg.connect(host=socket_dir, port=port, user="postgres", dbname="postgres",
                        application_name="sandbox-pg-busy") for _ in range(count)]
print(f"holding {len(held)} connections", flush=True)
while True:
    time.sleep(3600)
'''

HBA_TLS = """\
# sandbox: Unix socket for administration (peer, root and postgres map to the postgres role)
local   all   postgres                 peer map=admin
local   all   all                      reject
# TCP: TLS only, scram passwords
hostssl all   all   127.0.0.1/32       scram-sha-256
hostnossl all all   0.0.0.0/0          reject
host    all   all   ::1/128            reject
"""
HBA_PLAIN = """\
local   all   postgres                 peer map=admin
local   all   all                      reject
# pg-no-tls: plain TCP accepted
host    all   all   127.0.0.1/32       scram-sha-256
"""
IDENT = "admin root postgres\nadmin postgres postgres\n"


def _pg16_bin() -> Path:
    """pgserver's bundled PostgreSQL 16, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise SandboxError("pg-untested-major needs the PyPI package pgserver (pip install pgserver)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


class PostgresComponent(Component):
    name = "postgres"
    after = ("pki",)
    scenarios = {
        "pg-untested-major": "a real PostgreSQL 16 (not the tested major) serves the same port, without TLS",
        "pg-no-tls": "ssl = off and plain TCP connections accepted",
        "pg-few-connections": f"max_connections = {FEW_CONNECTIONS}",
        "pg-busy": f"idle connections held open until {BUSY_CONNECTIONS} of {MAX_CONNECTIONS} are in use",
        "pg-schema-behind": "Prefect's schema one migration behind its release (alembic_version set back)",
    }

    # -- paths -------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.ctx.port("postgres")

    def _dirs(self, major: int) -> tuple[Path, Path]:
        base = self._base()
        return base / f"pg{major}", base / "socket"

    def _base(self) -> Path:
        if not hasattr(self, "_base_dir"):
            self._base_dir = system_dir(self.ctx, "postgres", [PG_USER])
        return self._base_dir

    def _major(self) -> int:
        return 16 if "pg-untested-major" in self.ctx.active_scenarios() else 15

    def password(self) -> str:
        return self.ctx.secret("postgres-prefect")

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        if not (PG_BIN / "postgres").exists():
            raise SandboxError(f"{PG_BIN}/postgres not found; install Debian PostgreSQL 15: apt-get install postgresql")

    def _init_cluster(self, bin_dir: Path, data: Path, socket_dir: Path) -> None:
        base = data.parent
        base.chmod(0o755)
        shutil.chown(base, PG_USER, PG_USER)
        check_traversable(base, PG_USER)
        socket_dir.mkdir(exist_ok=True)
        shutil.chown(socket_dir, PG_USER, PG_USER)
        socket_dir.chmod(0o700)
        if not (data / "PG_VERSION").exists():
            if data.exists():
                shutil.rmtree(data)
            run(
                [
                    bin_dir / "initdb",
                    "-D",
                    data,
                    "-U",
                    PG_USER,
                    "--auth-local=peer",
                    "--auth-host=reject",
                    "-E",
                    "UTF8",
                ],
                f"initdb {data}",
                user=PG_USER,
                cwd=base,
            )
        cert, chain, key = cert_paths(self.ctx, "services")
        shutil.copy(chain, data / "server.crt")
        shutil.copy(key, data / "server.key")
        shutil.copy(ca_bundle(self.ctx), data / "root.crt")
        (data / "server.key").chmod(0o600)
        (data / "pg_hba.conf").write_text(HBA_PLAIN if self._plain() else HBA_TLS)
        (data / "pg_ident.conf").write_text(IDENT)
        chown_tree(data, PG_USER)

    def _plain(self) -> bool:
        active = self.ctx.active_scenarios()
        return "pg-no-tls" in active or "pg-untested-major" in active

    def _settings(self, major: int) -> str:
        active = self.ctx.active_scenarios()
        _, socket_dir = self._dirs(major)
        max_conn = FEW_CONNECTIONS if "pg-few-connections" in active else MAX_CONNECTIONS
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(socket_dir),
            "max_connections": str(max_conn),
            "password_encryption": "scram-sha-256",
            "shared_buffers": "64MB",
            "logging_collector": "off",
            "log_connections": "off",
            "fsync": "off",
            "synchronous_commit": "off",
        }
        if major == 15:
            settings.update(
                {
                    "ssl": "off" if "pg-no-tls" in active else "on",
                    "ssl_cert_file": "server.crt",
                    "ssl_key_file": "server.key",
                    "ssl_ca_file": "root.crt",
                    "ssl_min_protocol_version": "TLSv1.2",
                }
            )
        return "".join(f"{key} = '{value}'\n" for key, value in settings.items())

    def _write_conf(self, major: int) -> None:
        data, _ = self._dirs(major)
        (data / "postgresql.conf").write_text(
            "# written by the sandbox on every start and scenario\n" + self._settings(major)
        )
        (data / "pg_hba.conf").write_text(HBA_PLAIN if self._plain() else HBA_TLS)
        for name in ("postgresql.conf", "pg_hba.conf"):
            shutil.chown(data / name, PG_USER, PG_USER)

    def _proc_name(self, major: int) -> str:
        return "postgres" if major == 15 else "postgres16"

    def _start(self, major: int) -> None:
        bin_dir = PG_BIN if major == 15 else self._pg16_runtime_bin()
        data, socket_dir = self._dirs(major)
        self._init_cluster(bin_dir, data, socket_dir)
        self._write_conf(major)
        name = self._proc_name(major)
        self.ctx.spawn(name, [bin_dir / "postgres", "-D", data], user=PG_USER, cwd=data)
        wait_until(self._ready, 30, f"PostgreSQL {major}", self.ctx.log_path(name))
        self._bootstrap()

    def _pg16_runtime_bin(self) -> Path:
        """pgserver's binaries, copied where the postgres user can read them (not under /root).

        The layout is kept: its binaries find their libraries at $ORIGIN/../../../pgserver.libs.
        """
        install = _pg16_bin().parent
        root = self._base() / "pg16-install"
        dest = root / "pgserver" / "pginstall"
        if not (dest / "bin" / "postgres").exists():
            if root.exists():
                shutil.rmtree(root)
            shutil.copytree(install, dest, symlinks=True)
            libs = install.parent.parent / "pgserver.libs"
            if libs.exists():
                shutil.copytree(libs, root / "pgserver.libs", symlinks=True)
            subprocess.run(["chmod", "-R", "a+rX", os.fspath(root)], check=True)
        return dest / "bin"

    def _ready(self) -> bool:
        _, socket_dir = self._dirs(15)
        if not port_is_open(self.port):
            return False
        proc = subprocess.run(
            [PG_BIN / "pg_isready", "-h", socket_dir, "-p", str(self.port), "-U", PG_USER],
            capture_output=True,
        )
        return proc.returncode == 0

    def admin_sql(self, sql: str, params: tuple = (), dbname: str = "postgres") -> list[tuple]:
        """`sql` (with %s `params`) as the superuser over the local socket: how another component's fault edits
        what a server keeps in its database."""
        return self._admin(sql, dbname, params)

    def _admin(self, sql: str, dbname: str = "postgres", params: tuple = ()) -> list[tuple]:
        import psycopg

        _, socket_dir = self._dirs(15)
        with psycopg.connect(
            host=str(socket_dir),
            port=self.port,
            user=PG_USER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def _bootstrap(self) -> None:
        from psycopg import sql as psql

        password = self.password()
        if not self._admin(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'"):
            self._admin(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        self._admin(
            psql.SQL("ALTER ROLE {} PASSWORD {}").format(psql.Identifier(ROLE), psql.Literal(password)).as_string()
        )
        if not self._admin(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):
            self._admin(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def up(self) -> None:
        major = self._major()
        if self.ctx.is_running(self._proc_name(major)) and self._ready():
            return
        self._start(major)

    def down(self) -> None:
        self.ctx.stop("pg-busy")
        for major in (16, 15):
            self._stop(major)

    def status(self) -> ComponentStatus:
        major = self._major()
        name = self._proc_name(major)
        healthy = self.ctx.is_running(name) and self._ready()
        detail = f"PostgreSQL {major} on {LOOPBACK}:{self.port}"
        return ComponentStatus(self.name, healthy, detail, [self.ctx.process_status(name)])

    def env(self) -> dict[str, str]:
        ssl = "prefer" if self._plain() else "verify-full"
        return {
            "READINESS_POSTGRES_HOST": POSTGRES_HOST,
            "READINESS_POSTGRES_HOSTADDR": LOOPBACK,
            "READINESS_POSTGRES_PORT": str(self.port),
            "READINESS_POSTGRES_USER": ROLE,
            "READINESS_POSTGRES_DATABASE": DATABASE,
            "READINESS_POSTGRES_PASSWORD_FILE": str(self.ctx.secret_path("postgres-prefect")),
            "READINESS_POSTGRES_SSLMODE": ssl,
            # libpq form without the password (PGPASSFILE-style: read the password file)
            "READINESS_POSTGRES_DSN": (
                f"host={POSTGRES_HOST} hostaddr={LOOPBACK} port={self.port} user={ROLE} dbname={DATABASE} "
                f"sslmode={ssl} sslrootcert={ca_bundle(self.ctx)}"
            ),
        }

    def targets(self) -> dict[str, object]:
        return {
            "postgres": {
                "host": POSTGRES_HOST,
                "hostaddr": LOOPBACK,
                "port": self.port,
                "user": ROLE,
                "dbname": DATABASE,
                "password_file": str(self.ctx.secret_path("postgres-prefect")),
                "sslmode": "prefer" if self._plain() else "verify-full",
                "sslrootcert": str(ca_bundle(self.ctx)),
            }
        }

    def sqlalchemy_url(self) -> str:
        """The URL Prefect uses. `prefer` so the server keeps working while a scenario turns TLS off."""
        from urllib.parse import quote

        return (
            f"postgresql+asyncpg://{ROLE}:{quote(self.password(), safe='')}@{LOOPBACK}:{self.port}/{DATABASE}"
            "?ssl=prefer"
        )

    # -- scenarios ---------------------------------------------------------------------------------
    def _reload15(self) -> None:
        self._write_conf(15)
        self._admin("SELECT pg_reload_conf()")
        time.sleep(0.3)

    def _stop(self, major: int) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), not SIGTERM's wait for every session to end."""
        name = self._proc_name(major)
        pid = self.ctx.pid(name)
        if pid is not None and self.ctx.is_running(name):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGINT)
            with contextlib.suppress(SandboxError):
                wait_until(lambda: not self.ctx.is_running(name), 20, f"PostgreSQL {major} to stop")
        self.ctx.stop(name, timeout=10)

    def _restart(self, major: int) -> None:
        self._stop(major)
        wait_until(lambda: not port_is_open(self.port), 15, "PostgreSQL port to close")
        self._start(major)

    def _dump(self) -> Path:
        dump = self._base() / "prefect.dump"
        _, socket_dir = self._dirs(15)
        run(
            [
                PG_BIN / "pg_dump",
                "-h",
                socket_dir,
                "-p",
                str(self.port),
                "-U",
                PG_USER,
                "-Fc",
                "-f",
                dump,
                DATABASE,
            ],
            "pg_dump of the prefect database",
            user=PG_USER,
            cwd=dump.parent,
        )
        return dump

    def _client_backends(self) -> int:
        rows = self._admin("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        return int(rows[0][0])

    def _hold_connections(self) -> None:
        import sys

        script = self._base() / "pg_busy.py"
        script.write_text(HOLDER)
        _, socket_dir = self._dirs(self._major())
        count = max(1, BUSY_CONNECTIONS - self._client_backends())
        self.ctx.spawn("pg-busy", [sys.executable, script, socket_dir, str(self.port), str(count)])
        wait_until(
            lambda: self._client_backends() >= BUSY_CONNECTIONS, 30, "pg-busy connections", self.ctx.log_path("pg-busy")
        )

    def _set_schema_revision(self, revision: str) -> None:
        from psycopg import sql as psql

        statement = psql.SQL("UPDATE alembic_version SET version_num = {}").format(psql.Literal(revision))
        self._admin(statement.as_string(), dbname=DATABASE)

    def _schema_behind(self) -> None:
        from readiness.probes.postgres import local_migration_head

        head = local_migration_head()
        if head is None:
            raise SandboxError("pg-schema-behind needs the prefect package (its migrations name the revisions)")
        current = self._admin("SELECT version_num FROM alembic_version", dbname=DATABASE)[0][0]
        previous = head.previous(current)
        if previous is None:
            raise SandboxError(f"pg-schema-behind: revision {current} has no single previous revision")
        self.ctx.set(SCHEMA_KEY, current)
        self._set_schema_revision(previous)

    def apply(self, scenario: str) -> None:
        if scenario == "pg-busy":
            self._hold_connections()
        elif scenario == "pg-schema-behind":
            self._schema_behind()
        elif scenario == "pg-no-tls":
            self._reload15()
        elif scenario == "pg-few-connections":
            if "pg-untested-major" not in self.ctx.active_scenarios():
                self._restart(15)
            else:
                self._restart(16)
        elif scenario == "pg-untested-major":
            dump = self._dump() if self.ctx.is_running("postgres") else None
            self._stop(15)
            wait_until(lambda: not port_is_open(self.port), 15, "PostgreSQL 15 port to close")
            data16, _ = self._dirs(16)
            if data16.exists():
                shutil.rmtree(data16)  # always a fresh copy of the current data
            self._start(16)
            if dump is not None:
                _, socket_dir = self._dirs(16)
                # pgserver's build lacks some contrib extensions; restore what it can and keep the log
                proc = subprocess.run(
                    [
                        PG_BIN / "pg_restore",
                        "-h",
                        socket_dir,
                        "-p",
                        str(self.port),
                        "-U",
                        PG_USER,
                        "-d",
                        DATABASE,
                        "--no-owner",
                        "--role",
                        ROLE,
                        dump,
                    ],
                    capture_output=True,
                    text=True,
                    user=PG_USER,
                    cwd=dump.parent,
                )
                with open(self.ctx.log_path("postgres16"), "a") as log:
                    log.write(f"pg_restore exit {proc.returncode}\n{proc.stderr}\n")
        else:
            super().apply(scenario)

    def revert(self, scenario: str) -> None:
        if scenario == "pg-busy":
            self.ctx.stop("pg-busy")
        elif scenario == "pg-schema-behind":
            saved = self.ctx.get(SCHEMA_KEY)
            if isinstance(saved, str):
                self._set_schema_revision(saved)
        elif scenario == "pg-no-tls":
            if self._major() == 15:
                self._reload15()
        elif scenario == "pg-few-connections":
            self._restart(self._major())
        elif scenario == "pg-untested-major":
            self._stop(16)
            wait_until(lambda: not port_is_open(self.port), 15, "PostgreSQL 16 port to close")
            self._start(15)
            if "pg-no-tls" in self.ctx.active_scenarios():
                self._reload15()
        else:
            super().revert(scenario)
