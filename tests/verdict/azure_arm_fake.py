"""A small Azure Resource Manager: GET of Microsoft.Cache/redis and Microsoft.DBforPostgreSQL/flexibleServers
resources as ARM answers them (JSON bodies, api-version query, ARM's error shape), for the azure-mgmt clients."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"(?P<provider>Microsoft\.Cache/redis|Microsoft\.DBforPostgreSQL/flexibleServers)/(?P<name>[^/?]+)$",
    re.IGNORECASE,
)


class FakeArm:
    def __init__(self, subscription: str, resource_group: str, location: str = "eastus") -> None:
        self.subscription, self.resource_group, self.location = subscription, resource_group, location
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []

    def _id(self, provider: str, name: str) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{provider}/{name}"

    def redis(self, name: str, sku: str, family: str, capacity: int, version: str = "6.0") -> None:
        self.resources[("microsoft.cache/redis", name)] = {
            "id": self._id("Microsoft.Cache/Redis", name),
            "name": name,
            "type": "Microsoft.Cache/Redis",
            "location": self.location,
            "properties": {
                "provisioningState": "Succeeded",
                "redisVersion": version,
                "sku": {"name": sku, "family": family, "capacity": capacity},
                "enableNonSslPort": False,
                "minimumTlsVersion": "1.2",
                "hostName": f"{name}.redis.cache.windows.net",
                "port": 6379,
                "sslPort": 6380,
            },
        }

    def postgres(self, name: str, sku: str, tier: str, version: str = "14") -> None:
        self.resources[("microsoft.dbforpostgresql/flexibleservers", name)] = {
            "id": self._id("Microsoft.DBforPostgreSQL/flexibleServers", name),
            "name": name,
            "type": "Microsoft.DBforPostgreSQL/flexibleServers",
            "location": self.location,
            "sku": {"name": sku, "tier": tier},
            "properties": {
                "state": "Ready",
                "version": version,
                "fullyQualifiedDomainName": f"{name}.postgres.database.azure.com",
                "storage": {"storageSizeGB": 128},
            },
        }

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append({"path": path, "authorization": headers.get("Authorization", "")[:7]})
        route, _, query = path.partition("?")
        match = _PATH.match(route)
        if not headers.get("Authorization", "").startswith("Bearer "):
            return 401, {"error": {"code": "AuthenticationFailed", "message": "Authentication failed."}}
        if "api-version=" not in query:
            return 400, {"error": {"code": "MissingApiVersionParameter", "message": "The api-version is missing."}}
        if match and match["sub"] == self.subscription and match["rg"].lower() == self.resource_group.lower():
            found = self.resources.get((match["provider"].lower(), match["name"]))
            if found is not None:
                return 200, found
        return 404, {
            "error": {
                "code": "ResourceNotFound",
                "message": f"The Resource '{route.split('/providers/')[-1]}' under resource group "
                f"'{self.resource_group}' was not found.",
            }
        }


@contextmanager
def serve(fake: FakeArm) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, body = fake.answer(self.path, dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
