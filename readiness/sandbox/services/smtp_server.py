"""The sandbox SMTP server: aiosmtpd with STARTTLS and AUTH (PLAIN/LOGIN), delivering into a Maildir.

    python -m readiness.sandbox.services.smtp_server CONFIG_JSON

CONFIG_JSON holds port, hostname, cert, key, user, password_file, maildir, mode_file, maildir_owner.
The mode file (JSON: {"starttls": bool, "accept_auth": bool, "deliver": bool}) is read for every new
connection (``deliver`` for every message), so scenarios change the running server in place.
"""

from __future__ import annotations

import json
import mailbox
import os
import pwd
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class MaildirHandler:
    def __init__(self, maildir: Path, owner: str | None, deliver: Callable[[], bool] = lambda: True) -> None:
        self.maildir = maildir
        self.owner = pwd.getpwnam(owner) if owner else None
        self.deliver = deliver

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if not self.deliver():  # accepted and dropped, as a misrouted relay or a spam trap does
            return "250 Message accepted for delivery"
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        peer = session.peer[0] if session.peer else "unknown"
        received = f"Received: from {session.host_name or peer} ([{peer}]) by sandbox-smtp; {time.ctime()}\r\n"
        box = mailbox.Maildir(self.maildir, create=True)
        key = box.add(received.encode() + (content or b""))
        if self.owner is not None:
            for sub in ("new", "cur"):
                path = self.maildir / sub / key
                if path.exists():
                    os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    cfg: dict[str, Any] = json.loads(Path(args[0]).read_text())
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(cfg["cert"], cfg["key"])
    mode_file = Path(cfg["mode_file"])
    user = cfg["user"].encode()
    password = Path(cfg["password_file"]).read_text().strip().encode()

    def mode() -> dict[str, bool]:
        try:
            return json.loads(mode_file.read_text())
        except (OSError, ValueError):
            return {"starttls": True, "accept_auth": True, "deliver": True}

    handler = MaildirHandler(Path(cfg["maildir"]), cfg.get("maildir_owner"), lambda: mode().get("deliver", True))

    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = mode().get("accept_auth", True) and data.login == user and data.password == password
        return AuthResult(success=bool(ok), handled=False)

    class SandboxController(Controller):
        def factory(self) -> SMTP:
            current = mode()
            starttls = current.get("starttls", True)
            return SMTP(
                self.handler,
                hostname=cfg["hostname"],
                tls_context=tls if starttls else None,
                require_starttls=starttls,
                auth_required=True,
                auth_require_tls=starttls,
                authenticator=authenticator,
            )

    controller = SandboxController(handler, hostname="127.0.0.1", port=int(cfg["port"]))
    controller.start()
    print(f"smtp: listening on 127.0.0.1:{cfg['port']} (STARTTLS, AUTH PLAIN/LOGIN)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
