"""Storage: a default StorageClass backed by one of the cloud's CSI drivers."""

from __future__ import annotations

import pytest


@pytest.mark.requirement("K8S-STORAGECLASS")
def test_a_default_storageclass_uses_a_csi_driver(kube, expect, params):
    storage = kube.cluster.storage()
    evidence = storage.evidence()
    if params.get("require_default", True):
        expect.true(
            "default StorageClass",
            storage.default is not None,
            observed=[c.name for c in storage.defaults] or f"none of {len(storage.classes)} StorageClass(es)",
            expected="one StorageClass annotated storageclass.kubernetes.io/is-default-class=true",
            evidence=evidence,
        )
        chosen = storage.default
    else:
        expect.at_least("StorageClasses", len(storage.classes), 1, evidence=evidence)
        chosen = storage.classes[0]
    assert chosen is not None
    evidence = {**evidence, "chosen": chosen.name, "volume_expansion": chosen.allows_expansion,
                "binding_mode": chosen.binding_mode}  # fmt: skip
    allowed = params.get("provisioners") or []
    if allowed:
        expect.one_of(f"provisioner of StorageClass {chosen.name}", chosen.provisioner, allowed, evidence=evidence)
