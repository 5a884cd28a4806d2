"""Drift: what changed between a baseline report and a new one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BAD = frozenset({"fail", "error", "warn"})


class DriftError(Exception):
    pass


def load_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise DriftError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise DriftError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or "results" not in data or "schema_version" not in data:
        raise DriftError(f"{path}: not a conformance.json report (no schema_version/results)")
    return data


def typed_observed(result: dict[str, Any]) -> Any:
    """The typed observed value diff and drift compare: `observed_value` (schema 1.x reports before it was
    added carried the typed value in `observed`, which now holds the sentence a person reads)."""
    return result["observed_value"] if "observed_value" in result else result.get("observed")


def compute_drift(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    before = {r["id"]: r for r in old["results"]}
    new_failures, resolved, changed, other = [], [], [], []
    for result in new["results"]:
        previous = before.get(result["id"])
        if previous is None:
            other.append(f"{result['id']} is new in this run ({result['outcome']})")
            continue
        was, now = previous["outcome"], result["outcome"]
        if now in BAD and was != now and not (was in BAD and _rank(now) >= _rank(was)):
            new_failures.append({"id": result["id"], "outcome": now, "was": was})
        elif was in BAD and now not in BAD:
            resolved.append({"id": result["id"], "outcome": now, "was": was})
        was_value, now_value = typed_observed(previous), typed_observed(result)
        if was_value != now_value and now_value is not None:
            changed.append({"id": result["id"], "was": was_value, "now": now_value, "unit": result.get("unit")})
    current = {r["id"] for r in new["results"]}
    left_out = {r["id"] for r in new.get("not_in_run", [])}
    other += [f"{rid} is no longer in the profile" for rid in before if rid not in current | left_out]
    return {
        "baseline_run": old["run"]["id"],
        "baseline_started_at": old["run"].get("started_at"),
        "new_failures": new_failures,
        "resolved": resolved,
        "changed": changed,
        "other": other,
    }


def _rank(outcome: str) -> int:
    # Higher is better; a move to a worse bad outcome (warn -> fail) counts as a new failure.
    return {"fail": 0, "error": 1, "warn": 2}.get(outcome, 3)
