"""The fix for a result, with the install's own names: rendered from what the run observed.

One renderer per requirement family turns the evidence of a result's checks, the resolved targets and the
profile's cloud into a sentence that names the cluster, node group or pool, StorageClass, namespace and
Deployment, Ingress and host, managed resource or identity provider the run saw, and the command or
prefect-helm values key that changes it. Commands are shown, never run. Where a name is unknown the text
says which targets key (or discovery) would supply it. A renderer that finds nothing to name returns None
and the profile's generic remediation stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: node label -> the platform whose node group (pool) it names
NODE_GROUP_PLATFORMS = {
    "eks.amazonaws.com/nodegroup": "eks",
    "alpha.eksctl.io/nodegroup-name": "eks",
    "cloud.google.com/gke-nodepool": "gke",
    "kubernetes.azure.com/agentpool": "aks",
    "karpenter.sh/nodepool": "karpenter",
}
#: the profile's (or the targets') cloud -> its managed Kubernetes
CLOUD_PLATFORMS = {"aws": "eks", "gcp": "gke", "azure": "aks"}
#: instance types that meet the documented node minimum (8 vCPU / 16 GiB), when the profile's catalog has none
NODE_TYPES = {"eks": "m6i.2xlarge", "gke": "n2-standard-8", "aks": "Standard_D8s_v5"}
#: managed sizes that meet the documented minimums, when the profile's catalog has none
REDIS_TYPES = {"aws": "cache.r6g.large", "azure": "Premium_P2"}
POSTGRES_TYPES = {"aws": "db.r6g.xlarge", "azure": "Standard_E4ds_v5"}
#: where a cluster's name comes from besides the targets file (readiness/targets/conventions.py)
CLUSTER_HINT = (
    "or use the kubeconfig context that aws eks update-kubeconfig or gcloud container clusters get-credentials "
    "writes; the commands then name it"
)
#: a placeholder a reader would have to fill in: never in a rendered fix
PLACEHOLDER = re.compile(r"<[^<>\s][^<>]*>|\be\.g\.")

_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.I)
_KUBE_REF = re.compile(r"\b(Deployment|StatefulSet|DaemonSet|Service|Ingress|Gateway|HTTPRoute) ([\w.-]+)/([\w.-]+)")


@dataclass(frozen=True)
class Context:
    """What the run knows besides a result's evidence: the profile's cloud and catalog, every requirement's
    parameters, and the targets resolved in the run (secrets left out)."""

    cloud: str | None = None
    targets: Mapping[str, Any] = field(default_factory=dict)
    catalog: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def provider(self) -> str | None:
        """aws, gcp or azure: the targets' cloud.provider, else the profile's cloud."""
        provider = self.targets.get("cloud.provider") or self.cloud
        return provider if provider in CLOUD_PLATFORMS else None


class Seen:
    """The observations of one requirement's checks (decisive first), searched by evidence key."""

    def __init__(self, observations: Sequence[Mapping[str, Any]], context: Context) -> None:
        self.observations = list(observations)
        self.evidences = [o.get("evidence") or {} for o in self.observations]
        self.context = context

    def find(self, key: str) -> Any:
        """The first non-empty value of `key` anywhere in the evidence (nested dicts included)."""
        for evidence in self.evidences:
            found = _find(evidence, key)
            if found not in (None, "", [], {}):
                return found
        return None

    def all(self, key: str) -> list[Any]:
        out: list[Any] = []
        for evidence in self.evidences:
            out += [v for v in _find_all(evidence, key) if v not in (None, "", [], {})]
        return out

    def target(self, key: str) -> Any:
        """A targets value: resolved in the run, or recorded in the evidence ({"value": ..., "source": ...})."""
        value = self.context.targets.get(key)
        if value not in (None, "", [], {}):
            return value
        for recorded in self.all(key):
            if isinstance(recorded, Mapping) and recorded.get("value") not in (None, "", [], {}):
                return recorded["value"]
        return None

    def unmet(self) -> list[Mapping[str, Any]]:
        return [o for o in self.observations if not o.get("met", True)]

    def unmet_labels(self) -> str:
        return " ".join(str(o.get("label", "")) for o in self.unmet()).lower()

    def texts(self) -> Iterator[str]:
        """Every string of the evidence and the observed values (for object references)."""
        for item in [*self.evidences, *(o.get("observed") for o in self.observations)]:
            yield from _strings(item)

    def kube_refs(self, *kinds: str) -> list[tuple[str, str, str]]:
        """(kind, namespace, name) of the objects the evidence names ("Deployment prefect/prefect-server")."""
        out: list[tuple[str, str, str]] = []
        for text in self.texts():
            for kind, namespace, name in _KUBE_REF.findall(text):
                if (not kinds or kind in kinds) and (kind, namespace, name) not in out:
                    out.append((kind, namespace, name))
        return out


def _find(data: Any, key: str) -> Any:
    if isinstance(data, Mapping):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _find_all(data: Any, key: str) -> Iterator[Any]:
    if isinstance(data, Mapping):
        for k, value in data.items():
            if k == key:
                yield value
            else:
                yield from _find_all(value, key)
    elif isinstance(data, list):
        for value in data:
            yield from _find_all(value, key)


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for k, v in data.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(data, (list, tuple)):
        for v in data:
            yield from _strings(v)


# -- rendering ---------------------------------------------------------------------------------------
def fix(sentence: str, commands: Sequence[str] = (), values: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """One paragraph: what to change (naming it), the commands to paste, the prefect-helm values, what is unknown."""
    text = sentence.rstrip(".") + "."
    commands = [re.sub(r" {2,}", " ", c).strip() for c in commands]
    if commands:
        text += " " + ("Run: " if len(commands) == 1 else "Run, in order: ") + "; ".join(f"`{c}`" for c in commands)
        text += "."
    if values:
        text += " prefect-helm values: " + "; ".join(f"`{v}`" for v in values) + "."
    for note in notes:
        text += " " + note.rstrip(".") + "."
    return _URL_USERINFO.sub(r"\g<scheme>", text)


def unknown(what: str, key: str, hint: str | None = None) -> str:
    """Which targets key (or discovery) would name what the run could not."""
    return f"The {what} is not known to this run: set {key} in the targets file" + (f" ({hint})" if hint else "")


# -- Kubernetes: node groups and pools ---------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    name: str
    label: str | None = None
    instance_type: str | None = None
    vcpu: float | None = None
    memory_gib: float | None = None
    nodes: int | None = None
    node_names: tuple[str, ...] = ()
    kubelet_versions: tuple[str, ...] = ()

    @property
    def platform(self) -> str | None:
        return NODE_GROUP_PLATFORMS.get(self.label or "")


def node_groups(seen: Seen) -> list[Group]:
    """The node groups (pools) the evidence names, with the label they came from where it says."""
    structured = seen.find("node_groups")
    if isinstance(structured, list) and structured:
        return [
            Group(
                name=str(g.get("name")),
                label=g.get("label"),
                instance_type=g.get("instance_type"),
                vcpu=g.get("vcpu"),
                memory_gib=g.get("memory_gib"),
                nodes=g.get("nodes"),
                node_names=tuple(g.get("node_names") or ()),
                kubelet_versions=tuple(g.get("kubelet_versions") or ()),
            )
            for g in structured
            if isinstance(g, Mapping) and g.get("name")
        ]
    labels = seen.find("node_group_labels")
    if isinstance(labels, Mapping) and labels:
        return [Group(name=str(name), label=str(label)) for name, label in labels.items()]
    described = seen.find("groups")
    if isinstance(described, list):
        return [Group(name=str(d).split(" (", 1)[0]) for d in described if isinstance(d, str) and d]
    return []


def platform_of(groups: Sequence[Group], context: Context) -> str:
    """eks, gke, aks or karpenter by the nodes' own labels; else the cloud's; else plain Kubernetes."""
    for group in groups:
        if group.platform:
            return group.platform
    return CLOUD_PLATFORMS.get(context.provider or "", "kubernetes")


class Cluster:
    """The cluster's identity for cloud commands, and what is missing from it."""

    def __init__(self, seen: Seen, platform: str) -> None:
        self.platform = platform
        self.name = seen.target("cloud.cluster")
        self.region = seen.target("cloud.region")
        self.project = seen.target("cloud.project")
        self.resource_group = seen.target("cloud.resource_group")
        self.notes: list[str] = []
        if self.platform in ("eks", "gke", "aks", "karpenter") and not self.name:
            self.notes.append(unknown("cluster's name", "cloud.cluster", CLUSTER_HINT))
        if self.platform == "aks" and not self.resource_group:
            self.notes.append(unknown("cluster's resource group", "cloud.resource_group"))

    @property
    def label(self) -> str:
        kind = {"eks": "EKS cluster", "gke": "GKE cluster", "aks": "AKS cluster"}.get(self.platform, "cluster")
        return f"{kind} {self.name}" if self.name else f"the {kind}"

    def flags(self, *, eks: str = "--cluster") -> str:
        """The flags naming the cluster (and its region, project or resource group) in the platform's CLI."""
        parts: list[str] = []
        if self.platform == "eks":
            if self.name:
                parts.append(f"{eks} {self.name}")
            if self.region:
                parts.append(f"--region {self.region}")
        elif self.platform == "gke":
            if self.name:
                parts.append(f"--cluster {self.name}")
            if self.region:
                parts.append(f"--location {self.region}")
            if self.project:
                parts.append(f"--project {self.project}")
        elif self.platform == "aks":
            if self.resource_group:
                parts.append(f"--resource-group {self.resource_group}")
            if self.name:
                parts.append(f"--cluster-name {self.name}")
        return " ".join(parts)


def _pool_word(platform: str) -> str:
    return {
        "eks": "EKS node group",
        "gke": "GKE node pool",
        "aks": "AKS node pool",
        "karpenter": "Karpenter NodePool",
    }.get(platform, "node group")


def _groups_text(groups: Sequence[Group], platform: str) -> str:
    return ", ".join(f"{_pool_word(g.platform or platform)} {g.name}" for g in groups)


def _node_type(context: Context, platform: str, min_vcpu: float, min_memory: float) -> str:
    """The smallest instance type of the profile's catalog that meets the minimum, or the platform's usual one."""
    if CLOUD_PLATFORMS.get(context.cloud or "") == platform:
        table = context.catalog.get("instance_types") or {}
        fits = [
            (float(spec.get("vcpu", 0)), float(spec.get("memory_gib", 0)), name)
            for name, spec in table.items()
            if float(spec.get("vcpu", 0)) >= min_vcpu and float(spec.get("memory_gib", 0)) >= min_memory
        ]
        if fits:
            return min(fits)[2]
    return NODE_TYPES.get(platform, NODE_TYPES["eks"])


def _scale_commands(cluster: Cluster, group: Group, minimum: int) -> list[str]:
    flags = cluster.flags()
    if cluster.platform == "eks":
        return [f"eksctl scale nodegroup {flags} --name {group.name} --nodes {minimum} --nodes-min {minimum}"]
    if cluster.platform == "gke":
        name = f"{cluster.name} " if cluster.name else ""
        where = flags.replace(f"--cluster {cluster.name}", "").strip() if cluster.name else flags
        return [
            f"gcloud container clusters resize {name}--node-pool {group.name} --num-nodes {minimum} {where}".strip()
        ]
    if cluster.platform == "aks":
        return [f"az aks nodepool scale {flags} --name {group.name} --node-count {minimum}"]
    if cluster.platform == "karpenter":
        return [
            f"kubectl get nodepool {group.name} -o yaml",
            f"kubectl get nodeclaims -l karpenter.sh/nodepool={group.name}",
        ]
    return []


def render_node_count(seen: Seen) -> str | None:
    params = seen.context.params.get("K8S-NODE-COUNT", {})
    minimum = int(params.get("min", 3))
    groups = node_groups(seen)
    platform = platform_of(groups, seen.context)
    cluster = Cluster(seen, platform)
    excluded = seen.find("excluded") or {}
    commands: list[str] = []
    sentence_parts: list[str] = []
    if isinstance(excluded, Mapping) and excluded:
        for node, reason in list(excluded.items())[:5]:
            if str(reason).startswith("cordoned"):
                commands.append(f"kubectl uncordon {node}")
            elif str(reason).startswith("tainted "):
                for taint in str(reason).removeprefix("tainted ").split(", "):
                    commands.append(f"kubectl taint nodes {node} {taint}-")
        names = ", ".join(f"{n} ({r})" for n, r in list(excluded.items())[:5])
        sentence_parts.append(
            f"Nodes Prefect's pods cannot use: {names}; make them usable if they are meant for Prefect"
        )
    if groups:
        target = groups[0]
        sentence_parts.append(
            f"Scale {_pool_word(target.platform or platform)} {target.name} of {cluster.label} to at "
            f"least {minimum} nodes"
        )
        commands += _scale_commands(cluster, target, minimum)
    elif not sentence_parts:
        return None
    return fix("; ".join(sentence_parts), commands, notes=cluster.notes if groups else ())


def render_node_size(seen: Seen) -> str | None:
    params = seen.context.params.get("K8S-NODE-SIZE", {})
    min_vcpu, min_memory = float(params.get("min_vcpu", 8)), float(params.get("min_memory_gib", 16))
    groups = node_groups(seen)
    if not groups:
        return None
    small = [
        g for g in groups if g.vcpu is None or g.memory_gib is None or g.vcpu < min_vcpu or g.memory_gib < min_memory
    ]
    small = small or groups
    platform = platform_of(small, seen.context)
    cluster = Cluster(seen, platform)
    node_type = _node_type(seen.context, platform, min_vcpu, min_memory)
    group = small[0]
    current = f" ({group.instance_type})" if group.instance_type else ""
    sentence = (
        f"Move {_groups_text(small, platform)}{current} of {cluster.label} to an instance type with at least "
        f"{min_vcpu:g} vCPU and {min_memory:g} GiB ({node_type}), then drain the old nodes"
    )
    flags, new = cluster.flags(), f"{group.name}-large"
    # the new group starts with as many nodes as the old one, and never fewer than the node-count minimum
    count = max(group.nodes or 0, int(seen.context.params.get("K8S-NODE-COUNT", {}).get("min", 3)))
    commands: list[str]
    if platform == "eks":
        commands = [
            f"eksctl create nodegroup {flags} --name {new} --node-type {node_type} --nodes {count} --nodes-min {count}",
            f"eksctl delete nodegroup {flags} --name {group.name} --drain",
        ]
    elif platform == "gke":
        commands = [f"gcloud container node-pools update {group.name} {flags} --machine-type {node_type}"]
    elif platform == "aks":
        # AKS pool names: lowercase letters and digits, at most 12
        new = re.sub(r"[^a-z0-9]", "", group.name.lower())[:7] + "large"
        commands = [
            f"az aks nodepool add {flags} --name {new} --node-vm-size {node_type} --node-count {count}",
            f"az aks nodepool delete {flags} --name {group.name}",
        ]
    elif platform == "karpenter":
        commands = [f"kubectl edit nodepool {group.name}"]
        sentence += (
            f"; in NodePool {group.name} require karpenter.k8s.aws/instance-cpu Gt {min_vcpu - 1:g} and "
            f"karpenter.k8s.aws/instance-memory Gt {min_memory * 1024 - 1:g}"
        )
    else:
        commands = [f"kubectl drain {n} --ignore-daemonsets --delete-emptydir-data" for n in group.node_names[:3]]
    return fix(sentence, [c for c in commands], notes=cluster.notes)


def render_version(seen: Seen) -> str | None:
    server = seen.find("server")
    if not isinstance(server, str) or not server:
        return None
    params = seen.context.params.get("K8S-VERSION", {})
    minimum = str(params.get("min", "1.29"))
    groups = node_groups(seen)
    platform = platform_of(groups, seen.context)
    cluster = Cluster(seen, platform)
    server_minor = ".".join(server.lstrip("v").split(".")[:2])
    kubelets = seen.find("kubelets") or {}
    old = [g for g in groups if any(not v.lstrip("v").startswith(server_minor) for v in g.kubelet_versions)] or groups
    control_plane_low = _minor_lt(server_minor, minimum)
    to = minimum if control_plane_low else server_minor
    sentence = f"The API server runs {server}"
    if kubelets:
        sentence += "; kubelets " + ", ".join(f"{n} × {v}" for v, n in dict(kubelets).items())
    commands: list[str] = []
    flags = cluster.flags()
    name = cluster.name or ""
    if control_plane_low:
        sentence += f"; upgrade the control plane of {cluster.label} to {minimum}"
        if platform == "eks":
            commands.append(f"eksctl upgrade cluster {flags} --version {minimum} --approve")
        elif platform == "gke":
            commands.append(f"gcloud container clusters upgrade {name} --master --cluster-version {minimum}")
        elif platform == "aks":
            commands.append(
                f"az aks upgrade --resource-group {cluster.resource_group or ''} --name {name} "
                f"--kubernetes-version {minimum}"
            )
    if old:
        sentence += f"; upgrade {_groups_text(old, platform)} to {to}"
        for group in old[:3]:
            if platform == "eks":
                commands.append(f"eksctl upgrade nodegroup {flags} --name {group.name} --kubernetes-version {to}")
            elif platform == "gke":
                commands.append(f"gcloud container clusters upgrade {name} --node-pool {group.name}")
            elif platform == "aks":
                commands.append(f"az aks nodepool upgrade {flags} --name {group.name} --kubernetes-version {to}")
    return fix(sentence, [c for c in commands], notes=cluster.notes)


def _minor_lt(version: str, minimum: str) -> bool:
    try:
        return tuple(int(p) for p in version.split(".")[:2]) < tuple(int(p) for p in minimum.split(".")[:2])
    except ValueError:
        return False


_SCALING = re.compile(
    r"^(?P<name>\S+) \[(?P<source>[\w-]+)\] \((?:min (?P<min>\d+|None), max (?P<max>\d+|None)|no upper limit)"
)


def render_autoscaling(seen: Seen) -> str | None:
    groups = node_groups(seen)
    platform = platform_of(groups, seen.context)
    cluster = Cluster(seen, platform)
    minimum = int(seen.context.params.get("K8S-NODE-COUNT", {}).get("min", 3))
    maximum = max(10, minimum * 3)
    scaling = [
        m.groupdict()
        for s in (seen.find("eks_nodegroups") or []) + (seen.find("autoscaler_groups") or [])
        if isinstance(s, str) and (m := _SCALING.match(s))
    ]
    fixed = [s for s in scaling if s["min"] and s["max"] and s["min"] == s["max"]]
    running = bool(seen.find("sources"))
    flags = cluster.flags()
    commands: list[str] = []
    if fixed and running:
        sentence = "Raise the maximum above the minimum on " + ", ".join(
            f"{s['name']} ({s['source']}, min {s['min']}, max {s['max']})" for s in fixed
        )
        for s in fixed[:3]:
            if s["source"] == "eks" or platform == "eks" and s["source"] != "cluster-autoscaler":
                commands.append(
                    f"aws eks update-nodegroup-config --cluster-name {cluster.name or ''} --nodegroup-name "
                    f"{s['name']} --scaling-config minSize={s['min']},maxSize={maximum}"
                )
            elif platform == "eks":
                commands.append(
                    f"aws autoscaling update-auto-scaling-group --auto-scaling-group-name {s['name']} "
                    f"--max-size {maximum}"
                )
            elif platform == "gke":
                commands.append(
                    f"gcloud container node-pools update {s['name']} {flags} --enable-autoscaling "
                    f"--min-nodes {s['min']} --max-nodes {maximum}"
                )
            elif platform == "aks":
                commands.append(
                    f"az aks nodepool update {flags} --name {s['name']} --update-cluster-autoscaler "
                    f"--min-count {s['min']} --max-count {maximum}"
                )
        return fix(sentence, [c for c in commands], notes=cluster.notes)
    if not groups:
        return None
    target = groups[0]
    sentence = f"Enable node autoscaling for {_groups_text(groups, platform)} of {cluster.label}"
    if platform == "eks":
        sentence += " (cluster-autoscaler with auto-discovery, or Karpenter)"
        auto = [f"--set autoDiscovery.clusterName={cluster.name}"] if cluster.name else []
        region = [f"--set awsRegion={cluster.region}"] if cluster.region else []
        commands += [
            f"aws eks update-nodegroup-config --cluster-name {cluster.name or ''} --nodegroup-name {target.name} "
            f"--scaling-config minSize={minimum},maxSize={maximum}",
            " ".join(
                [
                    "helm upgrade --install cluster-autoscaler autoscaler/cluster-autoscaler -n kube-system",
                    *auto,
                    *region,
                ]
            ),
        ]
    elif platform == "gke":
        commands.append(
            f"gcloud container node-pools update {target.name} {flags} --enable-autoscaling "
            f"--min-nodes {minimum} --max-nodes {maximum}"
        )
    elif platform == "aks":
        commands.append(
            f"az aks nodepool update {flags} --name {target.name} --enable-cluster-autoscaler "
            f"--min-count {minimum} --max-count {maximum}"
        )
    elif platform == "karpenter":
        commands.append(f"kubectl edit nodepool {target.name}")
        sentence += f": give NodePool {target.name} spec.limits above the nodes it runs now"
    return fix(sentence, [c for c in commands], notes=cluster.notes)


# -- Kubernetes: storage, ingress, workloads ---------------------------------------------------------
#: cloud -> (CSI provisioner, a StorageClass name, the command that installs the driver)
CSI = {
    "aws": ("ebs.csi.aws.com", "gp3", "aws eks create-addon --cluster-name {cluster} --addon-name aws-ebs-csi-driver"),
    "gcp": (
        "pd.csi.storage.gke.io",
        "standard-rwo",
        "gcloud container clusters update {cluster} --update-addons GcePersistentDiskCsiDriver=ENABLED",
    ),
    "azure": ("disk.csi.azure.com", "managed-csi", "az aks update --name {cluster} --enable-disk-driver"),
}


def render_storage(seen: Seen) -> str | None:
    classes = [c for c in seen.find("storage_classes") or [] if isinstance(c, Mapping)]
    drivers = [str(d) for d in seen.find("csi_drivers") or []]
    allowed = list(seen.context.params.get("K8S-STORAGECLASS", {}).get("provisioners") or [])
    csi = [c for c in classes if not allowed or c.get("provisioner") in allowed]
    defaults = [c for c in classes if c.get("default")]
    default_key = "storageclass.kubernetes.io/is-default-class"
    if csi and not defaults:
        name = csi[0]["name"]
        return fix(
            f"Mark StorageClass {name} (provisioner {csi[0].get('provisioner')}) as the cluster's default",
            [f"kubectl annotate storageclass {name} {default_key}=true --overwrite"],
        )
    if defaults and allowed and not csi:
        names = ", ".join(f"{c['name']} ({c.get('provisioner')})" for c in defaults)
        return fix(
            f"The default StorageClass {names} does not use one of {', '.join(allowed)}; create one that "
            f"does and move the default to it",
            [f"kubectl annotate storageclass {defaults[0]['name']} {default_key}=false --overwrite"],
        )
    if len(defaults) > 1:
        keep = defaults[0]["name"]
        return fix(
            f"Keep one default StorageClass ({keep}) and unmark the others",
            [f"kubectl annotate storageclass {c['name']} {default_key}=false --overwrite" for c in defaults[1:]],
        )
    provider = seen.context.provider or next((cloud for cloud, (prov, _, _) in CSI.items() if prov in drivers), None)
    if provider is None:
        return None
    provisioner, name, install = CSI[provider]
    cluster = seen.target("cloud.cluster")
    found = f" (CSI drivers installed: {', '.join(drivers)})" if drivers else ""
    commands = [] if provisioner in drivers or not cluster else [install.format(cluster=cluster)]
    sentence = (
        f"Create a default StorageClass {name} with provisioner {provisioner}{found}: a StorageClass manifest "
        f'with that provisioner and the annotation {default_key}: "true", applied with kubectl apply'
    )
    notes = [] if cluster or provisioner in drivers else [unknown("cluster's name", "cloud.cluster")]
    return fix(sentence, commands, notes=notes)


_GATEWAY = re.compile(r"Gateway ([\w.-]+)/([\w.-]+) \(class ([\w.-]+)\): (\w+=\w+)(?: \(([^)]*)\))?")
_GATEWAY_CLASS = re.compile(r"GatewayClass ([\w.-]+) \(([^)]*)\): (\w+=\w+)")


def _render_gateway_api(seen: Seen) -> str | None:
    """K8S-INGRESS-CONTROLLER on a Gateway API edge: the Gateway its controller has not programmed, or the
    GatewayClass it has not accepted, named with the controller's own reason and the prefect-helm values."""
    api = seen.find("gateway_api")
    if not isinstance(api, Mapping) or not api.get("http_routes"):
        return None
    gateways = [m.groups() for g in api.get("gateways") or [] if (m := _GATEWAY.search(str(g)))]
    classes = [m.groups() for c in api.get("gateway_classes") or [] if (m := _GATEWAY_CLASS.search(str(c)))]
    unprogrammed = [g for g in gateways if g[3] != "Programmed=True"]
    unaccepted = [c for c in classes if c[2] != "Accepted=True"]
    if not unprogrammed and not unaccepted:
        return None
    commands: list[str] = []
    parts: list[str] = []
    for namespace, name, cls, state, why in unprogrammed:
        parts.append(f"Gateway {namespace}/{name} is {state}" + (f" ({why})" if why else "") + f": its controller "
                     f"(GatewayClass {cls}) says why in its status; give it what the reason names (its own Deployment "
                     "and Service, a load balancer quota, a listener's certificate)")  # fmt: skip
        commands += [f"kubectl -n {namespace} describe gateway {name}",
                     f"kubectl -n {namespace} get events --field-selector involvedObject.name={name}"]  # fmt: skip
    for name, controller, state in unaccepted:
        parts.append(f"GatewayClass {name} is {state}: run its controller ({controller}) or point the Gateway at a "
                     "class one accepts")  # fmt: skip
        commands.append(f"kubectl get gatewayclass {name} -o yaml")
    cls = (unprogrammed[0][2] if unprogrammed else unaccepted[0][0]) if (unprogrammed or unaccepted) else ""
    return fix("; ".join(parts), commands, values=["gateway.enabled: true", f"gateway.className: {cls}"])


def render_ingress(seen: Seen) -> str | None:
    gateway_fix = _render_gateway_api(seen)
    if gateway_fix:
        return gateway_fix
    namespace = seen.find("namespace") or seen.target("kubernetes.ingress_namespace") or "ingress-nginx"
    exposures = [str(e) for e in seen.find("prefect_exposure") or []]
    controllers = [str(c) for c in seen.find("controllers") or []]
    classes = [c for c in seen.find("ingress_classes") or [] if isinstance(c, Mapping)]
    commands = [
        f"helm upgrade --install ingress-nginx ingress-nginx/ingress-nginx -n {namespace} --create-namespace",
        f"kubectl -n {namespace} get pods,ingressclass",
    ]
    sentence = f"Run ingress-nginx in namespace {namespace} with Ready pods and its IngressClass"
    if controllers:
        sentence += f" (found: {'; '.join(controllers)})"
    if exposures:
        sentence += f"; the Prefect objects it must serve: {', '.join(exposures)}"
    cls = classes[0]["name"] if classes else "nginx"
    # A Gateway (Gateway API, Istio) whose own Deployment is not ready: that Deployment is what to look at.
    unmet = " ".join(str(o.get("observed")) for o in seen.unmet())
    stuck = [(ns, name) for kind, ns, name in _KUBE_REF.findall(unmet) if kind == "Deployment"]
    if stuck:
        ns, name = stuck[0]
        gateways = [f"{kind} {gns}/{gname}" for kind, gns, gname in _KUBE_REF.findall(unmet) if kind == "Gateway"]
        return fix(
            f"Make Deployment {ns}/{name}" + (f" of {gateways[0]}" if gateways else "") + " Available (its pods "
            "Ready), or expose Prefect through the ingress-nginx controller",
            [f"kubectl -n {ns} describe deployment {name}", f"kubectl -n {ns} get events --sort-by .lastTimestamp"],
            values=[f"ingress.className: {cls}"],
        )
    return fix(sentence, commands, values=[f"ingress.className: {cls}"])


def render_ingress_nginx(seen: Seen) -> str | None:
    controllers = [str(c) for c in seen.find("controllers") or []]
    if not controllers:
        return None
    return fix(
        f"The controller in use is {'; '.join(controllers)}: move the Prefect Ingress to ingress-nginx, or "
        "record a waiver for K8S-INGRESS-NGINX naming this controller and who validated it",
        [f"kubectl -n {seen.find('namespace') or 'ingress-nginx'} get deployments,ingressclass"],
    )


def render_lb(seen: Seen) -> str | None:
    refs = seen.kube_refs("Service")
    if not refs:
        return None
    _, namespace, name = refs[0]
    provider = seen.context.provider
    sentence = f"Service {namespace}/{name} has no load balancer address: read its events"
    notes = []
    if provider == "aws":
        sentence += (
            " (the AWS Load Balancer Controller's reconcile errors, subnets tagged kubernetes.io/role/elb, "
            "Elastic IP and NLB quotas)"
        )
    elif provider == "gcp":
        sentence += " (forwarding-rule and external IP quotas of the project)"
    elif provider == "azure":
        sentence += " (public IP quota, and the cluster identity's rights on the node resource group)"
    else:
        notes.append("Without a cloud load balancer controller (bare metal), install one such as MetalLB")
    return fix(
        sentence,
        [
            f"kubectl -n {namespace} describe service {name}",
            f"kubectl -n {namespace} get events --field-selector involvedObject.name={name}",
        ],
        notes=notes,
    )


def prefect_namespace(seen: Seen) -> str:
    return str(seen.target("kubernetes.namespace") or seen.find("namespace") or "prefect")


def prefect_deployments(seen: Seen) -> list[tuple[str, str]]:
    """(namespace, name) of the Prefect Deployments the evidence names, the server first."""
    refs = [(ns, name) for _, ns, name in seen.kube_refs("Deployment", "StatefulSet") if "prefect" in name]
    return sorted(refs, key=lambda r: (0 if "server" in r[1] else 1, r[1]))


def render_workloads(seen: Seen) -> str | None:
    refs = prefect_deployments(seen)
    failing = " ".join(str(o.get("observed")) for o in seen.unmet())
    namespace = refs[0][0] if refs else prefect_namespace(seen)
    broken = [r for r in refs if r[1] in failing] or refs[:1]
    if not broken:
        return fix(
            f"Install the Prefect server chart in namespace {namespace}, or set kubernetes.namespace in the "
            "targets file to the namespace it runs in",
            [f"kubectl -n {namespace} get deployments,statefulsets --show-labels"],
        )
    commands = []
    for ns, name in broken[:2]:
        commands += [
            f"kubectl -n {ns} describe deployment {name}",
            f"kubectl -n {ns} logs deployment/{name} --previous",
        ]
    ns, name = broken[0]
    commands.append(f"kubectl -n {ns} rollout restart deployment/{name}")
    labels = seen.unmet_labels()
    values = [
        "server.env (PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_REDIS_MESSAGING_HOST)",
        "backgroundServices.messaging.redis.existingSecret",
    ]
    if "without cpu and memory requests" in labels:
        values = ["server.resources.requests", "worker.resources.requests"]
    return fix(
        f"Find why Deployment {ns}/{name} is not Available or restarts (database URL, Redis credentials, "
        "migrations), fix its values and restart it",
        commands,
        values,
    )


# -- edge: DNS and TLS -------------------------------------------------------------------------------
def hosts(seen: Seen) -> list[str]:
    out = [str(h) for h in (seen.target("edge.api_host"), seen.target("edge.ui_host")) if h]
    names = seen.find("names") or seen.find("caa")
    if isinstance(names, Mapping):
        out += [str(n) for n in names if str(n) not in out]
    return out


def _domain(host: str) -> str:
    return host.split(".", 1)[1] if host.count(".") >= 2 else host


def _port(seen: Seen) -> int:
    port = seen.target("edge.port")
    return int(port) if port else 443


def render_dns(seen: Seen) -> str | None:
    names = hosts(seen)
    if not names:
        return None
    lb = seen.target("edge.lb_address")
    literal = seen.find("load_balancer")
    if isinstance(literal, Mapping):
        lb = lb or literal.get("literal") or literal.get("hostname")
    domain = _domain(names[0])
    if not lb:
        return fix(
            f"Point {' and '.join(names)} at the load balancer",
            notes=[
                unknown(
                    "load balancer's address",
                    "edge.lb_address",
                    "discovery reads it from the ingress controller's LoadBalancer Service",
                )
            ],
        )
    record = "A" if re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+", str(lb)) else "CNAME"
    provider = seen.context.provider
    commands = []
    for host in names[:2]:
        short = host.removesuffix("." + domain)
        if provider == "gcp":
            zone = f'$(gcloud dns managed-zones list --filter "dnsName={domain}." --format "value(name)")'
            commands.append(
                f"gcloud dns record-sets create {host}. --zone {zone} --type {record} --ttl 300 --rrdatas {lb}"
            )
        elif provider == "azure" and seen.target("cloud.resource_group"):
            kind = "a add-record --ipv4-address" if record == "A" else "cname set-record --cname"
            commands.append(
                f"az network dns record-set {kind} {lb} --resource-group {seen.target('cloud.resource_group')} "
                f"--zone-name {domain} --record-set-name {short}"
            )
        else:
            commands.append(f"dig +short {host} {record}")
    sentence = f"Create {record} records {' and '.join(names)} → {lb} in the zone {domain}"
    notes = []
    if provider == "aws":
        notes.append(
            f"In Route 53 the hosted zone of {domain} is listed by `aws route53 list-hosted-zones-by-name "
            f"--dns-name {domain}`; an alias record to the load balancer serves best"
        )
    return fix(sentence, commands, notes=notes)


def render_caa(seen: Seen) -> str | None:
    identifier = seen.find("issuer_identifier")
    if isinstance(identifier, Mapping):
        identifier = identifier.get("value")
    caa = seen.find("caa")
    where = (
        next((v.get("found_at") for v in caa.values() if isinstance(v, Mapping) and v.get("found_at")), None)
        if isinstance(caa, Mapping)
        else None
    )
    names = hosts(seen)
    zone = where or (_domain(names[0]) if names else None)
    if not zone:
        return None
    issuer = identifier or seen.target("edge.caa_issuer")
    if not issuer:
        return fix(
            f"Add a CAA issue record at {zone} for the CA that issues the ingress certificate",
            [f"dig +short {zone} CAA"],
            notes=[unknown("CA's CAA identifier", "edge.caa_issuer")],
        )
    return fix(
        f'Add the CAA record {zone}. CAA 0 issue "{issuer}" (the CA that issued the served certificate)',
        [f"dig +short {zone} CAA"],
    )


def render_tls(seen: Seen, rid: str) -> str | None:
    names = hosts(seen)
    if not names:
        return None
    port = _port(seen)
    host = names[0]
    sans = " and ".join(names)
    issuer = seen.find("issuer")
    by = f" (served now: issuer {issuer})" if isinstance(issuer, str) and issuer else ""
    check = f"openssl s_client -connect {host}:{port} -servername {host} -showcerts"
    provider = seen.context.provider
    reissue = {
        "aws": f"aws acm request-certificate --domain-name {names[0]} "
        + (f"--subject-alternative-names {' '.join(names[1:])} " if names[1:] else "")
        + "--validation-method DNS",
        "gcp": f"gcloud certificate-manager certificates create {host.split('.')[0]}-cert --domains {','.join(names)}",
        "azure": None,
    }.get(provider or "")
    ingress_cfg = "kubectl -n ingress-nginx edit configmap ingress-nginx-controller"
    if rid == "TLS-CHAIN":
        return fix(
            f"Serve the full chain (leaf, then every intermediate) for {sans}{by} in the TLS Secret of the "
            "Ingress or Gateway, or at the load balancer",
            [check],
        )
    if rid == "TLS-HOSTNAME":
        return fix(f"Reissue the certificate with the SANs {sans}{by}", [c for c in (reissue, check) if c])
    if rid in ("TLS-EXPIRY", "TLS-EXPIRY-HEADROOM"):
        return fix(
            f"Renew the certificate of {sans}{by} and check its renewal automation (cert-manager Certificate "
            "status, ACM renewal eligibility, Key Vault auto-renewal)",
            ["kubectl get certificates --all-namespaces", check],
        )
    if rid == "TLS-PROTOCOLS":
        return fix(
            f"Offer only TLS 1.2 and 1.3 on {sans}:{port}: ingress-nginx ConfigMap ssl-protocols "
            '"TLSv1.2 TLSv1.3", or the load balancer\'s TLS policy',
            [ingress_cfg, check],
        )
    if rid == "TLS-KEY-STRENGTH":
        return fix(
            f"Reissue the certificate of {sans} with an RSA 2048+ or ECDSA P-256+ key, signed with SHA-256 "
            f"or stronger{by}",
            [
                f"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {host}.key "
                f"-out {host}.csr -subj /CN={host} -addext subjectAltName=" + ",".join(f"DNS:{n}" for n in names)
            ],
        )
    if rid == "TLS-HSTS":
        return fix(
            f"Send Strict-Transport-Security and redirect plain HTTP to HTTPS on {sans}: ingress-nginx ConfigMap "
            'hsts "true" and ssl-redirect "true"',
            [ingress_cfg, f"curl -sI http://{host}/"],
            values=['ingress.annotations: nginx.ingress.kubernetes.io/force-ssl-redirect: "true"'],
        )
    return None


# -- Redis and PostgreSQL ----------------------------------------------------------------------------
def _smallest(table: Mapping[str, Any], min_vcpu: float, min_memory: float) -> str | None:
    fits = [
        (float(s.get("memory_gib", 0)), float(s.get("vcpu", 0)), name)
        for name, s in table.items()
        if float(s.get("vcpu", 0)) >= min_vcpu and float(s.get("memory_gib", 0)) >= min_memory
    ]
    return min(fits)[2] if fits else None


def _managed(seen: Seen, service_key: str) -> tuple[str | None, str | None]:
    """(cloud, resource ID) of the managed service the evidence (or the targets) name."""
    cloud = seen.find("cloud")
    resource = seen.find("resource")
    if not resource and seen.target(f"cloud.{service_key}"):
        cloud, resource = seen.context.provider, seen.target(f"cloud.{service_key}")
    return (str(cloud) if cloud else None), (str(resource) if resource else None)


def _azure_parts(resource: str) -> tuple[str | None, str]:
    """(resource group, name) of an Azure resource ID (or a bare name)."""
    match = re.search(r"/resourceGroups/([^/]+)/.*/([^/]+)$", resource, re.I)
    return (match.group(1), match.group(2)) if match else (None, resource.rsplit("/", 1)[-1])


def _gcp_name(resource: str) -> str:
    return resource.rsplit("/", 1)[-1].split(":")[-1]


def _gcp_where(seen: Seen, resource: str, region: Any) -> tuple[str | None, str | None]:
    """(project, region) of a GCP resource: its path (projects/P/locations/R/...) or ID (P:name), else the targets."""
    match = re.match(r"projects/([^/]+)/locations/([^/]+)/", resource)
    if match:
        return match.group(1), match.group(2)
    project = resource.split(":", 1)[0] if ":" in resource else None
    return project or seen.target("cloud.project"), (str(region) if region else None)


def _redis_url(seen: Seen) -> str | None:
    url = seen.find("redis")
    return _URL_USERINFO.sub(r"\g<scheme>", str(url)) if isinstance(url, str) and "://" in url else None


def render_redis(seen: Seen, rid: str) -> str | None:
    ctx = seen.context
    cloud, resource = _managed(seen, "redis")
    min_memory = float(ctx.params.get("REDIS-MEMORY", {}).get("min_gib", 13))
    min_vcpu = float(ctx.params.get("REDIS-CPU", {}).get("min_vcpu", 2))
    url = _redis_url(seen)
    values_tls = "backgroundServices.messaging.redis.ssl: true"
    if resource and cloud in ("aws", "gcp", "azure"):
        size = _smallest(ctx.catalog.get("redis_node_types") or {}, min_vcpu, min_memory) or REDIS_TYPES.get(cloud)
        region = seen.find("region") or seen.target("cloud.region")
        if cloud == "aws":
            single = str(seen.find("asked") or "").startswith("DescribeCacheClusters")
            modify = (
                f"aws elasticache modify-cache-cluster --cache-cluster-id {resource}"
                if single
                else f"aws elasticache modify-replication-group --replication-group-id {resource}"
            )
            modify += f" --region {region}" if region else ""
            what = f"ElastiCache {'cache cluster' if single else 'replication group'} {resource}"
            if rid in ("REDIS-MEMORY", "REDIS-CPU", "REDIS-HEADROOM") and size:
                return fix(
                    f"Move {what} (node type {seen.find('node_type')}) to {size} ({min_vcpu:g} vCPU, "
                    f"{min_memory:g} GiB or more)",
                    [f"{modify} --cache-node-type {size} --apply-immediately"],
                )
            if rid == "REDIS-VERSION":
                return fix(
                    f"Upgrade {what} to Redis 6.2 or newer", [f"{modify} --engine-version 7.1 --apply-immediately"]
                )
            if rid == "REDIS-TLS":
                return fix(
                    f"Enable in-transit encryption on {what}",
                    [f"{modify} --transit-encryption-enabled --transit-encryption-mode preferred"],
                    [values_tls],
                )
            if rid == "REDIS-AUTH":
                return fix(
                    f"Require an AUTH token on {what} ({modify.split(' --region')[0]} with --auth-token, read from "
                    "your secret store, and --auth-token-update-strategy SET) and give Prefect the token from a Secret",
                    [f"aws elasticache describe-replication-groups --replication-group-id {resource}"],
                    ["backgroundServices.messaging.redis.existingSecret"],
                )
            if rid == "REDIS-EVICTION":
                return fix(
                    f"Set maxmemory-policy noeviction in the parameter group of {what}",
                    [f"aws elasticache describe-replication-groups --replication-group-id {resource}"],
                )
        if cloud == "gcp":
            name = _gcp_name(resource)
            project, region = _gcp_where(seen, resource, region)
            where = " ".join(
                p for p in (f"--region {region}" if region else "", f"--project {project}" if project else "") if p
            )
            if rid in ("REDIS-MEMORY", "REDIS-CPU", "REDIS-HEADROOM"):
                return fix(
                    f"Resize Memorystore instance {resource} to at least {min_memory:g} GB",
                    [f"gcloud redis instances update {name} {where} --size {int(-(-min_memory // 1))}"],
                )
            if rid == "REDIS-VERSION":
                return fix(
                    f"Upgrade Memorystore instance {resource} to Redis 7",
                    [f"gcloud redis instances upgrade {name} {where} --redis-version redis_7_2"],
                )
            if rid == "REDIS-EVICTION":
                return fix(
                    f"Set maxmemory-policy noeviction on Memorystore instance {resource}",
                    [f"gcloud redis instances update {name} {where} --update-redis-config maxmemory-policy=noeviction"],
                )
        if cloud == "azure":
            group, name = _azure_parts(resource)
            if rid in ("REDIS-MEMORY", "REDIS-CPU", "REDIS-HEADROOM") and size:
                tier, vm = size.split("_", 1)
                return fix(
                    f"Scale Azure Cache for Redis {resource} (SKU {seen.find('sku')}) to {size}",
                    [f"az redis update --ids {resource} --sku {tier} --vm-size {vm.lower()}"],
                )
            if rid == "REDIS-VERSION":
                return fix(
                    f"Upgrade Azure Cache for Redis {name} to Redis 6",
                    [f"az redis update --ids {resource} --set redisVersion=6"],
                )
            if rid == "REDIS-TLS":
                return fix(
                    f"Turn off the non-TLS port of Azure Cache for Redis {name} and connect on 6380",
                    [f"az redis update --ids {resource} --set enableNonSslPort=false"],
                    [values_tls],
                )
            del group
    if url is None:
        return None
    cli = f"redis-cli -u {url}" + (" --tls" if url.startswith("rediss://") else "")
    workload = seen.target("redis.workload")
    where = f"the Redis at {url}" + (f" ({workload})" if workload else "")
    if rid == "REDIS-MEMORY" or rid == "REDIS-HEADROOM":
        return fix(
            f"Give {where} at least {min_memory:g} GiB of maxmemory (and the memory under it)",
            [f"{cli} CONFIG SET maxmemory {int(-(-min_memory // 1))}gb", f"{cli} CONFIG REWRITE"],
            ["redis.master.resources.limits.memory (the chart's own Redis)"],
        )
    if rid == "REDIS-EVICTION":
        return fix(
            f"Stop {where} evicting Prefect's streams",
            [f"{cli} CONFIG SET maxmemory-policy noeviction", f"{cli} CONFIG REWRITE"],
        )
    if rid == "REDIS-VERSION":
        return fix(
            f"Upgrade {where} to Redis 6.2 or newer (its image or package)",
            [f"{cli} INFO server"],
            ["redis.image.tag (the chart's own Redis)"],
        )
    if rid == "REDIS-AUTH":
        return fix(
            f"Require a password (requirepass or an ACL user) on {where} and give Prefect the credentials",
            [f"{cli} ACL LIST"],
            ["backgroundServices.messaging.redis.existingSecret", "backgroundServices.messaging.redis.username"],
        )
    if rid == "REDIS-TLS":
        return fix(
            f"Serve TLS on {where} (tls-port, tls-cert-file, tls-key-file) and connect Prefect with TLS",
            [f"{cli} CONFIG GET tls-port"],
            [values_tls],
        )
    if rid == "REDIS-CPU":
        return fix(
            f"Give {where} at least {min_vcpu:g} vCPU",
            [f"{cli} INFO cpu"],
            ["redis.master.resources.requests.cpu (the chart's own Redis)"],
        )
    return None


def _pg_target(seen: Seen) -> str | None:
    server = seen.find("postgres")
    return str(server) if isinstance(server, str) and server else None


def _connection_budget(params: Mapping[str, Any]) -> int:
    pool = int(params.get("pool_size", 5)) + int(params.get("max_overflow", 10))
    return pool * (int(params.get("server_replicas", 3)) + int(params.get("service_processes", 1))) + int(
        params.get("reserve", 10)
    )


def render_postgres(seen: Seen, rid: str) -> str | None:
    ctx = seen.context
    cloud, resource = _managed(seen, "postgres")
    params = ctx.params.get("PG-CAPACITY", {})
    min_vcpu, min_memory = float(params.get("min_vcpu", 4)), float(params.get("min_memory_gib", 32))
    major = int(
        ctx.params.get("PG-VERSION-TESTED", {}).get("major")
        or ctx.params.get("PG-VERSION-MIN", {}).get("min_major", 14)
    )
    budget = _connection_budget(ctx.params.get("PG-CONNECTIONS", {}))
    if resource and cloud in ("aws", "gcp", "azure"):
        size = _smallest(
            ctx.catalog.get("postgres_instance_classes") or {}, min_vcpu, min_memory
        ) or POSTGRES_TYPES.get(cloud)
        region = seen.find("region") or seen.target("cloud.region")
        if cloud == "aws":
            modify = f"aws rds modify-db-instance --db-instance-identifier {resource}" + (
                f" --region {region}" if region else ""
            )
            if rid == "PG-CAPACITY" and size:
                return fix(
                    f"Move RDS instance {resource} (instance class {seen.find('instance_class')}) to {size} "
                    f"({min_vcpu:g} vCPU, {min_memory:g} GiB or more)",
                    [f"{modify} --db-instance-class {size} --apply-immediately"],
                )
            if rid in ("PG-VERSION-MIN", "PG-VERSION-TESTED"):
                return fix(
                    f"Upgrade RDS instance {resource} to PostgreSQL {major}",
                    [f"{modify} --engine-version {major} --allow-major-version-upgrade --apply-immediately"],
                )
            if rid == "PG-TLS":
                return fix(
                    f"Set rds.force_ssl=1 in the DB parameter group of RDS instance {resource}",
                    [
                        f"aws rds describe-db-instances --db-instance-identifier {resource} --query "
                        "DBInstances[0].DBParameterGroups"
                    ],
                )
            if rid in ("PG-CONNECTIONS", "PG-HEADROOM"):
                return fix(
                    f"Raise max_connections of RDS instance {resource} to at least {budget} in its DB parameter "
                    "group, or put RDS Proxy or PgBouncer in front",
                    [
                        f"aws rds describe-db-instances --db-instance-identifier {resource} --query "
                        "DBInstances[0].DBParameterGroups"
                    ],
                )
        if cloud == "gcp":
            name = _gcp_name(resource)
            project, _ = _gcp_where(seen, resource, region)
            where = f" --project {project}" if project else ""
            if rid == "PG-CAPACITY":
                return fix(
                    f"Resize Cloud SQL instance {resource} to at least {min_vcpu:g} vCPU and {min_memory:g} GiB",
                    [f"gcloud sql instances patch {name}{where} --cpu {int(min_vcpu)} --memory {int(min_memory)}GB"],
                )
            if rid in ("PG-VERSION-MIN", "PG-VERSION-TESTED"):
                return fix(
                    f"Upgrade Cloud SQL instance {resource} to PostgreSQL {major}",
                    [f"gcloud sql instances patch {name}{where} --database-version POSTGRES_{major}"],
                )
            if rid in ("PG-CONNECTIONS", "PG-HEADROOM"):
                return fix(
                    f"Raise max_connections of Cloud SQL instance {resource} to at least {budget}",
                    [f"gcloud sql instances patch {name}{where} --database-flags max_connections={budget}"],
                )
            if rid == "PG-TLS":
                return fix(
                    f"Require TLS on Cloud SQL instance {resource}",
                    [f"gcloud sql instances patch {name}{where} --ssl-mode ENCRYPTED_ONLY"],
                )
        if cloud == "azure":
            group, name = _azure_parts(resource)
            if rid == "PG-CAPACITY" and size:
                tier = "MemoryOptimized" if size.startswith("Standard_E") else "GeneralPurpose"
                return fix(
                    f"Move PostgreSQL flexible server {resource} (SKU {seen.find('sku')}) to {size}",
                    [f"az postgres flexible-server update --ids {resource} --tier {tier} --sku-name {size}"],
                )
            if rid in ("PG-VERSION-MIN", "PG-VERSION-TESTED"):
                return fix(
                    f"Upgrade PostgreSQL flexible server {name} to PostgreSQL {major}",
                    [f"az postgres flexible-server upgrade --ids {resource} --version {major}"],
                )
            if rid in ("PG-CONNECTIONS", "PG-HEADROOM") and group:
                return fix(
                    f"Raise max_connections of PostgreSQL flexible server {name} to at least {budget}",
                    [
                        f"az postgres flexible-server parameter set --resource-group {group} --server-name {name} "
                        f"--name max_connections --value {budget}"
                    ],
                )
            if rid == "PG-TLS" and group:
                return fix(
                    f"Require TLS on PostgreSQL flexible server {name}",
                    [
                        f"az postgres flexible-server parameter set --resource-group {group} --server-name {name} "
                        "--name require_secure_transport --value on"
                    ],
                )
    server = _pg_target(seen)
    if server is None:
        return None
    host = server.split(" ", 1)[0].split("/", 1)[0]
    psql = f'psql "host={host.rsplit(":", 1)[0]} port={host.rsplit(":", 1)[-1]} sslmode=verify-full"'
    namespace = prefect_namespace(seen)
    if rid == "PG-SCHEMA":
        return fix(
            f"Apply Prefect's migrations to {server} from the Prefect server of namespace {namespace}",
            [f"kubectl -n {namespace} exec deployment/prefect-server -- prefect server database upgrade -y"],
            ["migrations.enabled: true"],
        )
    if rid in ("PG-CONNECTIONS", "PG-HEADROOM"):
        return fix(
            f"Raise max_connections on {server} to at least {budget} (a restart applies it), or put PgBouncer in front",
            [f'{psql} -c "ALTER SYSTEM SET max_connections = {budget}"'],
        )
    if rid == "PG-TLS":
        return fix(
            f"Accept only TLS on {server}: hostssl lines (not host) in pg_hba.conf, ssl = on, and "
            "sslmode=verify-full in Prefect's connection URL",
            [f'{psql} -c "SHOW hba_file"'],
            ["server.env (PREFECT_API_DATABASE_CONNECTION_URL with ?sslmode=verify-full)"],
        )
    if rid in ("PG-VERSION-MIN", "PG-VERSION-TESTED"):
        return fix(
            f"Upgrade {server} to PostgreSQL {major} (pg_upgrade, or a dump and restore)",
            [f'{psql} -c "SELECT version()"'],
            ["postgresql.image.tag (the chart's own PostgreSQL)"],
        )
    if rid == "PG-CAPACITY":
        return fix(
            f"Give {server} at least {min_vcpu:g} vCPU and {min_memory:g} GiB",
            values=["postgresql.primary.resources (the chart's own PostgreSQL)"],
        )
    return None


# -- Istio -------------------------------------------------------------------------------------------
def render_mesh(seen: Seen, rid: str) -> str | None:
    namespace = prefect_namespace(seen)
    mesh_ns = str(seen.target("kubernetes.mesh_namespace") or seen.find("root_namespace") or "istio-system")
    if rid == "MESH-CONTROL-PLANE":
        return fix(
            f"Make istiod Available in namespace {mesh_ns}",
            [
                f"kubectl -n {mesh_ns} rollout status deployment/istiod",
                f"kubectl -n {mesh_ns} describe deployment istiod",
                "istioctl install --set profile=default",
            ],
        )
    if rid == "MESH-MTLS-STRICT":
        policies = seen.find("peer_authentications")
        weak = [
            str(n).removeprefix("PeerAuthentication ")
            for n, spec in (policies or {}).items()
            if isinstance(spec, Mapping) and (spec.get("mtls") or {}).get("mode") not in (None, "STRICT")
        ]
        commands = [
            f"kubectl -n {ref.split('/')[0]} patch peerauthentication {ref.split('/')[-1]} --type merge -p "
            '\'{"spec":{"mtls":{"mode":"STRICT"}}}\''
            for ref in weak[:3]
        ]
        if weak:
            what = f"PeerAuthentication {', '.join(weak)}"
        else:
            what = f"a PeerAuthentication named default in {mesh_ns} (mesh-wide) or in namespace {namespace}"
            commands = ["kubectl get peerauthentication,destinationrule --all-namespaces"]
        return fix(f"Set mtls.mode STRICT on {what}, and tls.mode ISTIO_MUTUAL on the DestinationRules of the Prefect "
                   "services", commands)  # fmt: skip
    if rid == "MESH-SIDECARS":
        pods = seen.find("pods") or {}
        bare = [p for p, state in pods.items() if state != "sidecar"] if isinstance(pods, Mapping) else []
        deployments = sorted({re.sub(r"-[a-z0-9]{8,10}-[a-z0-9]{5}$", "", p) for p in bare}) or ["prefect-server"]
        return fix(
            f"Inject the sidecar into namespace {namespace}"
            + (f" (pods without it: {', '.join(bare)})" if bare else ""),
            [
                f"kubectl label namespace {namespace} istio-injection=enabled --overwrite",
                *(f"kubectl -n {namespace} rollout restart deployment/{d}" for d in deployments[:3]),
            ],
        )
    if rid == "MESH-AUTHZ":
        policies = seen.find("authorization_policies") or {}
        found = f" (found: {', '.join(map(str, policies))})" if isinstance(policies, Mapping) and policies else ""
        return fix(
            f"Apply a deny-by-default AuthorizationPolicy and ALLOW policies for the ingress gateway and the "
            f"Prefect services in namespace {namespace}{found}",
            [f"kubectl -n {namespace} get authorizationpolicies"],
        )
    if rid == "MESH-ROUTING":
        broken = ("no ready endpoints", "no such Service", "no such port", "not attached", "no backendRef")
        dead = [
            str(r) for r in seen.find("routes") or [] if "(HTTPRoute " in str(r) and any(b in str(r) for b in broken)
        ]
        if dead:
            routes = sorted({m.group(1) for r in dead if (m := re.search(r"\(HTTPRoute ([\w.-]+/[\w.-]+)\)", r))})
            backends = sorted(
                {m.groups() for r in dead for m in re.finditer(r"([\w-]+)\.([\w-]+)\.svc[\w.]*(?::\d+)? no ", r)}
            )
            commands = [f"kubectl -n {ref.split('/')[0]} describe httproute {ref.split('/')[1]}" for ref in routes]
            commands += [f"kubectl -n {ns} get endpointslices -l kubernetes.io/service-name={name}"
                         for name, ns in backends[:2]]  # fmt: skip
            return fix(
                f"HTTPRoute {', '.join(routes)} sends {'; '.join(dead)}: point each backendRef at the Prefect "
                "Service and port that have ready endpoints (or make that Service's pods Ready)",
                commands,
                values=["httproute.enabled: true", "service.port (the Service the chart's HTTPRoute targets)"],
            )
        gateways = list(seen.find("gateways") or {})
        services = list(seen.find("virtual_services") or {})
        names = hosts(seen)
        objects = (
            ", ".join(map(str, gateways + services)) or f"the Gateway and VirtualServices of namespace {namespace}"
        )
        return fix(
            f"Route {' and '.join(names) or 'the API and UI hosts'} through {objects} to live Prefect services "
            "(the API under /api, the UI under /)",
            [f"kubectl -n {namespace} get gateway,virtualservice,service", "istioctl analyze -n " + namespace],
        )
    if rid == "MESH-MTLS-PROBE":
        return fix(
            f"Plaintext reached a Prefect pod in namespace {namespace}: check PeerAuthentication precedence "
            "(workload over namespace over mesh) and that the pod has its sidecar",
            [
                f"istioctl analyze -n {namespace}",
                f"kubectl -n {namespace} get peerauthentication",
            ],
        )
    return None


# -- identity, SMTP ----------------------------------------------------------------------------------
def render_sso(seen: Seen, rid: str) -> str | None:
    issuer = seen.target("oidc.issuer") or seen.find("issuer")
    if not issuer:
        return fix(
            "Check the identity provider's discovery document, the application and the test user",
            notes=[unknown("identity provider's issuer", "oidc.issuer")],
        )
    preset = seen.target("oidc.preset") or "oidc"
    client = seen.target("oidc.client_id")
    redirect = seen.target("oidc.redirect_uri")
    discovery = f"curl -s {str(issuer).rstrip('/')}/.well-known/openid-configuration"
    app = {"okta": "the Okta application", "adfs": "the ADFS application group"}.get(str(preset), "the OIDC client")
    if rid == "SSO-DISCOVERY":
        return fix(
            f"Check the issuer {issuer}: its discovery document, HTTPS endpoints, PKCE S256 on {app}"
            + (f" {client}" if client else "")
            + ", and NTP on the provider",
            [discovery],
        )
    parts = [f"Check {app}" + (f" {client}" if client else "") + f" at issuer {issuer}"]
    if redirect:
        parts.append(f"its redirect URI {redirect}")
    user = seen.target("oidc.username")
    if user:
        parts.append(f"that user {user} is assigned to it")
    parts.append("and the claims it emits (email, groups)")
    return fix(", ".join(parts), [discovery])


def render_smtp(seen: Seen, rid: str) -> str | None:
    host = seen.target("smtp.host")
    port = seen.target("smtp.port") or 587
    if not host:
        return None
    user = seen.target("smtp.username")
    check = f"openssl s_client -starttls smtp -connect {host}:{port} -servername {host}"
    if rid == "SMTP-TLS":
        return fix(
            f"Offer STARTTLS (or implicit TLS on 465) on {host}:{port} with a certificate for {host} from a "
            "trusted CA, TLS 1.2 or newer",
            [check],
        )
    if rid == "SMTP-AUTH":
        return fix(
            f"Check the account {user or 'configured in smtp.username'} on {host}:{port} (SES SMTP credentials, "
            "SendGrid API key) and that the relay offers AUTH only after STARTTLS",
            [check],
        )
    sender = seen.target("smtp.sender") or seen.find("from")
    domain = str(sender).split("@")[-1] if sender else None
    commands = [f"dig +short TXT {domain}", f"dig +short TXT _dmarc.{domain}"] if domain else []
    return fix(
        f"Mail from {sender or 'the sender'} through {host} did not arrive: check the sender domain's "
        "SPF/DKIM/DMARC, the relay's sender verification (SES sandbox) and the recipient's spam folder",
        commands,
    )


# -- Prefect -----------------------------------------------------------------------------------------
def _api_url(seen: Seen) -> str | None:
    url = seen.target("prefect.api_url")
    if url:
        return str(url)
    for text in seen.texts():
        match = re.search(r"https?://[^\s\"]+/api\b", text)
        if match:
            return match.group(0)
    return None


def render_prefect(seen: Seen, rid: str) -> str | None:
    namespace = prefect_namespace(seen)
    server = "deployment/prefect-server"
    url = _api_url(seen)
    logs = f"kubectl -n {namespace} logs {server} --tail 200"
    if rid == "PREFECT-API-HEALTH":
        return fix(
            f"The API at {url or 'prefect.api_url'} is not ready: check the prefect-server pods in namespace "
            f"{namespace}, their database settings and the ingress route to /api",
            [f"curl -s {url}/ready" if url else f"kubectl -n {namespace} get pods", logs],
            ["server.env", "externalDatabase"],
        )
    if rid == "PREFECT-API-VERSION":
        return fix(
            f"Upgrade the Prefect server image in namespace {namespace} to Prefect 3 "
            "(helm -n " + namespace + " list names the release)",
            [f"kubectl -n {namespace} get {server} -o jsonpath={{.spec.template.spec.containers[0].image}}"],
            ["global.prefect.image.prefectTag: 3-latest"],
        )
    if rid == "PREFECT-API-AUTHN":
        return fix(
            f"Make the API at {url or 'prefect.api_url'} refuse requests without credentials: basic auth on "
            f"the server in namespace {namespace} (or API keys), and an Istio RequestAuthentication",
            [f"curl -s -o /dev/null -w %{{http_code}} {url}/flows/filter -X POST" if url else logs],
            ["server.basicAuth.enabled: true", "server.basicAuth.existingSecret"],
        )
    if rid in ("PREFECT-E2E-FLOW-RUN", "PREFECT-WORKER-HEARTBEAT"):
        pool = seen.target("prefect.work_pool") or seen.find("work_pool")
        via = seen.find("via")
        if not pool and isinstance(via, str):
            match = re.search(r"work pool (\S+)", via)
            pool = match.group(1) if match else None
        worker = "deployment/prefect-worker"
        commands = [f"prefect work-pool inspect {pool}"] if pool else []
        commands += [f"kubectl -n {namespace} logs {worker} --tail 200"]
        return fix(
            f"Check that a worker polls work pool {pool or 'prefect.work_pool'} (its logs, the API URL and "
            f"credentials it uses) in namespace {namespace}, and Redis messaging",
            commands,
            [f"worker.config.workPool: {pool}" if pool else "worker.config.workPool"],
        )
    if rid == "PREFECT-UI-API-URL":
        api = url or (f"https://{seen.target('edge.api_host')}/api" if seen.target("edge.api_host") else None)
        if not api:
            return None
        return fix(
            f"Give the UI the public API URL {api} and route /api at the ingress",
            [f"kubectl -n {namespace} set env {server} PREFECT_UI_API_URL={api}"],
            [f"server.uiConfig.prefectUiApiUrl: {api}"],
        )
    if rid == "PREFECT-EVENTS-WEBSOCKET":
        refs = seen.kube_refs("Ingress")
        ingress = f"{refs[0][1]}/{refs[0][2]}" if refs else None
        commands = (
            [
                f"kubectl -n {ingress.split('/')[0]} annotate ingress {ingress.split('/')[1]} "
                "nginx.ingress.kubernetes.io/proxy-read-timeout=3600 "
                "nginx.ingress.kubernetes.io/proxy-send-timeout=3600 --overwrite"
            ]
            if ingress
            else []
        )
        return fix(
            f"Let websockets to {url or 'the API'}/events pass the load balancer and "
            f"{'Ingress ' + ingress if ingress else 'the ingress'} with idle timeouts above the event gaps",
            commands,
            ['ingress.annotations: nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"'],
        )
    return None


def render_load(seen: Seen, rid: str) -> str | None:
    namespace = prefect_namespace(seen)
    url = _api_url(seen)
    pods = seen.find("pod_restarts")
    at = f" (API {url})" if url else ""
    commands = [
        f"kubectl -n {namespace} top pods",
        f"kubectl -n {namespace} scale deployment/prefect-server --replicas 3",
    ]
    values = ["server.replicaCount: 3", "server.autoscaling.enabled: true"]
    if rid == "LOAD-RECOVERY":
        where = pods.get("where") if isinstance(pods, Mapping) else None
        return fix(
            f"After the load the API{at} recovered slowly: check Redis messaging backlog, database locks and "
            f"restarts of the Prefect pods in namespace {namespace}" + (f" ({where})" if where else ""),
            [f"kubectl -n {namespace} get pods", f"kubectl -n {namespace} logs deployment/prefect-server --tail 200"],
        )
    what = {"LOAD-LATENCY": "too slow", "LOAD-ERRORS": "failing", "LOAD-THROUGHPUT": "short of the throughput"}.get(
        rid, ""
    )
    failing: dict[str, int] = {}
    for error in seen.find("errors") or []:
        if isinstance(error, Mapping) and error.get("name"):
            failing[str(error["name"])] = failing.get(str(error["name"]), 0) + int(error.get("count") or 1)
    worst = sorted(failing.items(), key=lambda item: -item[1])[:3]
    endpoints = "; failing most: " + ", ".join(f"{name} ({count} errors)" for name, count in worst) if worst else ""
    slow = [o for o in seen.unmet() if "latency" in str(o.get("label", ""))]
    if slow and not endpoints:
        endpoints = "; slowest: " + ", ".join(str(o.get("label")) for o in slow[:3])
    return fix(
        f"The Prefect API{at} is {what} under load{endpoints}: add server replicas in namespace {namespace}, check "
        "the database's CPU and connection pools (the load section lists each endpoint)",
        commands,
        values,
    )


# -- dispatch ----------------------------------------------------------------------------------------
Renderer = Callable[[Seen, str], "str | None"]

RENDERERS: dict[str, Renderer] = {
    "K8S-NODE-COUNT": lambda s, _: render_node_count(s),
    "K8S-NODE-SIZE": lambda s, _: render_node_size(s),
    "K8S-VERSION": lambda s, _: render_version(s),
    "K8S-AUTOSCALING": lambda s, _: render_autoscaling(s),
    "K8S-STORAGECLASS": lambda s, _: render_storage(s),
    "K8S-INGRESS-CONTROLLER": lambda s, _: render_ingress(s),
    "K8S-INGRESS-NGINX": lambda s, _: render_ingress_nginx(s),
    "LB-ADDRESS": lambda s, _: render_lb(s),
    "PREFECT-WORKLOADS": lambda s, _: render_workloads(s),
    "DNS-RESOLVES": lambda s, _: render_dns(s),
    "DNS-CAA": lambda s, _: render_caa(s),
}
#: by ID prefix, for the families with one renderer that tells its requirements apart
PREFIX_RENDERERS: dict[str, Renderer] = {
    "TLS-": render_tls,
    "REDIS-": render_redis,
    "PG-": render_postgres,
    "MESH-": render_mesh,
    "SSO-": render_sso,
    "SMTP-": render_smtp,
    "PREFECT-": render_prefect,
    "LOAD-": render_load,
}


def render(requirement: str, observations: Sequence[Mapping[str, Any]], context: Context) -> str | None:
    """The fix for `requirement` from its checks' observations (decisive first), or None when the run saw
    nothing to name (the profile's generic text stays)."""
    renderer = RENDERERS.get(requirement) or next(
        (r for prefix, r in PREFIX_RENDERERS.items() if requirement.startswith(prefix)), None
    )
    if renderer is None or not observations:
        return None
    text = renderer(Seen(observations, context), requirement)
    if not text or PLACEHOLDER.search(text):
        return None
    return text
