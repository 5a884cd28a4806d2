"""A small typed layer over the `kubernetes` client: server-side apply, patch, replace, delete, list.

Manifests are plain dicts (parsed YAML). Resource paths come from API discovery, so CRDs (Istio) work
the same as built-in kinds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from readiness.sandbox.base import SandboxError
from readiness.targets.kube import call_json

FIELD_MANAGER = "readiness-sandbox"
Obj = dict[str, Any]

#: kinds whose manifests carry a `status` the sandbox writes (what a cloud controller would publish)
STATUS_KINDS = frozenset({"Service", "Ingress"})

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass(frozen=True)
class Ref:
    """Which object(s) an operation targets: one by name, or many by label selector."""

    api_version: str
    kind: str
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None

    @classmethod
    def of(cls, obj: Obj) -> Ref:
        meta = obj.get("metadata", {})
        return cls(obj["apiVersion"], obj["kind"], meta.get("name"), meta.get("namespace"))

    @classmethod
    def parse(cls, data: Obj) -> Ref:
        return cls(
            data["apiVersion"],
            data["kind"],
            data.get("name"),
            data.get("namespace"),
            data.get("labelSelector"),
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        what = self.name or f"[{self.label_selector}]"
        return f"{self.kind} {where}{what}"


class Kube:
    """Thread-safe client for one cluster (one kubeconfig)."""

    def __init__(self, kubeconfig: str, pool_size: int = 32) -> None:
        configuration = k8s_client.Configuration()
        k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        configuration.connection_pool_maxsize = pool_size
        self.api = k8s_client.ApiClient(configuration)
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.api.close()

    # -- raw calls ---------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Iterable[tuple[str, Any]] = (),
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Obj:
        return call_json(self.api, method, path, query=query, body=body, content_type=content_type, timeout=timeout)

    # -- discovery ---------------------------------------------------------------------------------
    def _group_resources(self, api_version: str, refresh: bool = False) -> dict[str, tuple[str, bool]]:
        with self._lock:
            if api_version in self._resources and not refresh:
                return self._resources[api_version]
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = self.call("GET", path)
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise
        kinds = {
            r["kind"]: (r["name"], bool(r["namespaced"])) for r in listing.get("resources", []) if "/" not in r["name"]
        }
        with self._lock:
            self._resources[api_version] = kinds
        return kinds

    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind; re-discovers once on a miss (CRDs appear late)."""
        kinds = self._group_resources(api_version)
        if kind not in kinds:
            kinds = self._group_resources(api_version, refresh=True)
        if kind not in kinds:
            raise SandboxError(f"the API server does not serve {kind} in {api_version}")
        return kinds[kind]

    def path(self, ref: Ref, with_name: bool = True) -> str:
        plural, namespaced = self.resource(ref.api_version, ref.kind)
        base = "/api/v1" if ref.api_version == "v1" else f"/apis/{ref.api_version}"
        if namespaced and (ref.namespace or (with_name and ref.name)):
            base += f"/namespaces/{ref.namespace or 'default'}"
        base += f"/{plural}"
        if with_name and ref.name:
            base += f"/{ref.name}"
        return base

    # -- verbs -------------------------------------------------------------------------------------
    def get(self, ref: Ref) -> Obj | None:
        try:
            return self.call("GET", self.path(ref))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, ref: Ref, field_selector: str | None = None) -> list[Obj]:
        items: list[Obj] = []
        cont: str | None = None
        while True:
            query: list[tuple[str, Any]] = [("limit", 5000)]
            if ref.label_selector:
                query.append(("labelSelector", ref.label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if cont:
                query.append(("continue", cont))
            page = self.call("GET", self.path(ref, with_name=False), query=query, timeout=120)
            items += page.get("items", [])
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                return items

    def apply_crds(self, crds: list[Obj], what: str, timeout: float = 60) -> None:
        """Apply CustomResourceDefinitions and wait until every one is Established (then
        :meth:`apply_when_served` applies objects of their kinds)."""
        parallel(self.apply, crds, workers=8)

        def established(name: str) -> bool:
            crd = self.get(Ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", name))
            conditions = ((crd or {}).get("status") or {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        wait_for(lambda: all(established(c["metadata"]["name"]) for c in crds), timeout, f"{what} Established")

    def apply_when_served(self, obj: Obj, timeout: float = 30) -> Obj:
        """:meth:`apply`, tried again for `timeout` s: a kind served by a CRD Established a moment ago can take a
        second to appear in the API server's discovery."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.apply(obj)
            except SandboxError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def apply(self, obj: Obj) -> Obj:
        """Server-side apply `obj` (and its `status`, when it carries one, on the status subresource)."""
        ref = Ref.of(obj)
        status = obj.get("status") if obj["kind"] in STATUS_KINDS else None
        body = {k: v for k, v in obj.items() if k != "status"}
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        result = self.call("PATCH", self.path(ref), body, query, PATCH_TYPES["apply"])
        if status is not None:
            status_body = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": body["metadata"]}
            status_body["status"] = status
            result = self.call("PATCH", self.path(ref) + "/status", status_body, query, PATCH_TYPES["apply"])
        return result

    def create(self, obj: Obj) -> Obj:
        return self.call("POST", self.path(Ref.of(obj), with_name=False), obj)

    def patch(self, ref: Ref, body: Any, patch_type: str = "merge", subresource: str | None = None) -> Obj:
        path = self.path(ref) + (f"/{subresource}" if subresource else "")
        query = [("fieldManager", "readiness-sandbox-scenario")]
        return self.call("PATCH", path, body, query, PATCH_TYPES[patch_type])

    def replace(self, obj: Obj) -> Obj:
        """Put `obj` back exactly as written (drops foreign edits); creates it when it is gone."""
        ref = Ref.of(obj)
        current = self.get(ref)
        if current is None:
            created = self.create({k: v for k, v in obj.items() if k != "status"})
            current = created
        else:
            body = json.loads(json.dumps(obj))
            body.pop("status", None)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            current = self.call("PUT", self.path(ref), body)
        if obj.get("status") is not None and obj["kind"] in STATUS_KINDS:
            current["status"] = obj["status"]
            current = self.call("PUT", self.path(ref) + "/status", current)
        return current

    def delete(self, ref: Ref, grace_seconds: int | None = None) -> None:
        query: list[tuple[str, Any]] = [("propagationPolicy", "Background")]
        if grace_seconds is not None:
            query.append(("gracePeriodSeconds", grace_seconds))
        try:
            if ref.name:
                self.call("DELETE", self.path(ref), query=query)
            else:
                for item in self.list(ref):
                    meta = item["metadata"]
                    one = Ref(ref.api_version, ref.kind, meta["name"], meta.get("namespace"))
                    self.delete(one, grace_seconds)
        except ApiException as exc:
            if exc.status != 404:
                raise


def parallel(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 16) -> list[Any]:
    """Run `fn` over `items` on a thread pool; re-raises the first error."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (ApiException, OSError) as exc:  # API restarting, transient
            last_error = exc
        time.sleep(interval)
    suffix = f" (last error: {last_error})" if last_error else ""
    raise SandboxError(f"{what}: not reached after {timeout:.0f} s{suffix}")


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
