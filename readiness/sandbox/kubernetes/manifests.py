"""The sandbox cluster as data: YAML manifests, the node group and the scenario patches.

Everything lives under readiness/sandbox/manifests/kubernetes/:
  cluster/*.yaml     the conformant objects, applied in file order (namespaces first)
  layouts/<name>/    another way to lay Prefect out (`--layout helm`: as the prefect-helm charts render it); a file
                     here replaces the cluster/ file of the same name, a new name adds one
  nodepool.yaml      the simulated node group (count, addressing, zones, Node template)
  scale.yaml         extra load for scale runs (--pods)
  kwok.yaml          kwok's configuration and pod stages (not a cluster object)
  scenarios/*.yaml   one fault each: a description, `apply` operations and optional `revert` ones
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from readiness.sandbox.kubernetes.kube import Obj, Ref

MANIFEST_DIR = Path(__file__).resolve().parent.parent / "manifests" / "kubernetes"


def load_yaml_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


#: the layouts `readiness sandbox up --layout` knows: the sandbox's own, and the prefect-helm charts' objects
LAYOUTS = ("default", "helm")
DEFAULT_LAYOUT = "default"
_layout = [DEFAULT_LAYOUT]


def set_layout(name: str) -> None:
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}")
    _layout[0] = name


def layout() -> str:
    return _layout[0]


def cluster_files(layout_name: str | None = None) -> tuple[tuple[str, tuple[Obj, ...]], ...]:
    """(file name, objects) for every conformant manifest of the layout (the current one by default), in apply
    order."""
    return _layout_files(layout_name or _layout[0])


@cache
def _layout_files(layout_name: str) -> tuple[tuple[str, tuple[Obj, ...]], ...]:
    paths = {path.name: path for path in (MANIFEST_DIR / "cluster").glob("*.yaml")}
    if layout_name != DEFAULT_LAYOUT:
        paths.update({path.name: path for path in (MANIFEST_DIR / "layouts" / layout_name).glob("*.yaml")})
    return tuple((name, tuple(load_yaml_documents(paths[name]))) for name in sorted(paths))


#: `${NAME}` placeholders in the manifests and their values: where the sandbox's services listen,
#: so the Prefect Deployment's environment names the real hosts and ports (discovery reads it).
_values: dict[str, str] = {}


def set_values(values: dict[str, str]) -> None:
    _values.clear()
    _values.update(values)


def substitute(obj: Any) -> Any:
    """A deep copy of `obj` with every `${NAME}` in its strings replaced by its value."""
    if isinstance(obj, dict):
        return {key: substitute(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [substitute(value) for value in obj]
    if isinstance(obj, str) and "${" in obj:
        for name, value in _values.items():
            obj = obj.replace("${" + name + "}", value)
    return copy.deepcopy(obj)


def cluster_objects(layout_name: str | None = None) -> list[Obj]:
    return [substitute(obj) for _, objs in cluster_files(layout_name) for obj in objs]


def base_object(ref: Ref) -> Obj | None:
    """The conformant manifest for `ref`, or None when the base does not define it."""
    for obj in cluster_objects():
        if Ref.of(obj) == Ref(ref.api_version, ref.kind, ref.name, ref.namespace):
            return obj
    return None


SCALE_LABEL = "readiness.sandbox/scale"


def scale_objects(pods: int) -> list[Obj]:
    """Namespaces scale-<i> with a Deployment each, `podsPerShard` replicas at most, `pods` in all."""
    data = yaml.safe_load((MANIFEST_DIR / "scale.yaml").read_text())
    per_shard = int(data["podsPerShard"])
    objs: list[Obj] = []
    for shard, start in enumerate(range(0, pods, per_shard)):
        name = f"scale-{shard}"
        namespace = copy.deepcopy(data["namespace"])
        namespace["metadata"]["name"] = name
        deployment = copy.deepcopy(data["deployment"])
        deployment["metadata"]["namespace"] = name
        deployment["spec"]["replicas"] = min(per_shard, pods - start)
        objs += [namespace, deployment]
    return objs


def kwok_config_path() -> Path:
    return MANIFEST_DIR / "kwok.yaml"


def _merge(base: Obj, overlay: Obj) -> Obj:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class NodeShape:
    """Overrides a scenario puts on the node group (empty: the base shape)."""

    count: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] = field(default_factory=dict)
    allocatable: dict[str, str] = field(default_factory=dict)
    #: kubelet version to report instead of the control plane's (an old node group)
    kubelet_version: str | None = None

    @classmethod
    def parse(cls, data: Obj) -> NodeShape:
        return cls(
            count=data.get("count"),
            kubelet_version=data.get("kubeletVersion"),
            labels=dict(data.get("labels", {})),
            capacity={k: str(v) for k, v in data.get("capacity", {}).items()},
            allocatable={k: str(v) for k, v in data.get("allocatable", {}).items()},
        )


@dataclass(frozen=True)
class NodePool:
    count: int
    subnet: ipaddress.IPv4Network
    first_host: int
    name_format: str
    zones: tuple[str, ...]
    template: Obj

    @classmethod
    def load(cls) -> NodePool:
        data = yaml.safe_load((MANIFEST_DIR / "nodepool.yaml").read_text())
        return cls(
            count=int(data["count"]),
            subnet=ipaddress.IPv4Network(data["subnet"]),
            first_host=int(data.get("firstHost", 10)),
            name_format=data["nameFormat"],
            zones=tuple(data["zones"]),
            template=data["template"],
        )

    def address(self, index: int) -> str:
        return str(self.subnet.network_address + self.first_host + index)

    def name(self, index: int) -> str:
        return self.name_format.format(dashed_ip=self.address(index).replace(".", "-"), index=index)

    def node(self, index: int, shape: NodeShape, kubelet_version: str) -> Obj:
        """Node number `index` (0-based) with `shape` applied."""
        ip, name, zone = self.address(index), self.name(index), self.zones[index % len(self.zones)]
        node = copy.deepcopy(self.template)
        meta = node.setdefault("metadata", {})
        meta["name"] = name
        meta["labels"] = {
            **meta.get("labels", {}),
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": zone,
            "topology.ebs.csi.aws.com/zone": zone,
            **shape.labels,
        }
        node["spec"] = {**node.get("spec", {}), "providerID": f"aws:///{zone}/i-{index + 0x0A000000:017x}"}
        status = node.setdefault("status", {})
        status["capacity"] = {**status.get("capacity", {}), **shape.capacity}
        status["allocatable"] = {**status.get("allocatable", {}), **shape.allocatable}
        status["addresses"] = [
            {"type": "InternalIP", "address": ip},
            {"type": "Hostname", "address": name},
            {"type": "InternalDNS", "address": name},
        ]
        version = shape.kubelet_version or kubelet_version
        status["nodeInfo"] = {**status.get("nodeInfo", {}), "kubeletVersion": version, "kubeProxyVersion": version}
        return node


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    apply: tuple[Obj, ...]
    revert: tuple[Obj, ...] | None
    #: the layout the fault needs (its objects exist only there), None for any
    layout: str | None = None


@cache
def scenarios() -> dict[str, Scenario]:
    out: dict[str, Scenario] = {}
    for path in sorted((MANIFEST_DIR / "scenarios").glob("*.yaml")):
        data: dict[str, Any] = yaml.safe_load(path.read_text())
        revert = data.get("revert")
        out[path.stem] = Scenario(
            name=path.stem,
            description=data["description"],
            apply=tuple(data["apply"]),
            revert=tuple(revert) if revert is not None else None,
            layout=data.get("layout"),
        )
    return out


def merge(base: Obj, overlay: Obj) -> Obj:
    return _merge(base, overlay)
