"""`readiness run`: every suite against a profile, from any folder, as the CD gate and the drift audit run it.

It is `pytest --profile ...` over the suites this installation carries (the checkout's suites/, or the copy
inside the installed package), with the project's pytest settings, the report written under the current
folder (or --report-dir), and three things a run on a schedule needs: the previous report as the
baseline (`--baseline previous`), the report kept in the profile's object store (`settings.report_store`),
and the metrics pushed to a Pushgateway (`--pushgateway`). Other options go to pytest unchanged.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from readiness.core import bundle

PREVIOUS = "previous"
EXAMPLES = """examples:
  readiness run --profile aws
  readiness run --profile ./my-install.yaml --targets targets.yaml --report-dir /reports
  readiness run --profile gcp --read-only --baseline previous        # the scheduled drift audit
  readiness run --profile azure --suite kubernetes --suite mesh -k 'not LOAD' --strict
  readiness run --profile aws --targets-from-helm=prefect-server.yaml --targets-from-helm=prefect-worker.yaml

Options not listed here go to pytest unchanged (--targets, --targets-from-helm, --helm-release, --read-only,
--waivers, --strict, --budget, -k, -x, -n ...): see `pytest --help`, section "prefect-readiness conformance".
exit status: pytest's (0 PASS, 1 FAIL, others documented in the README), 1 also when the report
could not be kept in the profile's report store."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run every suite against a profile and write the report here",
        description="Run the conformance suites this installation carries against a profile, from any folder.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # pytest's options pass through whole: --re must not become --report-dir
    )
    parser.add_argument("--profile", required=True, metavar="NAME|FILE.yaml", help="aws, gcp, azure, sandbox or a file")
    parser.add_argument("--report-dir", default="reports", metavar="DIR", help="where reports land (default: reports)")
    parser.add_argument(
        "--baseline",
        metavar="OLD.json|previous",
        help="a previous conformance.json, or `previous`: the last run's report (the profile's report store, "
        "else DIR/latest); a first run without one says so and runs without drift",
    )
    parser.add_argument(
        "--suite",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this suite (a folder of suites/, repeatable; default: every suite)",
    )
    parser.add_argument(
        "--pushgateway",
        default=os.environ.get("READINESS_PUSHGATEWAY"),
        metavar="URL",
        help="also push the run's metrics to this Prometheus Pushgateway (default: $READINESS_PUSHGATEWAY)",
    )
    parser.set_defaults(func=run, pass_unknown=True)


def pytest_command(
    args: argparse.Namespace, pytest_args: list[str], report_dir: Path, baseline: Path | None
) -> list[str]:
    root = bundle.root()
    suites = bundle.path("suites")
    paths = [str(suites / name) for name in args.suite] or [str(suites)]
    argv = [sys.executable, "-m", "pytest", "-c", str(root / bundle.SETTINGS_FILE), "--rootdir", str(root)]
    argv += ["-p", "no:cacheprovider", f"--profile={args.profile}", f"--report-dir={report_dir}"]
    if baseline is not None:
        argv.append(f"--baseline={baseline}")
    return [*argv, *paths, *pytest_args]


def _say(text: str) -> None:
    print(f"readiness run: {text}", file=sys.stderr, flush=True)


def latest_run(report_dir: Path) -> Path | None:
    """The newest run folder: `latest` is a symlink, or a file naming the run where symlinks are not allowed."""
    latest = report_dir / "latest"
    if latest.is_file():
        latest = report_dir / latest.read_text().strip()
    return latest.resolve() if latest.is_dir() else None


def _previous(report_dir: Path, store: object | None) -> Path | None:
    from readiness.report.upload import StoreURL, fetch_latest

    if isinstance(store, StoreURL):
        found = fetch_latest(store, report_dir / ".baseline" / "conformance.json")
        if found is None:
            _say(f"no previous report in {store}: this run becomes the first baseline")
        return found
    run_dir = latest_run(report_dir)
    if run_dir is not None and (run_dir / "conformance.json").is_file():
        return run_dir / "conformance.json"
    _say(f"no previous report in {report_dir}: this run becomes the first baseline")
    return None


def _run_pytest(argv: list[str]) -> int:
    """pytest in a child process; SIGTERM (a pod being stopped) is passed on so the run cleans up, and the
    child is tied to us: a SIGKILL of this process ends it too (parent-death signal)."""
    from readiness.core.process import popen_tied

    child = popen_tied(argv)

    def _forward(signum: int, frame: object) -> None:
        child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, _forward)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    from readiness.core.profile import ProfileError, load_profile
    from readiness.report.upload import StoreURL, UploadError

    pytest_args = [a for a in getattr(args, "unknown", []) if a != "--"]
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(f"readiness run: error: {exc}", file=sys.stderr)
        return 4  # pytest's usage error, as `pytest --profile` gives
    report_dir = Path(args.report_dir).resolve()
    store = StoreURL.parse(profile.settings.report_store) if profile.settings.report_store else None
    before = latest_run(report_dir)
    try:
        baseline = (
            _previous(report_dir, store)
            if args.baseline == PREVIOUS
            else (Path(args.baseline) if args.baseline else None)
        )
    except UploadError as exc:
        print(f"readiness run: error: {exc}", file=sys.stderr)
        return 1
    argv = pytest_command(args, pytest_args, report_dir, baseline.resolve() if baseline else None)
    _say(" ".join(argv[1:]))
    code = _run_pytest(argv)
    run_dir = latest_run(report_dir)
    if run_dir is None or run_dir == before:
        _say(f"no report was written (pytest exit status {code})")
        return code
    _say(f"report: {run_dir}")
    if store is not None:
        try:
            from readiness.report.upload import upload_run

            keys = upload_run(run_dir, store)
            _say(f"kept in {store}/{run_dir.name}/ and {store}/latest/ ({len(keys) // 2} files)")
        except UploadError as exc:
            print(f"readiness run: error: {exc}", file=sys.stderr)
            code = code or 1
    if args.pushgateway:
        import json

        from readiness.report.prometheus import push

        try:
            push(json.loads((run_dir / "conformance.json").read_text()), args.pushgateway)
            _say(f"metrics pushed to {args.pushgateway}")
        except OSError as exc:  # the report and the verdict stand; the metrics just did not get there
            cause = " ".join(str(getattr(exc, "reason", None) or exc).split())
            print(f"readiness run: warning: metrics not pushed to {args.pushgateway}: {cause}", file=sys.stderr)
    return code
