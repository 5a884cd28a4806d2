"""Waivers: accepted deviations with a reason, an owner and an expiry date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from readiness.core.model import Outcome
from readiness.core.profile import REQUIREMENT_ID, Level, Profile, ProfileError, _validation_message, load_yaml

#: Outcomes a waiver can turn into `waived`.
WAIVABLE = frozenset({Outcome.fail, Outcome.warn, Outcome.error})


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(pattern=REQUIREMENT_ID)
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: dt.date


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    waivers: list[Waiver] = Field(default_factory=list)


def load_waivers(path: Path, profile: Profile) -> list[Waiver]:
    try:
        raw = load_yaml(path.read_text()) or {}
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read waivers: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: (top level): expected a mapping with key `waivers: [...]`")
    try:
        waivers = WaiverFile.model_validate(raw).waivers
    except ValidationError as exc:
        raise ProfileError(_validation_message(path, (), exc, Waiver)) from None
    for index, waiver in enumerate(waivers):
        if waiver.id not in profile.requirements:
            raise ProfileError(
                f"{path}: waivers.{index}.id: unknown requirement ID {waiver.id!r}; expected an ID of profile "
                f"{profile.name!r}"
            )
    return waivers


@dataclass
class WaiverDecision:
    """What became of the waivers in one run; every list is shown in the report."""

    applied: dict[str, Waiver] = field(default_factory=dict)
    expired: list[Waiver] = field(default_factory=list)
    unmatched: list[Waiver] = field(default_factory=list)
    rejected: list[tuple[Waiver, str]] = field(default_factory=list)


def decide(
    waivers: list[Waiver],
    outcomes: dict[str, Outcome],
    profile: Profile,
    today: dt.date,
    allow_required: bool,
) -> WaiverDecision:
    decision = WaiverDecision()
    for waiver in waivers:
        if waiver.expires < today:
            decision.expired.append(waiver)
            continue
        outcome = outcomes.get(waiver.id)
        if outcome not in WAIVABLE:
            decision.unmatched.append(waiver)
            continue
        if profile.requirements[waiver.id].level is Level.required and not allow_required:
            decision.rejected.append((waiver, "requirement is required: pass --allow-required-waivers to waive it"))
            continue
        decision.applied[waiver.id] = waiver
    return decision
