"""What the read checks may do in a cluster: the one list the least-privilege tests hold the ClusterRole of
deploy/rbac to (it must grant exactly this) and ask the API server about (SubjectAccessReview).

Derived from the calls of readiness/probes/kubernetes/ (Kubernetes suite), readiness/probes/mesh.py
(mesh suite) and readiness/targets/discovery.py (targets discovery): each reads with get and list (watch rides
along as the third read verb); none reads a Secret, execs into a pod or writes.
"""

from __future__ import annotations

from typing import NamedTuple

NAMESPACE = "prefect-readiness"
SERVICE_ACCOUNT = "readiness-reader"
USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
GROUPS = ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"]
READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


class Access(NamedTuple):
    verb: str
    group: str  # "" is the core group
    resource: str  # plural, or plural/subresource
    name: str | None = None  # a rule limited to resourceNames


def _read(group: str, *resources: str) -> list[Access]:
    return [Access(verb, group, resource) for resource in resources for verb in READ_VERBS]


#: (verb, group, resource[, name]) the read checks use, cluster-wide
READ_ACCESS: frozenset[Access] = frozenset(
    [
        # Kubernetes suite: nodes, the Prefect/ingress/autoscaler pods and Services, workloads, storage,
        # ingress, the Gateway API and Istio gateways in front of Prefect, Karpenter NodePools
        *_read("", "nodes", "pods", "services"),
        Access("get", "", "configmaps", "cluster-autoscaler-status"),
        *_read("apps", "deployments", "statefulsets", "daemonsets"),
        *_read("storage.k8s.io", "storageclasses", "csidrivers"),
        *_read("networking.k8s.io", "ingressclasses", "ingresses"),
        *_read("gateway.networking.k8s.io", "gatewayclasses", "gateways", "httproutes"),
        *_read("karpenter.sh", "nodepools"),
        # mesh suite: Istio's CRDs and objects, the Prefect namespace's injection label, EndpointSlices
        *_read("networking.istio.io", "gateways", "virtualservices", "destinationrules"),
        *_read("security.istio.io", "peerauthentications", "authorizationpolicies", "requestauthentications"),
        *_read("apiextensions.k8s.io", "customresourcedefinitions"),
        *_read("", "namespaces"),
        *_read("discovery.k8s.io", "endpointslices"),
    ]
)
#: non-resource URLs the checks read (the server version)
READ_URLS: frozenset[tuple[str, str]] = frozenset({("get", "/version"), ("get", "/version/")})

#: what the role must never allow (asked of the API server, cluster-wide and in the Prefect namespace)
REFUSED: tuple[Access, ...] = (
    *(Access(verb, "", "secrets") for verb in READ_VERBS),
    Access("create", "", "pods/exec"),
    Access("get", "", "pods/exec"),
    Access("create", "", "pods/portforward"),
    Access("create", "", "pods/attach"),
    Access("get", "", "pods/log"),
    Access("get", "", "nodes/proxy"),
    Access("list", "", "configmaps"),
    Access("get", "", "configmaps", "prefect-config"),
    Access("create", "", "serviceaccounts/token"),
    Access("impersonate", "", "users"),
    Access("impersonate", "", "serviceaccounts"),
    Access("bind", "rbac.authorization.k8s.io", "clusterroles"),
    Access("escalate", "rbac.authorization.k8s.io", "clusterroles"),
    *(Access(verb, "", "pods") for verb in WRITE_VERBS),
    *(Access(verb, "apps", "deployments") for verb in WRITE_VERBS),
    Access("update", "", "nodes"),
    Access("create", "", "persistentvolumeclaims"),
    Access("create", "", "namespaces"),
    Access("patch", "security.istio.io", "peerauthentications"),
)


def granted(cluster_role: dict) -> tuple[set[Access], set[tuple[str, str]]]:
    """Every (verb, group, resource[, name]) and (verb, URL) a ClusterRole's rules grant, expanded."""
    accesses: set[Access] = set()
    urls: set[tuple[str, str]] = set()
    for rule in cluster_role.get("rules", []):
        for verb in rule["verbs"]:
            for url in rule.get("nonResourceURLs", []):
                urls.add((verb, url))
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for name in rule.get("resourceNames") or [None]:
                        accesses.add(Access(verb, group, resource, name))
    return accesses, urls
