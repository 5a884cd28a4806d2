"""SMTP with STARTTLS and AUTH (aiosmtpd, ``smtp_server``) delivering into a Maildir, and an IMAP
server (Debian ``dovecot-imapd``, implicit TLS) on the same Maildir, so a sent message is read back
through a real protocol.

The test user is ``readiness@<domain>`` with a generated password (one secret for SMTP and IMAP).
Scenarios, read by the SMTP server for every new connection: ``smtp-no-starttls`` (STARTTLS not
offered; AUTH then allowed without TLS), ``smtp-bad-auth`` (the right credentials are refused: 535) and
``smtp-blackhole`` (messages are accepted with 250 and then dropped: the mailbox never receives them).
Without dovecot installed, SMTP still runs and the Maildir path (READINESS_SMTP_MAILDIR) is the
read-back fallback.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from readiness.sandbox.base import Component, ComponentStatus, port_is_open, wait_until
from readiness.sandbox.services.common import (
    IMAP_HOST,
    LOOPBACK,
    MAIL_DOMAIN,
    SMTP_HOST,
    cert_paths,
    system_dir,
)

USER = f"readiness@{MAIL_DOMAIN}"
MAIL_OWNER = "mail"
DOVECOT = Path("/usr/sbin/dovecot")


class SmtpComponent(Component):
    name = "smtp"
    after = ("pki",)
    scenarios = {
        "smtp-no-starttls": "the SMTP server does not offer STARTTLS",
        "smtp-bad-auth": "the SMTP server refuses the right credentials (535)",
        "smtp-blackhole": "the SMTP server accepts messages (250) and drops them: the mailbox never receives",
    }

    @property
    def port(self) -> int:
        return self.ctx.port("smtp")

    @property
    def imap_port(self) -> int:
        return self.ctx.port("imaps")

    @property
    def dir(self) -> Path:
        if not hasattr(self, "_dir"):
            self._dir = system_dir(self.ctx, "smtp", [MAIL_OWNER, "dovecot", "dovenull"])
        return self._dir

    @property
    def maildir(self) -> Path:
        return self.dir / "Maildir"

    def _known_maildir(self) -> Path:
        """Where the Maildir is, without creating anything (for `env`)."""
        local = self.ctx.root / "data" / "smtp"
        location = local / "LOCATION"
        base = Path(location.read_text().strip()) if location.exists() else local
        return base / "Maildir"

    def password(self) -> str:
        return self.ctx.secret("smtp")

    def _imap_available(self) -> bool:
        return DOVECOT.exists()

    # -- files -------------------------------------------------------------------------------------
    def _mode(self) -> dict[str, bool]:
        active = self.ctx.active_scenarios()
        return {
            "starttls": "smtp-no-starttls" not in active,
            "accept_auth": "smtp-bad-auth" not in active,
            "deliver": "smtp-blackhole" not in active,
        }

    def _write_mode(self) -> None:
        path = self.dir / "mode.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._mode()))
        tmp.replace(path)

    def _prepare_maildir(self) -> None:
        self.password()
        self.dir.chmod(0o755)
        for sub in ("", "new", "cur", "tmp"):
            path = self.maildir / sub
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o770)
            shutil.chown(path, MAIL_OWNER, MAIL_OWNER)

    def _smtp_config(self) -> Path:
        _, chain, key = cert_paths(self.ctx, "services")
        config = {
            "port": self.port,
            "hostname": SMTP_HOST,
            "cert": str(chain),
            "key": str(key),
            "user": USER,
            "password_file": str(self.ctx.secret_path("smtp")),
            "maildir": str(self.maildir),
            "mode_file": str(self.dir / "mode.json"),
            "maildir_owner": MAIL_OWNER,
        }
        path = self.dir / "smtp.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _dovecot_config(self) -> Path:
        _, chain, key = cert_paths(self.ctx, "services")
        run_dir = self.dir / "dovecot-run"
        run_dir.mkdir(exist_ok=True)
        run_dir.chmod(0o755)
        home = self.dir / "home"
        home.mkdir(exist_ok=True)
        shutil.chown(home, MAIL_OWNER, MAIL_OWNER)
        # dovecot reads the key as root at start; keep private copies next to its config
        key_copy = self.dir / "imap.key"
        shutil.copy(key, key_copy)
        key_copy.chmod(0o600)
        passwd = self.dir / "imap.passwd"
        passwd.write_text(f"{USER}:{{PLAIN}}{self.password()}::::::\n")
        passwd.chmod(0o600)
        shutil.chown(passwd, "dovecot", "dovecot")  # dovecot's auth worker reads it
        conf = self.dir / "dovecot.conf"
        conf.write_text(
            f"""# written by the prefect-readiness sandbox
instance_name = readiness-sandbox-{self.imap_port}
base_dir = {run_dir}
protocols = imap
listen = {LOOPBACK}
log_path = /dev/stderr
ssl = required
ssl_cert = <{chain}
ssl_key = <{key_copy}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:{self.maildir}
first_valid_uid = 1
mail_uid = {MAIL_OWNER}
mail_gid = {MAIL_OWNER}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={MAIL_OWNER} gid={MAIL_OWNER} home={home}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.imap_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""
        )
        return conf

    # -- lifecycle ---------------------------------------------------------------------------------
    def up(self) -> None:
        self._prepare_maildir()
        self._write_mode()
        if not (self.ctx.is_running("smtp") and port_is_open(self.port)):
            self.ctx.stop("smtp")
            self.ctx.spawn(
                "smtp", [sys.executable, "-m", "readiness.sandbox.services.smtp_server", self._smtp_config()]
            )
        if self._imap_available() and not (self.ctx.is_running("imap") and port_is_open(self.imap_port)):
            self.ctx.stop("imap")
            self.ctx.spawn("imap", [DOVECOT, "-F", "-c", self._dovecot_config()])
        wait_until(lambda: port_is_open(self.port), 20, "SMTP server", self.ctx.log_path("smtp"))
        if self._imap_available():
            wait_until(lambda: port_is_open(self.imap_port), 20, "IMAP server (dovecot)", self.ctx.log_path("imap"))

    def down(self) -> None:
        for name in ("imap", "smtp"):
            self.ctx.stop(name)

    def status(self) -> ComponentStatus:
        procs = [self.ctx.process_status("smtp")]
        healthy = self.ctx.is_running("smtp") and port_is_open(self.port)
        detail = f"SMTP {LOOPBACK}:{self.port}"
        if self._imap_available():
            procs.append(self.ctx.process_status("imap"))
            healthy = healthy and self.ctx.is_running("imap") and port_is_open(self.imap_port)
            detail += f", IMAPS {LOOPBACK}:{self.imap_port}"
        else:
            detail += f", no IMAP (dovecot missing): read {self._known_maildir()}"
        return ComponentStatus(self.name, healthy, detail, procs)

    def env(self) -> dict[str, str]:
        out = {
            "READINESS_SMTP_HOST": SMTP_HOST,
            "READINESS_SMTP_ADDRESS": LOOPBACK,
            "READINESS_SMTP_PORT": str(self.port),
            "READINESS_SMTP_USER": USER,
            "READINESS_SMTP_PASSWORD_FILE": str(self.ctx.secret_path("smtp")),
            "READINESS_SMTP_FROM": f"prefect@{MAIL_DOMAIN}",
            "READINESS_SMTP_TO": USER,
            "READINESS_SMTP_MAILDIR": str(self._known_maildir()),
        }
        if self._imap_available():
            out.update(
                {
                    "READINESS_IMAP_HOST": IMAP_HOST,
                    "READINESS_IMAP_ADDRESS": LOOPBACK,
                    "READINESS_IMAP_PORT": str(self.imap_port),
                    "READINESS_IMAP_USER": USER,
                    "READINESS_IMAP_PASSWORD_FILE": str(self.ctx.secret_path("smtp")),
                }
            )
        return out

    def targets(self) -> dict[str, object]:
        password = str(self.ctx.secret_path("smtp"))
        out: dict[str, object] = {
            "smtp": {
                "host": SMTP_HOST,
                "address": LOOPBACK,
                "port": self.port,
                "username": USER,
                "password_file": password,
                "sender": f"prefect@{MAIL_DOMAIN}",
                "recipient": USER,
            }
        }
        if self._imap_available():
            out["imap"] = {
                "host": IMAP_HOST,
                "address": LOOPBACK,
                "port": self.imap_port,
                "username": USER,
                "password_file": password,
            }
        return out

    # -- scenarios ---------------------------------------------------------------------------------
    def reconfigure(self) -> None:
        self._write_mode()
