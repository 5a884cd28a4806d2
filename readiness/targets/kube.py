"""The Kubernetes API client every suite and the discovery use, built from the targets.

kubectl's conventions: `kubernetes.kubeconfig` (KUBECONFIG, ~/.kube/config) with `kubernetes.context`
(--kube-context), or the pod's service account when running in-cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
