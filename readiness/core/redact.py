"""Redaction: every output (reports, terminal, assertion messages) passes through here.

Secrets are learned from the places a user configures them: environment variables whose name says
secret (PASSWORD, TOKEN, KEY, AUTH, SECRET), files named by *_FILE variables of that kind, and
values a probe registers. Credentials embedded in URLs and HTTP auth headers are masked by pattern.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MASK = "***"
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|AUTH_STRING|CREDENTIAL|PRIVATE_KEY|_AUTH$)", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:authorization|proxy-authorization)\b['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<scheme>(?:basic|bearer|token)\s+)?[^\s'\",}]+",
    re.I,
)
_MIN_SECRET_LEN = 4


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret:
            return
        secret = secret.strip()
        if len(secret) < _MIN_SECRET_LEN:
            return
        self._secrets.add(secret)
        # "user:password" strings (PREFECT_API_AUTH_STRING): the password alone is secret too.
        if ":" in secret:
            self.add(secret.split(":", 1)[1])

    def learn_from_environment(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        for name, value in environ.items():
            if not _SECRET_NAME.search(name):
                continue
            if name.endswith("_FILE"):
                try:
                    self.add(Path(value).read_text(errors="replace"))
                except OSError:
                    continue
            else:
                self.add(value)
            # A URL variable may carry credentials too.
        for value in environ.values():
            for match in _URL_CREDENTIALS.finditer(value):
                self.add(match.group("password"))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        if not value:
            return value
        # Cheap substring tests first: most text has neither URLs with credentials nor auth headers.
        if "@" in value and "://" in value:
            value = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", value)
        if "uthorization" in value or "UTHORIZATION" in value:
            value = _AUTH_HEADER.sub(lambda m: f"{m.group('head')}{m.group('scheme') or ''}{MASK}", value)
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """Redact every string in a JSON-like structure."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


_default = Redactor()


def default_redactor() -> Redactor:
    return _default
