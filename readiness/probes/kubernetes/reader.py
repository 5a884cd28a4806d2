"""Talking to the API server: paginated JSON GETs with a per-request timeout, and one-line errors.

Every read is a plain GET through the `kubernetes` client's ApiClient (its kubeconfig handling, auth
plugins and TLS), parsed as JSON: no typed client models, so 5,000 nodes cost one page of JSON at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from readiness.core.expect import CheckError, parse_version
from readiness.probes.errors import describe_connection_failure
from readiness.targets.kube import call_json

Obj = dict[str, Any]
GIB = Decimal(1024**3)
PAGE = 500

#: labels that name a node's managed node group, per provider (first match wins)
NODE_GROUP_LABELS = (
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool",
    "alpha.eksctl.io/nodegroup-name",
)
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
WORKLOAD_KINDS = (("Deployment", "deployments"), ("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets"))
WAITING_FAULTS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"}
)


# -- talking to the API server -------------------------------------------------------------------
def _server(api: ApiClient) -> str:
    return str(getattr(api.configuration, "host", "") or "the Kubernetes API server")


def describe_api_error(exc: ApiException, server: str, what: str) -> str:
    """One line for an API error answer (401, 403, ...)."""
    message = ""
    try:
        message = str(json.loads(exc.body or "{}").get("message", ""))
    except (ValueError, AttributeError):
        message = str(exc.body or "")[:200]
    if exc.status == 401:
        return (
            f"the API server {server} refused the credentials (401 Unauthorized) while reading {what}: the token or "
            "client certificate of the kubeconfig is expired or wrong; refresh it (e.g. `aws eks update-kubeconfig`, "
            "`gcloud container clusters get-credentials`, `az aks get-credentials`)"
        )
    if exc.status == 403:
        return (
            f"forbidden to read {what} at {server}: {message or exc.reason}; "
            "grant the read-only ClusterRole in deploy/rbac/ to the identity the suite runs as"
        )
    return f"reading {what} from {server} failed: {exc.status} {exc.reason}{': ' + message if message else ''}"


def describe_transport_error(exc: Exception, server: str, timeout: float) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError) or "Read timed out" in text:
        return f"the API server {server} accepted the connection but did not answer within {timeout:g} s"
    line = describe_connection_failure(reason, f"the API server {server}", timeout=timeout,
                                       trust_hint="check the kubeconfig's certificate-authority-data")  # fmt: skip
    return line or f"cannot reach the API server {server}: {text}"


class KubeReader:
    """GETs JSON from one cluster with a per-request timeout; the only place that touches the wire."""

    def __init__(self, api: ApiClient, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout
        self.server = _server(api)

    def get(self, path: str, query: Sequence[tuple[str, Any]] = (), *, what: str, missing_ok: bool = False) -> Obj:
        """GET `path`; {} for a 404 when `missing_ok` (a kind or object that is not there)."""
        try:
            data = self._call(path, list(query))
        except ApiException as exc:
            if exc.status == 404 and missing_ok:
                return {}
            if exc.status == 0 or exc.status is None:  # the client wraps TLS failures as status 0
                raise CheckError(describe_transport_error(exc, self.server, self.timeout)) from None
            raise CheckError(describe_api_error(exc, self.server, what)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise CheckError(describe_transport_error(exc, self.server, self.timeout)) from None
        return data

    def pages(
        self, path: str, query: Sequence[tuple[str, Any]] = (), *, what: str, missing_ok: bool = False
    ) -> Iterator[Obj]:
        """Every item of a list, PAGE at a time (limit + continue); nothing when the kind is not served."""
        cont: str | None = None
        while True:
            params = [*query, ("limit", PAGE)] + ([("continue", cont)] if cont else [])
            page = self.get(path, params, what=what, missing_ok=missing_ok)
            yield from page.get("items") or []
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return

    def _call(self, path: str, query: list[tuple[str, Any]]) -> Obj:
        return call_json(self.api, "GET", path, query=query, timeout=self.timeout)


# -- small value helpers -------------------------------------------------------------------------
def _quantity(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(parse_quantity(str(value)))
    except (ValueError, ArithmeticError):
        return None


def _vcpu(value: Any) -> float | None:
    q = _quantity(value)
    return None if q is None else float(round(q, 3))


def _gib(value: Any) -> float | None:
    q = _quantity(value)
    return None if q is None else float(round(q / GIB, 2))


def _true(conditions: Iterable[Obj] | None, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions or [])


def _minor(version: str | None) -> tuple[int, int] | None:
    if not version:
        return None
    try:
        parts = parse_version(version)
    except CheckError:
        return None
    return (parts[0], parts[1]) if len(parts) >= 2 else None
