"""Azure Resource Manager clients (azure-mgmt-*) with bounded timeouts and errors a person can act on.

Credentials come from azure-identity's DefaultAzureCredential. An `endpoint_url` of the form
http://host:port is a local fake of ARM: the client sends it a placeholder token over plain HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from readiness.core.expect import CheckError


class _PlaceholderToken:
    """A token credential for a local fake of ARM only (never sent to Azure)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("placeholder-token-for-a-local-fake", int(time.time()) + 3600)


def arm_client(client_class: type, subscription: str, *, endpoint_url: str | None, timeout: float) -> tuple[Any, dict]:
    """(client, per-call options) for `client_class` (e.g. RedisManagementClient) on `subscription`."""
    options: dict[str, Any] = {"connection_timeout": timeout, "read_timeout": timeout}
    if endpoint_url:
        client = client_class(_PlaceholderToken(), subscription, base_url=endpoint_url, retry_total=0)
        if endpoint_url.startswith("http://"):
            options["enforce_https"] = False
        return client, options
    from azure.identity import DefaultAzureCredential

    return client_class(DefaultAzureCredential(), subscription, retry_total=0), options


@contextmanager
def translated_azure(what: str) -> Iterator[None]:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    try:
        yield
    except ClientAuthenticationError as exc:
        raise CheckError(f"{what}: no usable Azure credentials (az login, AZURE_CLIENT_ID...): {exc.message}") from None
    except HttpResponseError as exc:
        code = exc.error.code if exc.error else exc.status_code
        message = exc.error.message if exc.error else exc.message
        raise CheckError(f"{what}: Azure answered {code}: {' '.join(str(message).split())}") from None
    except ServiceRequestError as exc:
        raise CheckError(f"{what}: cannot reach Azure Resource Manager: {exc}") from None
