"""A copy of the sandbox's targets file with some keys changed: how a verdict test points a suite elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from readiness.sandbox import Sandbox

DROP = object()


def targets_option(sandbox: Sandbox, folder: Path, name: str, changes: dict[str, Any]) -> str:
    """`--targets=FILE` for the sandbox's targets with `changes` applied: {"oidc.login": "password",
    "smtp": DROP, "smtp.port": 25}. The file lands in `folder` under `name`.yaml."""
    data = yaml.safe_load(sandbox.targets_path.read_text())
    for dotted, value in changes.items():
        section, _, key = dotted.partition(".")
        if not key:
            if value is DROP:
                data.pop(section, None)
            else:
                data[section] = value
            continue
        body = data.setdefault(section, {})
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return f"--targets={path}"
