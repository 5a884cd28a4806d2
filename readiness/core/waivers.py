"""Waivers: accepted deviations with a reason, an owner and an expiry date."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readiness.core.model import Outcome
from readiness.core.profile import REQUIREMENT_ID, Level, Profile, ProfileError, _validation_message, load_yaml

#: Outcomes a waiver can turn into `waived`.
WAIVABLE = frozenset({Outcome.fail, Outcome.warn, Outcome.error})


@dataclass(frozen=True)
class Waiver:
    """One accepted deviation (its file shape: `_waiver_file()`)."""

    id: str
    reason: str
    owner: str
    expires: dt.date


@functools.cache
def _waiver_file() -> tuple[Any, Any, type[Exception]]:
    """(the waiver file's model, one waiver's model, the ValidationError they raise) in pydantic, built on first
    use: only reading a waiver file needs them, and a run without one does not import pydantic."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class WaiverModel(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        id: str = Field(pattern=REQUIREMENT_ID)
        reason: str = Field(min_length=1)
        owner: str = Field(min_length=1)
        expires: dt.date

    class WaiverFile(BaseModel):
        model_config = ConfigDict(extra="forbid")

        waivers: list[WaiverModel] = Field(default_factory=list)

    return WaiverFile, WaiverModel, ValidationError


def load_waivers(path: Path, profile: Profile) -> list[Waiver]:
    import yaml

    waiver_file, waiver_model, validation_error = _waiver_file()
    try:
        raw = load_yaml(path.read_text()) or {}
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read waivers: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: (top level): expected a mapping with key `waivers: [...]`")
    try:
        waivers = [Waiver(**w.model_dump()) for w in waiver_file.model_validate(raw).waivers]
    except validation_error as exc:
        raise ProfileError(_validation_message(path, (), exc, waiver_model)) from None
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
