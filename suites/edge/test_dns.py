"""DNS: the public names lead to the load balancer, and CAA lets the certificate's CA issue for them."""

from __future__ import annotations

import pytest

from readiness.core.humanize import listing
from readiness.probes.tls import served_chain


@pytest.mark.requirement("DNS-RESOLVES")
def test_public_names_resolve_to_the_load_balancer(public_names, resolver, targets, expect):
    load_balancer = resolver.addresses_of(str(targets.require("edge.lb_address")))
    resolved = {name: resolver.addresses(name) for name in public_names}
    elsewhere = {
        name: r.addresses for name, r in resolved.items() if not set(r.addresses) <= set(load_balancer.addresses)
    }
    expect.true(
        "public names resolve only to the load balancer",
        not elsewhere,
        observed={name: r.addresses for name, r in resolved.items()},
        expected=f"addresses within {listing(sorted(load_balancer.addresses))} (the load balancer)",
        evidence={
            "names": {name: r.evidence for name, r in resolved.items()},
            "load_balancer": load_balancer.evidence,
            "targets": targets.evidence("edge.lb_address", "edge.resolver", "edge.api_host", "edge.ui_host"),
        },
    )


@pytest.mark.requirement("DNS-CAA")
def test_caa_allows_the_issuer_of_the_served_certificate(public_names, endpoints, resolver, targets, params, expect,
                                                        probe_timeout):  # fmt: skip
    policies = {name: resolver.caa(name) for name in public_names}
    evidence = {"caa": {name: p.evidence for name, p in policies.items()}}
    if not any(p.present for p in policies.values()):
        expect.true("CAA records", True, observed="none up to the root", expected="none, or naming the issuer",
                    evidence=evidence)  # fmt: skip
        return
    issuer = targets.get("edge.caa_issuer")
    source = targets.source("edge.caa_issuer")
    if not issuer:
        leaf = served_chain(endpoints[0], probe_timeout).leaf
        issuer = params["issuer_identifiers"].get(leaf.issuer_organization or "")
        source = f"profile issuer_identifiers[{leaf.issuer_organization!r}] (issuer of the served leaf: {leaf.issuer})"
        if not issuer:
            pytest.skip(
                f"{targets.missing('edge.caa_issuer')}; or add the leaf's issuer organization "
                f"{leaf.issuer_organization!r} to DNS-CAA params.issuer_identifiers"
            )
    evidence["issuer_identifier"] = {"value": issuer, "source": source}
    refused = {name: p.issuers() for name, p in policies.items() if not p.allows(str(issuer))}
    expect.true(
        f"CAA allows {issuer} to issue",
        not refused,
        observed={name: p.issuers() or "no CAA" for name, p in policies.items()},
        expected=f"no CAA, or an issue record naming {issuer}",
        evidence=evidence,
    )
