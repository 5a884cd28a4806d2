"""The service half of the sandbox: PKI, PostgreSQL, Redis, Prefect, ingress, DNS, SMTP and OIDC.

One module per component; each is registered in ``readiness.sandbox.registry``. Names shared by
several components (the sandbox domain, host names, where certificates live) are in ``common``.
"""
