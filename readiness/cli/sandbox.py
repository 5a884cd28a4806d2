"""`readiness sandbox ...`: up, down, status, scenarios, env, apply, revert."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from readiness.sandbox import Sandbox, SandboxContext, SandboxError
from readiness.sandbox.base import default_state_dir
from readiness.sandbox.kubernetes.manifests import LAYOUTS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local reference install (real servers on loopback)",
        description="Start, inspect and stop the sandbox: a real reference install on loopback.",
    )
    parser.add_argument(
        "--state-dir", default=None, help="state folder (default: $READINESS_SANDBOX_DIR or ./.sandbox)"
    )
    parser.add_argument("--only", action="append", metavar="COMPONENT", help="limit to these components (repeatable)")
    sub = parser.add_subparsers(dest="sandbox_command", required=True)
    up = sub.add_parser("up", help="start every component (safe to repeat), then apply scenarios")
    up.add_argument("--scenario", action="append", default=[], metavar="NAME", help="fault to apply (repeatable)")
    up.add_argument("--nodes", type=int, default=None, help="number of simulated Kubernetes nodes (default 3)")
    up.add_argument("--pods", type=int, default=None, help="extra pods for scale tests (Deployment scale/scale-load)")
    up.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=None,
        help="how the Kubernetes objects lay Prefect out: default (the sandbox's own) or helm (as the prefect-helm "
        "charts render them: Secrets, separate background services, the worker chart); kept for later `up`s, "
        "switched in place on a running sandbox",
    )
    sub.add_parser("down", help="stop every process the sandbox started")
    sub.add_parser("status", help="show each component and its processes")
    sub.add_parser("scenarios", help="list the named faults, one per line")
    sub.add_parser("env", help="print the exports a shell or the suite needs")
    apply = sub.add_parser("apply", help="apply a scenario in place on the running sandbox")
    apply.add_argument("scenario")
    revert = sub.add_parser("revert", help="revert a scenario in place")
    revert.add_argument("scenario")
    check = sub.add_parser(
        "check",
        help="the main job: bring the sandbox up, run every suite with the sandbox profile, report, tear down",
        description="Bring the sandbox up (building binaries when the cache is empty), run `pytest --profile "
        "sandbox` over every suite, print where the report is, and take the sandbox down, also when a check fails.",
    )
    check.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    check.add_argument("--layout", choices=LAYOUTS, default=None, help="as for `up`: default or helm")
    check.add_argument("--report-dir", default="reports", help="where the report lands (default: reports)")
    check.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments (after --)")
    parser.set_defaults(func=run)


def project_root() -> Path:
    """The folder holding suites/ and the pytest settings: the source tree, or the installed package's copy."""
    from readiness.core import bundle

    return bundle.root()


#: how long `check` waits, after a stop signal, for the pytest run to end its check, clean up and report
CHECK_GRACE_S = 60.0


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a cancelled CD job, a closed terminal) raise KeyboardInterrupt, as Ctrl-C does, so
    the same `except KeyboardInterrupt` path takes the sandbox down."""

    def _raise(signum: int, frame: object) -> None:
        print(f"\nreadiness sandbox: {signal.Signals(signum).name}", file=sys.stderr, flush=True)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_check(sandbox: Sandbox, args: argparse.Namespace) -> int:
    import os

    from readiness.core.process import popen_tied, stop_group

    root = project_root()
    report_dir = Path(args.report_dir).resolve()
    extra = [a for a in args.pytest_args if a != "--"]
    code = 1
    # Unless the user keeps it, this sandbox lives as long as this command: its servers die with it, even
    # if it is killed outright (parent-death signal).
    sandbox.ctx.tied = not args.keep
    run: subprocess.Popen[bytes] | None = None
    try:
        with stop_signals_interrupt():
            sandbox.up()
            env = dict(os.environ)
            env.update(sandbox.user_env())
            argv = [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--profile",
                "sandbox",
                f"--report-dir={report_dir}",
                str(root / "suites"),
                *extra,
            ]
            print(f"sandbox: running {' '.join(argv[1:])}", file=sys.stderr, flush=True)
            # Its own process group: a signal to ours reaches it once, forwarded below, never twice (a second
            # SIGTERM would make it exit at once, without cleanup or report).
            run = popen_tied(argv, cwd=root, env=env)
            code = run.wait()
    except KeyboardInterrupt:
        print("interrupted; stopping the checks and taking the sandbox down", file=sys.stderr, flush=True)
        code = 130
        if run is not None and run.poll() is None:
            with stop_signals_interrupt():
                try:
                    # SIGTERM: the plugin ends the running check, cleans up and writes the report
                    code = stop_group(run, grace=CHECK_GRACE_S) or code
                except KeyboardInterrupt:  # a second signal: no more waiting
                    stop_group(run, grace=0)
    finally:
        if not args.keep:
            with stop_signals_interrupt():
                try:
                    sandbox.down()
                except KeyboardInterrupt:
                    sandbox.down()  # a signal during down: finish it anyway, it is the cleanup
            print("sandbox down", file=sys.stderr)
    latest = report_dir / "latest"
    if latest.exists():
        print(f"conformance report: {latest.resolve()}/conformance.html (also .json, .md, junit.xml)")
    return code


def run_up(sandbox: Sandbox, scenarios: list[str]) -> int:
    """`up`: on Ctrl-C, SIGTERM or SIGHUP half-way, take down what was started."""
    try:
        with stop_signals_interrupt():
            sandbox.up(scenarios)
    except KeyboardInterrupt:
        print("interrupted; taking the sandbox down", file=sys.stderr, flush=True)
        with stop_signals_interrupt():
            try:
                sandbox.down()
            except KeyboardInterrupt:
                sandbox.down()
        print("sandbox down", file=sys.stderr)
        return 130
    print(f'sandbox up; state in {sandbox.ctx.root}; `eval "$(readiness sandbox env)"` to use it', file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve() if args.state_dir else default_state_dir()
    if args.sandbox_command == "scenarios":
        for name, (component, description) in sorted(Sandbox.all_scenarios().items()):
            print(f"{name:<24} {description}  [{component}]")
        return 0
    try:
        ctx = SandboxContext(state_dir)
        if getattr(args, "nodes", None):
            ctx.set("nodes", args.nodes)
        if getattr(args, "pods", None) is not None:
            ctx.set("pods", args.pods)
        if getattr(args, "layout", None):
            ctx.set("layout", args.layout)
        sandbox = Sandbox(ctx, only=args.only)
        if args.sandbox_command == "check":
            return run_check(sandbox, args)
        if args.sandbox_command == "up":
            return run_up(sandbox, args.scenario)
        elif args.sandbox_command == "down":
            sandbox.down()
            print("sandbox down", file=sys.stderr)
        elif args.sandbox_command == "status":
            healthy = True
            for status in sandbox.status():
                mark = "up  " if status.healthy else "DOWN"
                healthy &= status.healthy
                print(f"{mark} {status.name:<12} {status.detail}")
                for proc in status.processes:
                    state = "running" if proc.running else "not running"
                    print(f"       {proc.name:<28} pid {proc.pid or '-':<8} {state}  log: {proc.log}")
            print(f"layout: {sandbox.layout}")
            scenarios = ctx.active_scenarios()
            print(f"scenarios: {', '.join(scenarios) if scenarios else '(none: conformant)'}")
            return 0 if healthy else 1
        elif args.sandbox_command == "env":
            for key, value in sorted(sandbox.user_env().items()):
                import shlex

                print(f"export {key}={shlex.quote(value)}")
        elif args.sandbox_command == "apply":
            sandbox.apply(args.scenario)
        elif args.sandbox_command == "revert":
            sandbox.revert(args.scenario)
    except SandboxError as exc:
        print(f"readiness sandbox: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a component failed in a way it did not foresee: one line, and where to look
        print(
            f"readiness sandbox: error: {type(exc).__name__}: {exc} (component logs: {state_dir / 'logs'})",
            file=sys.stderr,
        )
        return 1
    return 0
