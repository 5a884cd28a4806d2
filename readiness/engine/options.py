"""Options and configuration: the plugin's command-line options, the `requirement` marker's registration,
and, when `--profile` is given, loading the profile, targets, waivers and baseline (a bad one is a usage error
before any check runs) into the run's state."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from readiness.core.model import EXIT_INCOMPLETE
from readiness.core.profile import ProfileError, load_profile
from readiness.core.redact import default_redactor
from readiness.core.waivers import load_waivers
from readiness.engine.outcomes import Collector
from readiness.engine.state import RunState, state_key, state_of
from readiness.engine.timeouts import OrderlyStop
from readiness.targets import TARGETS_ENV, TargetsError, resolve_targets


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("readiness", "prefect-readiness conformance")
    group.addoption(
        "--profile",
        dest="readiness_profile",
        metavar="NAME|FILE.yaml",
        help="profile to check against: aws, gcp, azure, sandbox, or a YAML file that extends one",
    )
    group.addoption(
        "--report-dir",
        dest="readiness_report_dir",
        default="reports",
        metavar="DIR",
        help="where reports land: DIR/<run-id>/ and DIR/latest (default: reports)",
    )
    group.addoption(
        "--baseline",
        dest="readiness_baseline",
        metavar="OLD.json",
        help="a previous conformance.json: adds a drift section to every report",
    )
    group.addoption(
        "--waivers",
        dest="readiness_waivers",
        metavar="FILE.yaml",
        help="waiver file: requirement id, reason, owner, expires",
    )
    group.addoption(
        "--allow-required-waivers",
        dest="readiness_allow_required",
        action="store_true",
        help="let waivers apply to required requirements",
    )
    # `--strict` is pytest's own option (all strictness checks); the plugin also reads it as "count
    # warnings (unmet recommendations) as failures", so one flag means strict everywhere.
    group.addoption(
        "--read-only",
        dest="readiness_read_only",
        action="store_true",
        help="run only checks that read; checks that write or load are skipped (drift audits)",
    )
    group.addoption(
        "--budget",
        dest="readiness_budget",
        type=float,
        metavar="SECONDS",
        help="time for the whole run; checks past it end as error: budget exhausted",
    )
    group.addoption(
        "--allow-incomplete",
        dest="readiness_allow_incomplete",
        action="store_true",
        help=f"exit 0 when the verdict is INCOMPLETE (default: exit {EXIT_INCOMPLETE}); the report says INCOMPLETE",
    )
    group.addoption(
        "--targets",
        dest="readiness_targets",
        metavar="FILE.yaml",
        help=f"where the install lives (default: ${TARGETS_ENV}, then the ecosystem's conventions and discovery)",
    )
    group.addoption(
        "--targets-from-helm",
        dest="readiness_helm_values",
        action="append",
        default=[],
        metavar="VALUES.yaml",
        help="a values file of the prefect-server or prefect-worker chart (repeatable, later files win as in helm "
        "-f): the namespace, hosts, database, Redis and work pool it names, below --targets",
    )
    group.addoption(
        "--helm-release",
        dest="readiness_helm_release",
        metavar="[NAMESPACE/]NAME",
        help="the prefect-server release the values files were installed as (default: prefect-server)",
    )
    group.addoption(
        "--kube-context",
        dest="readiness_kube_context",
        metavar="NAME",
        help="kubeconfig context to use (default: the current context)",
    )
    group.addoption(
        "--grace",
        dest="readiness_grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="after SIGTERM, time for the running check's cleanup, the fixtures' teardown and the report "
        "before the run exits at once (default 30; a second SIGTERM exits at once too)",
    )
    group.addoption(
        "--load-workers",
        dest="readiness_load_workers",
        type=int,
        metavar="N",
        help="Locust worker processes for the load suite (default: the profile's LOAD-THROUGHPUT shape)",
    )
    group.addoption(
        "--load-capacity",
        dest="readiness_load_capacity",
        action="store_true",
        help="after the load checks' run, step the users up until p95 breaks (LOAD-THROUGHPUT capacity params) "
        "and put the curve in the report",
    )
    group.addoption("--run-id", dest="readiness_run_id", metavar="ID", help=argparse_suppress())


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(id, effect='read'): the catalog requirement a check verifies")
    profile_arg = config.getoption("readiness_profile")
    if not profile_arg:
        return
    refuse_a_moved_rootdir(config)
    redactor = default_redactor()
    redactor.learn_from_environment()
    try:
        # Every secret the targets reference (files, environment, the Prefect profile) is redacted.
        targets = resolve_targets(
            config.getoption("readiness_targets"),
            kube_context=config.getoption("readiness_kube_context"),
            helm_values=config.getoption("readiness_helm_values"),
            helm_release=config.getoption("readiness_helm_release"),
        )
    except TargetsError as exc:
        raise pytest.UsageError(str(exc)) from None
    for secret in targets.secrets():
        redactor.add(secret)
    try:
        profile = load_profile(profile_arg)
        waivers_path = config.getoption("readiness_waivers")
        waivers = load_waivers(Path(waivers_path), profile) if waivers_path else []
        baseline = config.getoption("readiness_baseline")
        if baseline:
            from readiness.report.drift import DriftError, load_report

            try:
                load_report(Path(baseline))
            except DriftError as exc:
                raise ProfileError(f"--baseline {exc}") from None
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    budget = config.getoption("readiness_budget")
    if budget is not None and budget <= 0:
        raise pytest.UsageError(f"--budget: expected a number of seconds above 0, got {budget}")
    if config.getoption("readiness_grace") < 0:
        raise pytest.UsageError("--grace: expected a number of seconds, 0 or more")
    state = RunState(config, profile, waivers, redactor)
    state.targets = targets
    config.stash[state_key] = state
    config.pluginmanager.register(Collector(state), "readiness-collector")
    config.pluginmanager.register(OrderlyStop(state), "readiness-orderly-stop")
    # What is alive now (the modules, the profile, the targets) lives until the run ends: moved out of the
    # collector's sight, every later collection (and pytest's own at the end) stops walking it again.
    gc.freeze()


#: Every option whose value is a path: flag -> dest. pytest takes `--flag /elsewhere/x` (two arguments) for
#: a test path before the plugin's options are known, so each of these is checked by one function.
#: `--targets` is added by the targets model; until it is there its dest is simply absent.
PATH_OPTIONS: dict[str, str] = {
    "--profile": "readiness_profile",
    "--report-dir": "readiness_report_dir",
    "--baseline": "readiness_baseline",
    "--waivers": "readiness_waivers",
    "--targets": "readiness_targets",
    "--targets-from-helm": "readiness_helm_values",
}


def refuse_a_moved_rootdir(config: pytest.Config) -> None:
    """pytest chooses its rootdir before plugins parse their options, so in `--profile /elsewhere/x.yaml`
    it takes the path for a test path: the rootdir moves, the project's pytest settings are not read and
    the wrong tests would run. `--profile=/elsewhere/x.yaml` (one argument) is not mistaken."""
    if config.inipath is not None:
        return
    args = list(config.invocation_params.args)
    here = config.invocation_params.dir.resolve()
    for flag, dest in PATH_OPTIONS.items():
        given = getattr(config.option, dest, None)
        for value in given if isinstance(given, list) else [given]:  # a repeatable option gives a list
            if not value or flag not in args or not Path(value).exists():
                continue
            at = [i for i, arg in enumerate(args[:-1]) if arg == flag and args[i + 1] == value]
            outside = here not in (here / value).resolve().parents
            if at and outside:
                raise pytest.UsageError(
                    f"{flag} {value}: pytest took this path for a test path and chose rootdir {config.rootpath}, "
                    f"so the project's pytest settings were not read; write {flag}={value} (one argument) "
                    "or name the settings file with -c pyproject.toml"
                )


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = state_of(config)
    if state is None:
        return None
    files = " -> ".join(p.name for p in state.profile.files)
    return [
        f"readiness: profile {state.profile.name} ({files}), run {state.run_id}, "
        f"{len(state.profile.requirements)} requirements"
    ]
