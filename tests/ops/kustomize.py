"""A small renderer of the kustomize features deploy/ uses: resources (files and folders with their own
kustomization), patches (strategic merge, by the patch's kind/name or an explicit target) and images.

No kustomize or kubectl binary is available here (nothing downloads binaries; the Kubernetes build of
tools/k8s does not make kubectl). Any other kustomization key is refused, so the kit cannot come to
depend on a feature this renderer would silently ignore.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

KNOWN = {"apiVersion", "kind", "resources", "patches", "images"}
#: lists merged by their items' `name` (the strategic-merge keys of the fields deploy/ patches)
MERGE_BY_NAME = {"containers", "initContainers", "env", "volumes", "volumeMounts", "ports"}


class KustomizeError(Exception):
    pass


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def merge(base: Any, patch: Any, key: str = "") -> Any:
    """Strategic merge for maps and name-keyed lists; other values are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if key in MERGE_BY_NAME and isinstance(base, list) and isinstance(patch, list):
        out_list = [copy.deepcopy(item) for item in base]
        for item in patch:
            index = next((i for i, b in enumerate(out_list) if b.get("name") == item.get("name")), None)
            if index is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[index] = merge(out_list[index], item)
        return out_list
    return copy.deepcopy(patch)


def _matches(obj: dict[str, Any], target: dict[str, Any]) -> bool:
    meta = obj.get("metadata", {})
    for field, value in target.items():
        if field == "kind" and obj.get("kind") != value:
            return False
        if field == "name" and meta.get("name") != value:
            return False
        if field == "namespace" and meta.get("namespace") != value:
            return False
        if field not in ("kind", "name", "namespace", "group", "version"):
            raise KustomizeError(f"patch target field {field!r} is not supported by this renderer")
    return True


def _images(node: Any, images: list[dict[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    name = container.get("image", "").split("@")[0].rsplit(":", 1)[0]
                    for image in images:
                        if image["name"] == name:
                            container["image"] = f"{image.get('newName', name)}:{image.get('newTag', 'latest')}"
            else:
                _images(value, images)
    elif isinstance(node, list):
        for item in node:
            _images(item, images)


def build(folder: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build FOLDER` would print (for the features above)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text()) or {}
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise KustomizeError(f"{folder}/kustomization.yaml: {sorted(unknown)} not supported by this renderer")
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        objects += build(path) if path.is_dir() else _documents(path)
    for spec in kustomization.get("patches", []):
        for patch in _documents(folder / spec["path"]):
            target = spec.get("target") or {
                "kind": patch["kind"],
                "name": patch["metadata"]["name"],
            }
            hits = [i for i, obj in enumerate(objects) if _matches(obj, target)]
            if not hits:
                raise KustomizeError(f"{folder}: patch {spec['path']} matches no resource ({target})")
            for i in hits:
                body = {k: v for k, v in patch.items() if k != "metadata"}
                body["metadata"] = {
                    k: v for k, v in patch.get("metadata", {}).items() if k not in ("name", "namespace")
                }
                objects[i] = merge(objects[i], body)
    _images(objects, kustomization.get("images", []))
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    if len(set(keys)) != len(keys):
        raise KustomizeError(f"{folder}: the same resource twice: {sorted(k for k in keys if keys.count(k) > 1)}")
    return objects
