"""The Kubernetes API client every suite and the discovery use, built from the targets.

kubectl's conventions: `kubernetes.kubeconfig` (KUBECONFIG, ~/.kube/config) with `kubernetes.context`
(--kube-context), or the pod's service account when running in-cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from readiness.core.expect import CheckError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from readiness.targets.model import Targets


def api_client(targets: Targets, timeout: float = 10.0) -> ApiClient:
    """An ApiClient for the targeted cluster; CheckError with the cause when it cannot be configured.

    Skips the calling check (target not configured) when no kubeconfig is known at all.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    kubeconfig = targets.require("kubernetes.kubeconfig")
    context = targets.get("kubernetes.context")
    configuration = client.Configuration()
    try:
        if kubeconfig == "in-cluster":
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=str(kubeconfig), context=context, client_configuration=configuration)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = f"{kubeconfig}" + (f" context {context}" if context else "")
        raise CheckError(f"cannot use the kubeconfig {where}: {exc}") from None
    configuration.retries = 0
    api = client.ApiClient(configuration)
    # A per-request timeout unless the caller gives one: a silent API server is an error, not a hang.
    api.rest_client.pool_manager.connection_pool_kw["timeout"] = timeout
    return api


def call_json(
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: Iterable[tuple[str, Any]] = (),
    body: Any = None,
    content_type: str | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """One raw call to the API server, its JSON answer as a dict ({} for an empty body); ApiException for a
    status outside 2xx. Speaks both generations of the kubernetes client (param_serialize from 35 on)."""
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": "application/json"} | ({"Content-Type": content_type} if content_type else {})
    if hasattr(api, "param_serialize"):  # kubernetes >= 35 (new generator)
        method, url, headers, body, _ = api.param_serialize(
            method, path, query_params=list(query), header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=data.decode(errors="replace"), data=None)
    else:  # older clients
        response = api.call_api(
            path,
            method,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )
        data = response.data
    return json.loads(data) if data else {}
