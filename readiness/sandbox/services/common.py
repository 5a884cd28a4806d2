"""Names and helpers shared by the service components."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from readiness.sandbox.base import SandboxContext, SandboxError

DOMAIN = "prefect.sandbox.test"
API_HOST = f"api.{DOMAIN}"
APP_HOST = f"app.{DOMAIN}"
SSO_HOST = f"sso.{DOMAIN}"
POSTGRES_HOST = f"postgres.{DOMAIN}"
REDIS_HOST = f"redis.{DOMAIN}"
SMTP_HOST = f"smtp.{DOMAIN}"
IMAP_HOST = f"imap.{DOMAIN}"
MAIL_DOMAIN = DOMAIN
#: the CAA "issue" value that names the sandbox CA (an issuer domain, as real CAs use)
CA_IDENTIFIER = f"ca.{DOMAIN}"
LOOPBACK = "127.0.0.1"
#: the Prefect API's basic-auth user, and the work pool the sandbox's worker polls (the Kubernetes layouts name it)
PREFECT_API_USER = "admin"
PREFECT_WORK_POOL = "sandbox-process"


def prefect_auth_string(ctx: SandboxContext) -> str:
    """`user:password` of the Prefect API (PREFECT_SERVER_API_AUTH_STRING), made once per sandbox."""
    return f"{PREFECT_API_USER}:{ctx.secret('prefect-api-password')}"


def pki_dir(ctx: SandboxContext) -> Path:
    return ctx.root / "pki"


def ca_bundle(ctx: SandboxContext) -> Path:
    """The root CA certificate: the only thing a sandbox client trusts."""
    return pki_dir(ctx) / "root-ca.pem"


def cert_paths(ctx: SandboxContext, name: str) -> tuple[Path, Path, Path]:
    """(leaf certificate, full chain leaf+intermediate, private key) of leaf `name`."""
    base = pki_dir(ctx)
    return base / f"{name}.pem", base / f"{name}-fullchain.pem", base / f"{name}.key"


def require_binary(path: str | os.PathLike[str], hint: str) -> Path:
    found = shutil.which(os.fspath(path))
    if not found:
        raise SandboxError(f"{path} not found; {hint}")
    return Path(found)


def run(argv: Sequence[str | os.PathLike[str]], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a short command; raise SandboxError with its output when it fails."""
    proc = subprocess.run(
        [os.fspath(a) for a in argv],
        capture_output=True,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )
    if proc.returncode != 0:
        raise SandboxError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc


def chown_tree(path: Path, user: str) -> None:
    shutil.chown(path, user, user)
    for p in path.rglob("*"):
        shutil.chown(p, user, user)


def traversable(path: Path, user: str) -> bool:
    proc = subprocess.run(["runuser", "-u", user, "--", "test", "-x", os.fspath(path)], capture_output=True)
    return proc.returncode == 0


def system_dir(ctx: SandboxContext, name: str, users: Sequence[str]) -> Path:
    """A data folder that the system `users` (postgres, mail, ...) can reach.

    It is ``<state>/data/<name>`` when they can traverse the state folder; otherwise (a state folder
    under a 0700 home, say) a folder under /var/tmp named after the state folder, recorded in
    ``<state>/data/<name>/LOCATION`` so a person finds it.
    """
    path = ctx.data_dir(name)
    path.chmod(0o755)
    if all(traversable(path, user) for user in users):
        return path
    digest = hashlib.sha256(os.fspath(ctx.root).encode()).hexdigest()[:12]
    outside = Path("/var/tmp") / f"readiness-sandbox-{digest}"
    outside.mkdir(mode=0o755, exist_ok=True)
    outside.chmod(0o755)
    target = outside / name
    target.mkdir(mode=0o755, exist_ok=True)
    (path / "LOCATION").write_text(f"{target}\n")
    for user in users:
        if not traversable(target, user):
            raise SandboxError(f"the {user} system user cannot reach {target}")
    return target


def check_traversable(path: Path, user: str) -> None:
    """Fail clearly when system user `user` cannot reach `path` (e.g. under a 0700 home folder)."""
    proc = subprocess.run(["runuser", "-u", user, "--", "test", "-x", os.fspath(path)], capture_output=True)
    if proc.returncode != 0:
        raise SandboxError(
            f"the {user} system user cannot reach {path}; put the sandbox state folder somewhere every "
            "user can traverse (READINESS_SANDBOX_DIR), e.g. under /tmp or the work tree"
        )
