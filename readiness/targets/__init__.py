"""Where the install lives: the targets every suite reads (see readiness/targets/model.py for the layers).

- ``model``: the targets file's shape, :class:`Targets` (the resolved values, each with its source);
- ``files``: layer 1, the targets file; ``conventions``: layer 2, the ecosystem's variables;
- ``discovery``: layer 3, read-only discovery from the cluster; ``kube``: the Kubernetes API client.

:func:`resolve_targets` puts the layers together; this package re-exports the public names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readiness.targets.conventions import _convention_layer, ca_bundle
from readiness.targets.files import _file_layer, load_targets_file
from readiness.targets.model import (
    DEFAULTS,
    HINTS,
    SECRETS,
    SHOWN_SECRET,
    TARGETS_ENV,
    Discoverer,
    Resolved,
    Targets,
    TargetsError,
    _derived,
    all_keys,
)

__all__ = [
    "DEFAULTS", "HINTS", "SECRETS", "SHOWN_SECRET", "TARGETS_ENV", "PrefectTarget", "Resolved", "Targets",
    "TargetsError", "TargetsFile", "all_keys", "ca_bundle", "load_targets_file", "prefect_target", "resolve_targets",
]  # fmt: skip


def resolve_targets(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    kube_context: str | None = None,
    discover: bool = True,
    helm_values: Sequence[str | Path] = (),
    helm_release: str | None = None,
) -> Targets:
    """Resolve the layers. `path` (else READINESS_TARGETS) names the targets file, if any; `helm_values` the
    user's prefect-helm values files (`--targets-from-helm`), `helm_release` their release ([NAMESPACE/]NAME)."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(TARGETS_ENV):
        path = environ[TARGETS_ENV]
    file = Path(path).expanduser().resolve() if path else None
    if file is not None and not file.is_file():
        raise TargetsError(f"{file}: targets file not found")
    values: dict[str, Resolved] = {k: Resolved(v, "default") for k, v in DEFAULTS.items()}
    from_file = _file_layer(file, environ) if file else {}
    from_helm = None
    if helm_values:
        from readiness.targets.helm import Release, helm_layer

        namespace = (from_file.get("kubernetes.namespace") or values["kubernetes.namespace"]).value
        from_helm = helm_layer(helm_values, Release.parse(helm_release), str(namespace))
        values.update(from_helm.fallbacks)
    for layer in (_convention_layer(environ, kube_context), from_helm.values if from_helm else {}, from_file):
        values.update(layer)
    for key, value in _derived(values).items():
        values.setdefault(key, value)
    discoverer: Discoverer | None = None
    if discover:
        from readiness.targets.discovery import discover_from_cluster  # the cluster client loads on demand

        discoverer = discover_from_cluster
    references = {k: v for k, v in (from_helm.references if from_helm else {}).items() if k not in values}
    return Targets(
        values, file=file, discoverer=discoverer, references=references, notes=from_helm.notes if from_helm else []
    )


# -- compatibility for the Prefect probe ---------------------------------------------------------
@dataclass(frozen=True)
class PrefectTarget:
    api_url: str | None
    api_key: str | None
    auth_string: str | None
    source: str  # where the settings came from, for evidence

    @property
    def configured(self) -> bool:
        return bool(self.api_url)


def prefect_target(environ: Mapping[str, str] | None = None, targets: Targets | None = None) -> PrefectTarget:
    targets = targets or resolve_targets(environ=environ, discover=False)
    return PrefectTarget(
        api_url=targets.get("prefect.api_url"),
        api_key=targets.get("prefect.api_key"),
        auth_string=targets.get("prefect.auth_string"),
        source=targets.source("prefect.api_url"),
    )


def __getattr__(name: str) -> Any:
    """TargetsFile (the file's shape, in pydantic) loads on first use: a run without a targets file needs none."""
    if name == "TargetsFile":
        from readiness.targets.schema import TargetsFile

        return TargetsFile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
