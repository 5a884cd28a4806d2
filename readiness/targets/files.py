"""Layer 1 of the targets: the targets file (`--targets FILE.yaml` / READINESS_TARGETS), secrets only as references."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from readiness.targets.model import _PATH_KEYS, SECRETS, Resolved, TargetsError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from readiness.targets.schema import TargetsFile


# -- layer 1: the targets file -------------------------------------------------------------------
def _inline_secret_refusals(path: Path, raw: dict[str, Any]) -> None:
    for key, (section, field) in SECRETS.items():
        body = raw.get(section)
        if isinstance(body, dict) and field in body:
            raise TargetsError(
                f"{path}: {key}: secrets are not written inline; expected {key}_file (a file holding it) "
                f"or {key}_env (the name of an environment variable holding it)"
            )
    urls: list[tuple[str, Any]] = []
    if isinstance(raw.get("redis"), dict):
        for role, url in (raw["redis"].get("urls") or {}).items():
            urls.append((f"redis.urls.{role}", url))
        urls.append(("redis.plaintext_url", raw["redis"].get("plaintext_url")))
    if isinstance(raw.get("prefect"), dict):
        for name in ("api_url", "ui_url"):
            urls.append((f"prefect.{name}", raw["prefect"].get(name)))
    for key, url in urls:
        if isinstance(url, str) and "@" in url and urlsplit(url).password:
            raise TargetsError(
                f"{path}: {key}: a password in the URL is an inline secret; expected the URL without it "
                "and the password as <section>.password_file or <section>.password_env"
            )


def _validation_message(path: Path, exc: ValidationError) -> str:
    from pydantic import BaseModel

    from readiness.targets.schema import TargetsFile

    error = exc.errors()[0]
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        section = error["loc"][0] if len(error["loc"]) > 1 else None
        model = TargetsFile.model_fields[str(section)].annotation if section in TargetsFile.model_fields else None
        fields = (
            model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else TargetsFile.model_fields
        )
        expected = f"unknown key; expected one of: {', '.join(fields)}"
    elif kind == "literal_error":
        expected = f"expected {error['ctx']['expected']}"
    else:
        expected = error["msg"][0].lower() + error["msg"][1:]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {loc}: {expected}{more}"


def read_yaml_file(path: Path, what: str) -> Any:
    """The YAML document in `path` (an empty file reads as {}); a file that cannot be read or is not YAML is a
    TargetsError naming the file, `what` it is, and the line."""
    from readiness.core.profile import load_yaml

    try:
        raw = load_yaml(path.read_text())
    except OSError as exc:
        raise TargetsError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise TargetsError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return {} if raw is None else raw


def load_targets_file(path: Path) -> TargetsFile:
    from pydantic import ValidationError

    from readiness.targets.schema import TargetsFile

    raw = read_yaml_file(path, "targets file")
    if not isinstance(raw, dict):
        raise TargetsError(f"{path}: (top level): expected a mapping with keys kubernetes, prefect, edge, ...")
    _inline_secret_refusals(path, raw)
    try:
        return TargetsFile.model_validate(raw)
    except ValidationError as exc:
        raise TargetsError(_validation_message(path, exc)) from None


def _read_secret(
    key: str, path: Path, file_ref: str | None, env_ref: str | None, environ: Mapping[str, str]
) -> Resolved | None:
    if file_ref:
        secret_path = (path.parent / Path(file_ref).expanduser()).resolve()
        try:
            value = secret_path.read_text().strip()
        except OSError as exc:
            raise TargetsError(f"{path}: {key}_file: cannot read {secret_path}: {exc.strerror}") from None
        return Resolved(value, f"targets file {path} ({key}_file {secret_path})", secret=True)
    if env_ref:
        if env_ref not in environ:
            raise TargetsError(f"{path}: {key}_env: the environment variable {env_ref} is not set")
        return Resolved(environ[env_ref], f"targets file {path} ({key}_env {env_ref})", secret=True)
    return None


def _file_layer(path: Path, environ: Mapping[str, str]) -> dict[str, Resolved]:
    from readiness.targets.schema import TargetsFile, _Section

    data = load_targets_file(path)
    source = f"targets file {path}"
    out: dict[str, Resolved] = {}
    if data.ca_bundle:
        out["ca_bundle"] = Resolved(str((path.parent / data.ca_bundle).resolve()), source)
    for section in TargetsFile.model_fields:
        model = getattr(data, section)
        if not isinstance(model, _Section):
            continue
        values = model.model_dump(exclude_none=True)
        for name, value in values.items():
            if name.endswith(("_file", "_env")) and f"{section}.{name.rsplit('_', 1)[0]}" in SECRETS:
                continue
            key = f"{section}.{name}"
            if key in _PATH_KEYS and value != "in-cluster":
                value = str((path.parent / Path(value).expanduser()).resolve())
            out[key] = Resolved(value, source)
    for key, (section, field) in SECRETS.items():
        body = getattr(data, section)
        resolved = _read_secret(key, path, getattr(body, f"{field}_file"), getattr(body, f"{field}_env"), environ)
        if resolved is not None:
            out[key] = resolved
    return out
