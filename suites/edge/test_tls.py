"""The TLS the clients see at the public endpoints: chain, names, validity, protocols, keys and HSTS."""

from __future__ import annotations

import datetime as dt

import pytest

from readiness.core.humanize import listing, number
from readiness.probes.tls import hsts, http_redirect, scan_protocols, served_chain


def chains(endpoints, timeout):
    return {str(e): served_chain(e, timeout) for e in endpoints}


@pytest.mark.requirement("TLS-CHAIN")
def test_served_chain_validates_to_a_trusted_root(endpoints, edge_ca_bundle, probe_timeout, expect, edge_evidence):
    served = chains(endpoints, probe_timeout)
    results = {where: chain.validate(edge_ca_bundle) for where, chain in served.items()}
    expect.true(
        "the served chain builds to a trusted root (no fetching of missing intermediates)",
        all(v.valid for v in results.values()),
        observed={where: ("valid: " if v.valid else "invalid: ") + v.detail for where, v in results.items()},
        expected="a valid path from the served certificates",
        evidence={
            **edge_evidence,
            "trust": next(iter(results.values())).trust,
            "validated_at": {where: v.at.isoformat() for where, v in results.items()},
            "served": {where: c.evidence() for where, c in served.items()},
        },
    )


@pytest.mark.requirement("TLS-HOSTNAME")
def test_certificate_names_the_public_hosts(endpoints, probe_timeout, expect, edge_evidence):
    served = {e.host: served_chain(e, probe_timeout) for e in endpoints}
    expect.true(
        "the leaf's SANs cover the host it is served for",
        all(chain.leaf.covers(host) for host, chain in served.items()),
        observed={host: chain.leaf.sans for host, chain in served.items()},
        expected="each host in its SANs (or a matching wildcard)",
        evidence={**edge_evidence, "served": {h: c.leaf.evidence() for h, c in served.items()}},
    )


@pytest.mark.requirement("TLS-EXPIRY")
def test_certificates_are_valid_now(endpoints, probe_timeout, expect, edge_evidence):
    now = dt.datetime.now(dt.UTC)
    served = chains(endpoints, probe_timeout)
    outside = {
        where: [f"{c.subject}: {c.not_before:%Y-%m-%d} .. {c.not_after:%Y-%m-%d}" for c in chain.certificates
                if not c.valid_at(now)]
        for where, chain in served.items()
    }  # fmt: skip
    outside = {where: certs for where, certs in outside.items() if certs}
    expect.true(
        "every served certificate is within its validity period",
        not outside,
        observed=outside or {where: f"leaf valid to {c.leaf.not_after:%Y-%m-%d}" for where, c in served.items()},
        expected="now between notBefore and notAfter",
        evidence={**edge_evidence, "now": now.isoformat(), "served": {w: c.evidence() for w, c in served.items()}},
    )


@pytest.mark.requirement("TLS-EXPIRY-HEADROOM")
def test_certificates_have_renewal_headroom(endpoints, probe_timeout, params, expect, edge_evidence):
    served = chains(endpoints, probe_timeout)
    soonest = min((cert.days_left(), where, cert) for where, chain in served.items() for cert in chain.certificates)
    days, where, cert = soonest
    expect.at_least(
        "days until the first served certificate expires",
        days,
        params["min_days"],
        unit="days",
        evidence={**edge_evidence, "endpoint": where, "certificate": cert.evidence()},
    )


@pytest.mark.requirement("TLS-PROTOCOLS")
def test_only_modern_protocols_and_no_weak_suites(endpoints, probe_timeout, params, expect, edge_evidence):
    scans = {str(e): scan_protocols(e, probe_timeout) for e in endpoints}
    allowed = set(params["allowed"])
    evidence = {**edge_evidence, "scans": {w: s.evidence() for w, s in scans.items()}}
    offered = {where: scan.protocols for where, scan in scans.items()}
    expect.true(
        "protocol versions accepted",
        all(set(p) <= allowed and p for p in offered.values()),
        observed=offered,
        expected=f"some of {listing(sorted(allowed))} and nothing older",
        evidence=evidence,
    )
    weak = {w: s.weak_suites(params["weak_cipher_markers"], params["min_cipher_bits"]) for w, s in scans.items()}
    weak = {w: suites for w, suites in weak.items() if suites}
    expect.true(
        "weak cipher suites accepted",
        not weak,
        observed=weak or "none",
        expected=f"none (no {', '.join(params['weak_cipher_markers'])}, at least {params['min_cipher_bits']} bits)",
        evidence=evidence,
    )


@pytest.mark.requirement("TLS-KEY-STRENGTH")
def test_keys_and_signatures_are_strong(endpoints, probe_timeout, params, expect, edge_evidence):
    served = chains(endpoints, probe_timeout)
    minimum = {"RSA": params["min_rsa_bits"], "EC": params["min_ec_bits"], "DSA": 10**6}
    weak_hashes = {h.lower() for h in params["weak_signature_hashes"]}
    weak: dict[str, list[str]] = {}
    for where, chain in served.items():
        for cert in chain.certificates:
            if cert.key.bits < minimum.get(cert.key.type, 0):
                weak.setdefault(where, []).append(f"{cert.subject}: {cert.key}")
            if (cert.signature_hash or "").lower() in weak_hashes:
                weak.setdefault(where, []).append(f"{cert.subject}: signed with {cert.signature_hash}")
    expect.true(
        "keys and signature hashes of the served certificates",
        not weak,
        observed=weak or {w: [f"{c.key}, {c.signature_hash}" for c in ch.certificates] for w, ch in served.items()},
        expected=f"RSA ≥ {params['min_rsa_bits']} bits, EC ≥ {params['min_ec_bits']} bits, "
        f"no {listing(sorted(weak_hashes))} signature hash",
        evidence={**edge_evidence, "served": {w: c.evidence() for w, c in served.items()}},
    )


@pytest.mark.requirement("TLS-HSTS")
def test_hsts_and_plain_http_redirects(endpoints, targets, probe_timeout, params, expect, edge_evidence):
    headers = {str(e): hsts(e, probe_timeout) for e in endpoints}
    expect.true(
        "Strict-Transport-Security max-age",
        all(h.max_age is not None and h.max_age >= params["min_max_age"] for h in headers.values()),
        observed={where: h.header or "absent" for where, h in headers.items()},
        expected=f"max-age ≥ {params['min_max_age']} s ({number(params['min_max_age'] / 86400)} days)",
        evidence={**edge_evidence, "https": {w: h.evidence for w, h in headers.items()}},
    )
    http_port = int(targets.get("edge.http_port") or 80)
    redirects = {e.host: http_redirect(e.host, e.address, http_port, probe_timeout) for e in endpoints}
    expect.true(
        "plain HTTP redirects to HTTPS",
        all(r.to_https for r in redirects.values()),
        observed={host: f"{r.status} {r.location or ''}".strip() for host, r in redirects.items()},
        expected="301/308 to https://",
        evidence={
            "http": {h: r.evidence for h, r in redirects.items()},
            **targets.evidence("edge.http_port"),
        },  # fmt: skip
    )
