"""Benchmark of the identity and mail probes against a running sandbox: seconds per step, median of N.

  * discovery + JWKS (HTTPS, verified against the sandbox CA);
  * a password-grant login to a verified ID token;
  * a browser login (headless Debian Chromium via Playwright: launch, login page, code exchange, close);
  * SMTP delivery: STARTTLS + AUTH + send, read back over IMAPS, delete (the latency is send -> seen).

    python benchmarks/identity_mail.py --state-dir DIR [--rounds 3]

DIR is a sandbox with at least pki, smtp and oidc up (`readiness sandbox --only pki --only smtp --only oidc up`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from readiness.probes.oidc import IdentityProvider, OidcSettings
from readiness.probes.smtp import ImapSettings, Mailbox, Mailer, SmtpSettings
from readiness.targets import resolve_targets


def _timed(step: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds), max(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    targets = resolve_targets(args.state_dir / "targets.yaml", environ={}, discover=False)
    ca = targets.ca_bundle("oidc")
    oidc = OidcSettings(
        issuer=targets.get("oidc.issuer"),
        client_id=targets.get("oidc.client_id"),
        client_secret=targets.get("oidc.client_secret"),
        redirect_uri=targets.get("oidc.redirect_uri"),
        username=targets.get("oidc.username"),
        password=targets.get("oidc.password"),
        ca_bundle=ca,
    )
    shots = Path(tempfile.mkdtemp(prefix="bench-sso-"))

    def discovery() -> None:
        with IdentityProvider(oidc) as idp:
            idp.jwks(idp.discovery())

    def login(method: str) -> Callable[[], None]:
        def run() -> None:
            settings = OidcSettings(**{**oidc.__dict__, "login": method})
            with IdentityProvider(settings) as idp:
                found = idp.discovery()
                result = idp.login(found, idp.jwks(found), screenshot=shots / "login.png")
                assert result.signed_in, result.idp_error

        return run

    mailer = Mailer(SmtpSettings.from_targets(targets))
    mailbox = Mailbox(ImapSettings.from_targets(targets))
    latencies: list[float] = []

    def delivery() -> None:
        sent = mailer.send("benchmark")
        try:
            received = mailbox.wait_for(sent, within=20, poll=0.05)
            assert received.found and received.latency_s is not None
            latencies.append(received.latency_s)
        finally:
            mailbox.delete(sent.tag)

    steps = {
        "OIDC discovery + JWKS": discovery,
        "OIDC password-grant login": login("password"),
        "OIDC browser login (Chromium)": login("browser"),
        "SMTP send + IMAPS read-back + delete": delivery,
    }
    print(f"{'step':40} {'median s':>9} {'min s':>7} {'max s':>7}   ({args.rounds} rounds)")
    for name, step in steps.items():
        median, low, high = _timed(step, args.rounds)
        print(f"{name:40} {median:9.2f} {low:7.2f} {high:7.2f}")
    latency = statistics.median(latencies), min(latencies), max(latencies)
    print(f"{'delivery latency (send -> seen)':40} {latency[0]:9.2f} {latency[1]:7.2f} {latency[2]:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
