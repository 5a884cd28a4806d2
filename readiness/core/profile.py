"""Profiles: the requirement catalog (base.yaml) and the cloud profiles that extend it.

A profile is YAML data validated with pydantic. A bad profile raises :class:`ProfileError` with one
line naming the file, the key and what was expected; the plugin turns it into pytest's usage error.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

from readiness import __version__
from readiness.core import bundle
from readiness.core.cache import CACHE_ROOT

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

#: the shipped profiles: the checkout's profiles/, or their copy inside the installed package
PROFILE_DIR = bundle.path("profiles")
REQUIREMENT_ID = r"^[A-Z0-9]+(-[A-Z0-9]+)+$"


class ProfileError(Exception):
    """A profile or waiver file is invalid; the message is one line fit for a user."""


class Level(StrEnum):
    required = "required"
    recommended = "recommended"
    optional = "optional"


class Effect(StrEnum):
    read = "read"
    write = "write"
    load = "load"


@dataclass(frozen=True)
class Requirement:
    """One documented minimum, as the catalog states it (its file shape: `_schema().Requirement`)."""

    id: str
    component: str
    title: str
    level: Level
    #: the sentence of the documentation this requirement comes from
    source: str
    rationale: str
    remediation: str
    params: dict[str, Any] = field(default_factory=dict)
    #: seconds for one check of this requirement
    timeout: float | None = None


@dataclass(frozen=True)
class Settings:
    """A profile's settings (their file shape: `_schema().Settings`)."""

    #: seconds per check unless the requirement says
    default_timeout: float = 30.0
    #: the install's DNS domain (api.<domain>, app.<domain>)
    domain: str | None = None
    namespace: str = "prefect"
    #: where `readiness run` also keeps each report and finds the previous one
    report_store: str | None = None


@functools.cache
def _schema() -> SimpleNamespace:
    """The shape of a profile file as pydantic models, built on first use: only validating a file needs them
    (a profile validated before is read back without them, see `_remembered`). The ValidationError they raise
    comes with them: a process that dropped pydantic from sys.modules (pytester does) imports another one."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

    class _Strict(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

    class RequirementModel(_Strict):
        """One documented minimum, as the catalog states it."""

        id: str = Field(pattern=REQUIREMENT_ID)
        component: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
        title: str
        level: Level
        source: str = Field(description="the sentence of the documentation this requirement comes from")
        rationale: str
        remediation: str
        params: dict[str, Any] = Field(default_factory=dict)
        timeout: float | None = Field(default=None, gt=0, description="seconds for one check of this requirement")

    class RequirementOverride(_Strict):
        """What a profile that extends another may change of an inherited requirement."""

        title: str | None = None
        level: Level | None = None
        rationale: str | None = None
        remediation: str | None = None
        params: dict[str, Any] = Field(default_factory=dict)
        timeout: float | None = Field(default=None, gt=0)

    class SettingsModel(_Strict):
        default_timeout: float = Field(default=30.0, gt=0, description="seconds per check unless the requirement says")
        domain: str | None = Field(default=None, description="the install's DNS domain (api.<domain>, app.<domain>)")
        namespace: str = "prefect"
        report_store: str | None = Field(
            default=None,
            pattern=r"^(s3|gs|az)://[^/]+/?.*$",
            description="where `readiness run` also keeps each report and finds the previous one: "
            "s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://ACCOUNT/CONTAINER/PREFIX (cloud SDK credentials)",
        )

    class ProfileFile(_Strict):
        """The on-disk shape of a profile file."""

        schema_version: Literal[1] = 1
        name: str
        description: str = ""
        extends: str | None = None
        cloud: Literal["aws", "gcp", "azure", "sandbox"] | None = None
        settings: dict[str, Any] = Field(default_factory=dict)
        requirements: dict[str, dict[str, Any]] = Field(default_factory=dict)
        #: cloud facts the checks compare against: instance-type catalog, CSI provisioners, managed services
        catalog: dict[str, Any] = Field(default_factory=dict)

        @field_validator("requirements")
        @classmethod
        def _ids_are_well_formed(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            import re

            for key in value:
                if not re.match(REQUIREMENT_ID, key):
                    raise ValueError(f"requirement ID {key!r} is not of the form COMPONENT-NAME (e.g. K8S-NODE-COUNT)")
            return value

    return SimpleNamespace(
        Requirement=RequirementModel, RequirementOverride=RequirementOverride, Settings=SettingsModel,
        ProfileFile=ProfileFile, ValidationError=ValidationError,
    )  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """A resolved profile: the chain of files merged, every requirement complete and validated."""

    name: str
    description: str
    cloud: str | None
    files: list[Path]
    settings: Settings
    requirements: dict[str, Requirement]
    catalog: dict[str, Any]

    def requirement(self, requirement_id: str) -> Requirement:
        return self.requirements[requirement_id]

    def timeout_for(self, requirement_id: str) -> float:
        requirement = self.requirements.get(requirement_id)
        if requirement is not None and requirement.timeout:
            return requirement.timeout
        return self.settings.default_timeout


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _expected(error: dict[str, Any], model: type[BaseModel] | None = None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model else ""
        return f"unknown key; expected one of: {allowed}" if allowed else "unknown key"
    if kind == "missing":
        return "missing; this key is required"
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}"
    if kind == "enum":
        return f"expected one of {error['ctx']['expected']}"
    return error["msg"][0].lower() + error["msg"][1:]


def _validation_message(path: Path, prefix: tuple[str, ...], exc: ValidationError, model: type[BaseModel]) -> str:
    error = exc.errors()[0]
    key = _location((*prefix, *error["loc"]))
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {key}: {_expected(error, model)}{more}"


def resolve_profile_path(name_or_path: str, search_dir: Path = PROFILE_DIR) -> Path:
    """A profile argument is a file path or the name of a file in profiles/."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path("."):
        if not candidate.is_file():
            raise ProfileError(f"{candidate}: profile file not found")
        return candidate.resolve()
    path = search_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in search_dir.glob("*.yaml")))
        raise ProfileError(f"profile {name_or_path!r} not found in {search_dir}; known profiles: {known}")
    return path


def _resolve_extends(name_or_path: str, beside: Path, search_dir: Path) -> Path:
    """`extends: NAME` names a profile beside the extending file, else a shipped one (so a profile file
    kept anywhere, e.g. a ConfigMap mounted in a pod, can say `extends: aws`)."""
    try:
        return resolve_profile_path(name_or_path, beside)
    except ProfileError:
        if beside == search_dir or Path(name_or_path).suffix in (".yaml", ".yml") or "/" in name_or_path:
            raise
        return resolve_profile_path(name_or_path, search_dir)


def load_yaml(text: str) -> Any:
    """safe_load, with libyaml's C loader when PyYAML has it (ten times faster on the catalog)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders only


def _read_file(path: Path) -> Any:
    """The file at `path` as a validated ProfileFile (see `_schema`)."""
    import yaml

    ProfileFile, ValidationError = _schema().ProfileFile, _schema().ValidationError  # noqa: N806 - classes

    try:
        raw = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ProfileError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: (top level): expected a mapping with keys name, requirements, ...")
    try:
        return ProfileFile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(_validation_message(path, (), exc, ProfileFile)) from None


def load_profile(name_or_path: str, search_dir: Path = PROFILE_DIR) -> Profile:
    """Load a profile and every profile it extends, merge them and validate the result."""
    path = resolve_profile_path(name_or_path, search_dir)
    cached = _remembered(path, search_dir)
    if cached is not None:
        return cached
    profile, extends = _validate(path, search_dir)
    _remember(profile, extends, search_dir)
    return profile


def _validate(path: Path, search_dir: Path) -> tuple[Profile, list[str | None]]:
    """The profile at `path`, validated, and the `extends:` of each of its files (base first)."""
    schema = _schema()
    ValidationError = schema.ValidationError  # noqa: N806 - a class
    chain: list[tuple[Path, Any]] = []
    seen: set[Path] = set()
    while True:
        if path in seen:
            raise ProfileError(f"{path}: extends: circular chain of profiles")
        seen.add(path)
        data = _read_file(path)
        chain.append((path, data))
        if data.extends is None:
            break
        try:
            path = _resolve_extends(data.extends, path.parent, search_dir)
        except ProfileError as exc:
            raise ProfileError(f"{path}: extends: {exc}") from None
    chain.reverse()  # base first

    requirements: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    catalog: dict[str, Any] = {}
    for path, data in chain:
        settings = _deep_merge(settings, data.settings)
        catalog = _deep_merge(catalog, data.catalog)
        for req_id, body in data.requirements.items():
            prefix = ("requirements", req_id)
            if req_id in requirements:
                try:
                    override = schema.RequirementOverride.model_validate(body)
                except ValidationError as exc:
                    raise ProfileError(_validation_message(path, prefix, exc, schema.RequirementOverride)) from None
                current = requirements[req_id].model_dump()
                changes = override.model_dump(exclude_unset=True)
                merged = _deep_merge(current, changes)
                requirements[req_id] = schema.Requirement.model_validate(merged)
            else:
                if set(body) <= set(schema.RequirementOverride.model_fields) and "component" not in body:
                    raise ProfileError(
                        f"{path}: requirements.{req_id}: unknown requirement ID; expected one of the catalog's IDs "
                        f"(e.g. {', '.join(sorted(requirements)[:3]) or 'K8S-NODE-COUNT'}) or a full definition "
                        "with component, title, level, source, rationale, remediation"
                    )
                try:
                    requirements[req_id] = schema.Requirement.model_validate({"id": req_id, **body})
                except ValidationError as exc:
                    raise ProfileError(_validation_message(path, prefix, exc, schema.Requirement)) from None
    top = chain[-1][1]
    try:
        resolved_settings = schema.Settings.model_validate(settings)
    except ValidationError as exc:
        raise ProfileError(_validation_message(chain[-1][0], ("settings",), exc, schema.Settings)) from None
    profile = Profile(
        name=top.name,
        description=top.description,
        cloud=next((d.cloud for _, d in reversed(chain) if d.cloud), None),
        files=[p for p, _ in chain],
        settings=Settings(**resolved_settings.model_dump()),
        requirements={req_id: Requirement(**model.model_dump()) for req_id, model in requirements.items()},
        catalog=catalog,
    )
    return profile, [d.extends for _, d in chain]


# -- validated profiles, remembered --------------------------------------------------------------
# Validating a profile means importing YAML and pydantic and building its models: more than the rest of a
# 500-check run's setup. A profile whose files, and this code, are unchanged since it was validated is
# read back from the cache instead, only where it comes back identical (JSON keeps every value it holds).
_CACHE = CACHE_ROOT / "profiles"


@functools.cache
def _code_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def _entry(path: Path, search_dir: Path) -> Path:
    key = f"{path}\0{search_dir.resolve()}\0{_code_version()}"
    return _CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_data(profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "description": profile.description,
        "cloud": profile.cloud,
        "settings": dataclasses.asdict(profile.settings),
        "requirements": {
            req_id: {**dataclasses.asdict(req), "level": req.level.value}
            for req_id, req in profile.requirements.items()
        },
        "catalog": profile.catalog,
    }


def _remember(profile: Profile, extends: list[str | None], search_dir: Path) -> None:
    data = _as_data(profile)
    try:
        if json.loads(json.dumps(data)) != data:  # a value JSON would change (a date, a number as a key)
            return
        files = [
            {"path": str(p), "sha256": _digest(p), "extends": e} for p, e in zip(profile.files, extends, strict=True)
        ]
        entry = _entry(profile.files[-1], search_dir)
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_name(f"{entry.name}.{os.getpid()}")
        partial.write_text(json.dumps({"files": files, "profile": data}))
        partial.replace(entry)
    except (OSError, TypeError, ValueError):  # a read-only home, a value JSON cannot hold: validate next time
        return


def _remembered(path: Path, search_dir: Path) -> Profile | None:
    """The profile as validated before, if its files and their `extends:` still resolve to the same bytes."""
    try:
        saved = json.loads(_entry(path, search_dir).read_text())
        files = saved["files"]
        if not files or Path(files[-1]["path"]) != path:
            return None
        for index, file in enumerate(files):
            current = Path(file["path"])
            if _digest(current) != file["sha256"]:
                return None
            extends = file["extends"]
            if (extends is None) != (index == 0):
                return None
            if extends is not None and _resolve_extends(extends, current.parent, search_dir) != Path(
                files[index - 1]["path"]
            ):
                return None
        data = saved["profile"]
        return Profile(
            name=data["name"],
            description=data["description"],
            cloud=data["cloud"],
            files=[Path(f["path"]) for f in files],
            settings=Settings(**data["settings"]),
            requirements={
                req_id: Requirement(**{**body, "level": Level(body["level"])})
                for req_id, body in data["requirements"].items()
            },
            catalog=data["catalog"],
        )
    except (OSError, ValueError, KeyError, TypeError, ProfileError):
        return None
