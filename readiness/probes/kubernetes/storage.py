"""StorageClasses and CSI drivers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readiness.probes.kubernetes.reader import DEFAULT_CLASS_ANNOTATIONS, KubeReader, Obj


# -- storage ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageClass:
    name: str
    provisioner: str
    default: bool
    allows_expansion: bool
    binding_mode: str
    reclaim_policy: str

    @classmethod
    def parse(cls, obj: Obj) -> StorageClass:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return cls(
            name=obj["metadata"]["name"],
            provisioner=obj.get("provisioner", ""),
            default=any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS),
            allows_expansion=bool(obj.get("allowVolumeExpansion")),
            binding_mode=obj.get("volumeBindingMode") or "Immediate",
            reclaim_policy=obj.get("reclaimPolicy") or "Delete",
        )


@dataclass
class Storage:
    classes: list[StorageClass]
    csi_drivers: list[str]

    @property
    def defaults(self) -> list[StorageClass]:
        return [c for c in self.classes if c.default]

    @property
    def default(self) -> StorageClass | None:
        return self.defaults[0] if self.defaults else None

    def evidence(self) -> dict[str, Any]:
        return {"storage_classes": [vars(c) for c in self.classes], "csi_drivers": self.csi_drivers}


def read_storage(reader: KubeReader) -> Storage:
    classes = [StorageClass.parse(o) for o in reader.pages("/apis/storage.k8s.io/v1/storageclasses",
                                                            what="StorageClasses")]  # fmt: skip
    drivers = [o["metadata"]["name"] for o in reader.pages("/apis/storage.k8s.io/v1/csidrivers",
                                                            what="CSIDrivers")]  # fmt: skip
    return Storage(classes, drivers)
